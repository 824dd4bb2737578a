"""The default extractor: per page, resiliparse's texts or trafilatura's, as a small learned model chooses.

No single extractor is best on every kind of page: on the shared gold sets resiliparse wins on
general pages (CleanEval), trafilatura on news (Dragnet) and its precision setting on news portals
(CleanPortalEval), and the per-page best of them beats every one by 5 or more word-F1 points
(docs/QUALITY.md). So five cheap candidates are made: from one resiliparse parse, its main content,
the same without repeated lines, and the page's visible text without link-dense and short lines;
the visible lines that a small line model judges content (filters/visible_lines.py); and, from one
compiled pass over the HTML, the repeated region, the container whose like children hold the most
text (filters/regions.py: listings, collections, forums). Readers' comments are not the page's text
(FineWeb's trafilatura setting leaves them out, and so do the gold texts): the sections a page names
as comments are cut from the parse before its texts are read, and trafilatura runs without them.
Then gradient-boosted trees over cheap features of the page and of those texts
(`filters/selector_model.py`; each model is the mean of five fits on different four-fifths of the
tuning pages):

1. predict each candidate's word-F1 and take the best cheap one;
2. predict how much trafilatura would gain over it, and which of its settings (`fast`, or `fast`
   with `favor_precision`) suits the page; trafilatura runs only where the predicted gain is over
   the model's `gate` (about one WCXB page in twelve: the cost control, since trafilatura costs three
   times all the cheap candidates together);
3. where it ran, a last model that also sees how its text and resiliparse's agree decides which to keep.

The cheap part and trafilatura each run under a CPU budget of their own in the stage's sandbox: a page
whose trafilatura runs over, crashes or fails keeps its cheap text.

The model was fitted only on the tuning split (even page numbers) of WCXB dev and the four cleaning
sets by `python -m curate.tools.extract_selector_train`; its card (in the model file) gives the
held-out figures. `extract@1` (the hand-tuned rule) stays available for old recipes.
"""

from __future__ import annotations

import re
from typing import ClassVar

import numpy as np

from curate.filters.combined_extract import drop_repeated_lines
from curate.filters.extraction import WARMUP, HtmlExtract
from curate.filters.regions import repeated_region
from curate.filters.selector_model import agreement_features, lines_features, load, page_features, region_features
from curate.filters.visible_lines import cleaned_text, kept_text, visible_lines

CHEAP = ("resiliparse", "resiliparse_dedup", "visible", "region", "lines")
VARIANTS = ({"fast": True, "include_comments": False},
            {"fast": True, "favor_precision": True, "include_comments": False})
VARIANT_NAMES = ("trafilatura", "trafilatura_precision")


# Readers' comments are not the page's text (datatrove's and FineWeb's trafilatura leaves them out; so do
# the gold texts: Dragnet's marks them off, CleanPortalEval's leaves them out). Most sites name their
# comment sections so: WordPress's `comments` and `commentlist`, Disqus's `disqus_thread`'s container, ...
COMMENT_SECTIONS = ", ".join(f"{tag}[{attr}*=comment i]" for tag in ("div", "section", "ol", "ul", "aside")
                             for attr in ("id", "class"))
COMMENT_NAME = re.compile(r"comment(?!ary)", re.IGNORECASE)


def parse_without_titles(html: str):
    """resiliparse's tree of the page without its `<title>`: a page's title names it; it is not its text.
    Where anything stands before `<html>` (a PHP warning in a crawled page, the `<text id=...>` wrapper of
    CleanEval-format sets), the parser opens the body there and the `<title>` lands in it, and resiliparse
    would read it as the page's first line."""
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    for title in tree.document.query_selector_all("title"):
        title.decompose()
    return tree


def all_nodes(tree, selector: str) -> list:
    """The elements that match `selector`, as a list. A `DOMCollection` finds its items afresh for each index,
    so iterating one takes time quadratic in its size (18 s for the 1,822 comment elements of a 900 KB
    Dragnet page: the page timed out); a slice of it is built in one pass (4 ms)."""
    found = tree.document.query_selector_all(selector)
    return list(found[0:len(found)])


