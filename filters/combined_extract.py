"""The default extractor: resiliparse first; the page's cleaned visible text or trafilatura where that looks poor.

Resiliparse is about 8x faster than trafilatura but trails it by 3 word-F1 points on WCXB dev, and
nearly all of that gap sits on the pages where its main-content heuristics kept only a small part of
the page (a product grid, a listing, a short page). Most of those pages need no trafilatura: the
page's visible text with link-dense lines (menus, grids of links) and lines under `min_line_words`
words removed scores as well as trafilatura there, at the cost of one more pass over the parsed tree
(docs/QUALITY.md). So the page is parsed once and two texts are taken from the tree, resiliparse's
main content and that cleaned visible text; then:

1. main text under `min_main_share` of the cleaned text's words: resiliparse missed the content.
   The cleaned text is taken if it has `min_clean_words` to `max_clean_words` words; a long one
   (a big page, where trafilatura finds the content better) goes to trafilatura, a short one keeps
   resiliparse's text.
2. main text under `min_main_words` words: trafilatura.
3. otherwise resiliparse's main text.

Resiliparse's texts then lose repeated lines of `min_repeat_words` words or more (menus, teasers,
"Reply" rows: +0.005 word-F1). Trafilatura's text is taken unless it kept less than
`min_fallback_share` of resiliparse's words. Thresholds were tuned on the even WCXB ids (odd ids
held out); about 10% of pages go to trafilatura. Routing product pages (schema.org `Product`) to
trafilatura too gained 0.001 word-F1 for 5 more points of trafilatura share, so no page-type hints.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import ClassVar

from curate.filters.extraction import HtmlExtract

TAG = re.compile(r"<[^>]+>")
LINK = re.compile(r"<a\b[^>]*>(.*?)</a>", re.S)


def words(markup: str) -> int:
    return len(TAG.sub(" ", markup).split())


def cleaned_visible(minimal_html: str, min_line_words: int = 5, max_link_share: float = 0.5) -> str:
    """The visible text without link-dense or short lines, from resiliparse's `minimal_html` output."""
    kept = []
    for line in minimal_html.split("\n"):
        n = words(line)
        if n < min_line_words:
            continue
        linked = sum(words(a) for a in LINK.findall(line)) if "<a" in line else 0
        if linked < max_link_share * n:
            kept.append(line)
    return html_lib.unescape(TAG.sub("", "\n".join(kept)))


def drop_repeated_lines(text: str, min_words: int = 3) -> str:
    """`text` with each line of at least `min_words` words kept once (menus, teasers and "Reply" rows repeat)."""
    seen, kept = set(), []
    for line in text.split("\n"):
        key = line.strip()
        if key in seen and len(key.split()) >= min_words:  # words are counted only for a line seen before
            continue
        seen.add(key)
        kept.append(line)
    return "\n".join(kept)


class CombinedExtract(HtmlExtract):
    """Extract main text with resiliparse; cleaned visible text or trafilatura where resiliparse's looks poor.

    Records `extractor` (which candidate produced the text: `resiliparse`, `visible` for the page's
    visible text without link-dense and short lines, or `trafilatura`), `main_ratio` (resiliparse
    main-content words / visible words) and `fallback` (trafilatura ran). The trafilatura fallback
    uses trafilatura's own defaults (comments and tables kept, no precision bias), which score best
    on WCXB. `timeout` is seconds per page for all of it together; `max_bytes` skips larger pages
    before parsing.
    Example: `- extract@1: {min_main_share: 0.43, min_main_words: 200, timeout: 1}`.
    """

    name = "⛏ curate Extract"
    signals: ClassVar[dict[str, str]] = {**HtmlExtract.signals, "main_ratio": "float64", "fallback": "bool"}
    _requires_dependencies = ["trafilatura", "resiliparse"]

    def __init__(
        self,
        min_main_share: float = 0.43,
        min_clean_words: int = 175,
        max_clean_words: int = 1200,
        min_main_words: int = 200,
        min_line_words: int = 5,
        min_repeat_words: int = 3,
        min_fallback_share: float = 0.3,
        favour_precision: bool = False,
        timeout: float = 1.0,
        max_bytes: int = 10_000_000,
        emit_dropped: bool = False,
    ):
        super().__init__(timeout=timeout, max_bytes=max_bytes, emit_dropped=emit_dropped)
        self.min_main_share = min_main_share
        self.min_clean_words = min_clean_words
        self.max_clean_words = max_clean_words
        self.min_main_words = min_main_words
        self.min_line_words = min_line_words
        self.min_repeat_words = min_repeat_words
        self.min_fallback_share = min_fallback_share
        self.favour_precision = favour_precision

    def extract_page(self, html: str) -> tuple[str, dict]:
        text, signals = self.choose(html)
        if signals["extractor"] != "trafilatura":  # resiliparse's texts repeat menus and teasers
            text = drop_repeated_lines(text, self.min_repeat_words)
        return text, signals

    def choose(self, html: str) -> tuple[str, dict]:
        """The text of the candidate the rule picks (module docstring), and the signals."""
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree

        tree = HTMLTree.parse(html)
        main = extract_plain_text(tree, main_content=True, alt_texts=False)
        minimal = extract_plain_text(tree, main_content=False, alt_texts=False, preserve_formatting="minimal_html",
                                     links=True)
        main_words, visible_words = len(main.split()), words(minimal)
        ratio = min(1.0, main_words / visible_words) if visible_words else 1.0
        signals = {"extractor": "resiliparse", "main_ratio": round(ratio, 4), "fallback": False}
        if ratio < self.min_main_share:  # else main text is over that share of the (longer) visible text too
            clean = cleaned_visible(minimal, self.min_line_words)
            clean_words = len(clean.split())
            if main_words < self.min_main_share * (clean_words + 1):  # resiliparse missed the content
                if clean_words >= self.max_clean_words:
                    return self.fallback(self.trafilatura(html) or "", main, signals, main_words)
                if clean_words >= self.min_clean_words:
                    return clean, {**signals, "extractor": "visible"}
                return main, signals
        if main_words < self.min_main_words:
            return self.fallback(self.trafilatura(html) or "", main, signals, main_words)
        return main, signals

    def trafilatura(self, html: str) -> str | None:
        import trafilatura

        return trafilatura.extract(html, favor_precision=self.favour_precision)

    def fallback(self, text: str, main: str, signals: dict, main_words: int) -> tuple[str, dict]:
        signals = {**signals, "fallback": True}
        if len(text.split()) >= self.min_fallback_share * main_words:
            return text, {**signals, "extractor": "trafilatura"}
        return main, signals