def cut_comment_sections(tree) -> tuple[float, int]:
    """Remove the outermost elements named as comment sections, whatever share of the page they hold (a blog
    post under 2,400 comments keeps only the post); (their share of the body's text, their characters).
    `commentary` names an article (an op-ed), not its comments."""
    body = tree.body
    total = len(body.text) if body is not None else 0
    matched = {node for node in all_nodes(tree, COMMENT_SECTIONS) if COMMENT_NAME.search(f"{node.id} {node.class_name}")}
    outermost = []
    for node in matched:  # every walk before any removal: a removed element's descendants are freed
        parent = node.parent
        while parent is not None and parent not in matched:
            parent = parent.parent
        if parent is None:
            outermost.append((node, len(node.text)))
    for node, _ in outermost:
        node.decompose()
    cut = sum(size for _, size in outermost)
    return (cut / total if total else 0.0), cut


def page_parts(html: str) -> dict:
    """Everything the cheap candidates need that no model decides: resiliparse's texts from one parse, the
    visible lines and their features, the repeated region, and the page features."""
    from resiliparse.extract.html2text import extract_plain_text

    tree = parse_without_titles(html)
    comment_share, cut = cut_comment_sections(tree)
    main = extract_plain_text(tree, main_content=True, alt_texts=False)
    if cut and len(main) < cut / 100:  # the sections were the page's text (a forum's posts): keep them
        tree, comment_share = parse_without_titles(html), 0.0
        main = extract_plain_text(tree, main_content=True, alt_texts=False)
    minimal = extract_plain_text(tree, main_content=False, alt_texts=False, preserve_formatting="minimal_html",
                                 links=True)
    lines, line_features, source = visible_lines(main, minimal)
    clean = cleaned_text(minimal, line_features, source)
    main_dedup = drop_repeated_lines(main)
    visible = drop_repeated_lines(clean)
    text, members, share, linked, nodes = repeated_region(html)
    words = np.expm1(line_features[:, 0])
    visible_words, linked_words = words.sum(), (words * line_features[:, 4]).sum()
    return {"texts": {"resiliparse": main, "resiliparse_dedup": main_dedup, "visible": visible,
                      "region": drop_repeated_lines(text)},
            "features": page_features(tree, len(html), main, clean, main_dedup, visible_words, linked_words)
            | {"comment_share": comment_share},
            "clean": clean, "region": (nodes, members, share, linked), "lines": lines, "line_features": line_features}


def with_lines(parts: dict, scores, threshold: float) -> tuple[dict[str, str], dict[str, float]]:
    """The cheap candidates and page features, once the line model has scored `parts["lines"]`."""
    kept = drop_repeated_lines(kept_text(parts["lines"], scores, threshold))
    main_words, clean_words = (set(text.lower().split()) for text in (parts["texts"]["resiliparse"], parts["clean"]))
    features = parts["features"] | region_features(*parts["region"], main_words, clean_words)
    return parts["texts"] | {"lines": kept}, features | lines_features(kept, main_words, clean_words)


def cheap_candidates(html: str, model: str | None = None) -> tuple[dict[str, str], dict[str, float]]:
    """The five cheap texts (resiliparse's main text with and without repeated lines, the cleaned visible
    text, the repeated region, the visible lines the line model keeps) and the page features."""
    selector = load(model)
    parts = page_parts(html)
    return with_lines(parts, selector["lines"].predict_rows(parts["line_features"]), selector["lines_threshold"])


def trafilatura_text(html: str, variant: int) -> str:
    import trafilatura

    return trafilatura.extract(html, **VARIANTS[variant]) or ""


class SelectExtract(HtmlExtract):
    """Extract main text with resiliparse or trafilatura, chosen per page by a small learned model.

    Records `extractor` (`resiliparse`, `resiliparse_dedup`, `visible`, `region`, `lines`, `trafilatura`
    or `trafilatura_precision`), `predicted_gain` (the word-F1 trafilatura was predicted to add; it ran
    where this is over `gate`), `margin` (where trafilatura ran: the predicted F1 gain of keeping its
    text, positive if kept) and `trafilatura_fault` (`timeout`, `crashed` or `error` where trafilatura
    ran and gave nothing: the page keeps its cheap text). `gate`: null takes the model's; lower runs
    trafilatura on more pages (slower, better on news), `-1` on every page. `model`: a selector file
    trained by `curate.tools.extract_selector_train` (null: the shipped one). `timeout` is CPU seconds
    per page for the cheap candidates, `trafilatura_timeout` for trafilatura where it runs (null: as
    many as `timeout`); `max_bytes` skips larger pages before parsing.
    Example: `- extract: {gate: 0.02, timeout: 1}`.
    """

    name = "⛏ curate Extract"
    signals: ClassVar[dict[str, str]] = {**HtmlExtract.signals, "predicted_gain": "float64", "margin": "float64",
                                         "trafilatura_fault": "string"}
    _requires_dependencies = ["trafilatura", "resiliparse"]

    def __init__(self, gate: float | None = None, model: str | None = None, timeout: float = 1.0,
                 trafilatura_timeout: float | None = None, max_bytes: int = 10_000_000, emit_dropped: bool = False):
        super().__init__(timeout=timeout, max_bytes=max_bytes, emit_dropped=emit_dropped)
        self.trafilatura_timeout = timeout if trafilatura_timeout is None else trafilatura_timeout
        self.model_path = model
        self.gate = load(model)["gate"] if gate is None else gate

    def warm_up(self) -> None:
        super().warm_up()
        trafilatura_text(WARMUP, 0)  # its import alone is 0.16 s of CPU

    def choose_cheap(self, html: str) -> tuple[str, dict, tuple | None]:
        """The best cheap text and its signals, and where trafilatura is to run, what it needs (else None):
        its setting, the page features and resiliparse's text that its text is weighed against."""
        selector = load(self.model_path)
        texts, features = cheap_candidates(html, self.model_path)
        predicted = selector["page"].predict_all(features)
        best = max(CHEAP, key=lambda name: predicted[f"f1:{name}"])
        gain = predicted["gain"]
        signals = {"extractor": best, "predicted_gain": round(gain, 4), "margin": None, "trafilatura_fault": None}
        if gain <= self.gate:
            return texts[best], signals, None
        variant = int(predicted[f"f1:{VARIANT_NAMES[1]}"] > predicted[f"f1:{VARIANT_NAMES[0]}"])
        return texts[best], signals, (variant, features, texts["resiliparse_dedup"])

    def run_trafilatura(self, html: str, variant: int, features: dict, resiliparse_text: str) -> tuple[str, float]:
        """trafilatura's text with setting `variant`, and the predicted word-F1 gain of keeping it."""
        text = trafilatura_text(html, variant)
        keep = load(self.model_path)["keep"]
        return text, keep.predict(features | agreement_features(resiliparse_text, text, variant))

    @staticmethod
    def settle(text: str, signals: dict, variant: int, trafilatura: tuple[str, float]) -> tuple[str, dict]:
        """The cheap `text` or trafilatura's, as the keep model's margin says."""
        other, margin = trafilatura
        signals = signals | {"margin": round(margin, 4)}
        if margin > 0 and other.strip():
            return other, signals | {"extractor": VARIANT_NAMES[variant]}
        return text, signals

    def extract_page(self, html: str) -> tuple[str, dict]:
        """The whole choice in this process, without a time limit (benchmarks and tests call it)."""
        text, signals, job = self.choose_cheap(html)
        if job is None:
            return text, signals
        return self.settle(text, signals, job[0], self.run_trafilatura(html, *job))

    def extract_in_sandbox(self, html: str) -> tuple[str, dict]:
        """The cheap candidates, then trafilatura, each under its own budget in the sandbox: a page whose
        trafilatura runs over its time, crashes or fails keeps its cheap text, and `trafilatura_fault` says why."""
        text, signals, job = self.sandboxed("choose_cheap", html)
        if job is None:
            return text, signals
        try:
            trafilatura = self.sandboxed("run_trafilatura", html, *job, timeout=self.trafilatura_timeout)
            return self.settle(text, signals, job[0], trafilatura)
        except TimeoutError:
            fault = "timeout"
        except EOFError:
            fault = "crashed"
        except Exception:
            fault = "error"
        return text, signals | {"trafilatura_fault": fault}
