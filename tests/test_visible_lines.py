"""The visible-line candidate (filters/visible_lines.py): its features describe each line as documented, the
compiled walk of the shipped line model scores as the numpy walk does, and lines over the threshold are kept."""

import html
import re

import numpy as np
import pytest

from curate.filters.selector_model import load
from curate.filters.visible_lines import FEATURES, cleaned_text, kept_text, visible_lines

MINIMAL = "\n".join([
    '<ul><li><a href="/">Home</a></li>',
    "<li><a href='/news'>News</a> and more</li></ul>",
    "<h1>The bridges of the river town</h1>",
    "<p>The history of the river town is told in its bridges and its mills, and in its people.</p>",
    "<p>Read more:</p>",
    "  ",
    "<p>The history of the river town is told in its bridges and its mills, and in its people.</p>",
    "Copyright 2024 &amp; after",
])
MAIN = "The bridges of the river town\n\nThe history of the river town is told in its bridges and its mills, and in its people."


def column(X: np.ndarray, name: str) -> list:
    return X[:, FEATURES.index(name)].tolist()


def test_each_visible_line_is_described_as_documented():
    lines, X, source = visible_lines(MAIN, MINIMAL)
    assert lines[0] == "Home" and lines[-1] == "Copyright 2024 &amp; after" and len(lines) == 7
    assert X.shape == (7, len(FEATURES))
    assert column(X, "words") == pytest.approx(np.log1p([1, 3, 6, 18, 2, 18, 4]).tolist())
    assert column(X, "link_share") == pytest.approx([1, 1 / 3, 0, 0, 0, 0, 0])
    assert column(X, "in_main") == [0, 0, 1, 1, 0, 1, 0]
    assert column(X, "li") == [0, 1, 0, 0, 0, 0, 0] and column(X, "heading") == [0, 0, 1, 0, 0, 0, 0]
    assert column(X, "terminal") == [0, 0, 0, 1, 0, 1, 0] and column(X, "colon") == [0, 0, 0, 0, 1, 0, 0]
    assert column(X, "repeats") == pytest.approx(np.log1p([0, 0, 0, 1, 0, 1, 0]).tolist())
    assert column(X, "main_distance") == pytest.approx(np.log1p([2, 1, 0, 0, 1, 0, 1]).tolist())
    assert column(X, "prev_in_main")[:4] == [-1, 0, 0, 1] and column(X, "next_in_main")[-2:] == [0, -1]
    assert len(set(column(X, "page_lines"))) == 1
    assert visible_lines(MAIN, "")[1].shape == (0, len(FEATURES))


def test_lines_over_the_threshold_are_kept_with_entities_decoded():
    lines, _, _ = visible_lines(MAIN, MINIMAL)
    scores = np.array([-1, -1, 2, 2, -1, 2, 0.5])
    assert kept_text(lines, scores, 0.0).split("\n") == [lines[2], lines[3], lines[5], "Copyright 2024 & after"]
    assert kept_text(lines, scores, 5.0) == ""


def numpy_walk(model, X: np.ndarray) -> np.ndarray:
    """Every tree walked level by level with numpy, the reference for the compiled walks."""
    node = np.broadcast_to(model.roots, (len(X), len(model.roots)))
    rows = np.arange(len(X))[:, None]
    for _ in range(model.depth):
        node = np.where(X[rows, model.feature[node]] <= model.threshold[node], model.left[node], model.right[node])
    return model.baselines[0] + model.value[node].sum(1)


def test_the_compiled_walks_score_as_the_numpy_walk_does():
    model = load(None)["lines"]
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 4, size=(200, len(model.features)))
    assert model.features == list(FEATURES)
    reference = numpy_walk(model, X)
    assert model.predict_rows(X) == pytest.approx(reference, abs=1e-9)
    assert [model.predict(dict(zip(model.features, x))) for x in X] == pytest.approx(reference, abs=1e-9)
    assert model.predict_rows(np.zeros((0, len(FEATURES)))).shape == (0,)


TAG, LINK, BLOCK = re.compile(r"<[^>]+>"), re.compile(r"<a\b[^>]*>(.*?)</a>", re.S), re.compile(r"^\s*<(h[1-6]|li|p|pre)\b")


def regex_lines(minimal: str) -> tuple[list[str], list[float], list[float], list[str]]:
    """The reference the compiled scan replaces: (texts, words, link shares, block tags) by regular expressions."""
    texts, words, shares, tags = [], [], [], []
    for raw in minimal.split("\n"):
        text = " ".join(TAG.sub("", raw).split())
        if not text:
            continue
        linked = sum(len(TAG.sub("", a).split()) for a in LINK.findall(raw))
        block = BLOCK.match(raw)
        texts.append(text)
        words.append(text.count(" ") + 1)
        shares.append(min(1.0, linked / words[-1]))
        tags.append(block.group(1)[0] if block else "")
    return texts, words, shares, tags


def assert_scan_matches_the_regexes(minimal: str) -> None:
    texts, X, source = visible_lines("", minimal)
    reference, words, shares, tags = regex_lines(minimal)
    # cleaned_visible's rule, with words counted as the scan counts them (a tag inside a word does not split it)
    kept = [raw for raw in minimal.split("\n") if (n := len(TAG.sub("", raw).split())) >= 5
            and sum(len(TAG.sub("", a).split()) for a in LINK.findall(raw)) < 0.5 * n]
    assert cleaned_text(minimal, X, source) == html.unescape(TAG.sub("", "\n".join(kept)))
    assert texts == reference and np.expm1(X[:, 0]).round().tolist() == words
    assert X[:, 4].tolist() == pytest.approx(shares)
    assert [{1: "l", 2: "h", 3: "p"}.get(k, "") for k in (X[:, 6:9] @ [1, 2, 3]).astype(int)] == tags
    assert X[:, 1].tolist() == pytest.approx(np.log1p([len(t) for t in texts]).tolist())
    raw = minimal.split("\n")
    assert [" ".join(TAG.sub("", raw[i]).split()) for i in source] == texts


@pytest.mark.parametrize("minimal", [
    "<p>plain  text\there</p>",
    "a < b and c > d, <> and <<b>bold</b>",
    "<li><a href='/x'>one two</a> three <a>four</a></li>",
    "<a href=x>open link without an end",
    "<a>x</a><a>y <b>z</b></a> tail </a> <abbr>not a link</abbr> <a\tclass=k>w</a>",
    "  <h2 id=t>Title”</h2>\n\n<pre>code:</pre>\n<param>no</param>\n<p1>no</p1>\n<h7>no</h7>\n<LI>upper</LI>",
    "nbsp\u00a0between\u3000ideographic\u2009thin\u200bzero-width \u0085next\x1cfs",
    "café “quoted”\n\n\n<p>ünïcödé déjà vu.</p>\r\n<p>emoji 🙂 end!</p>",
    "<p>tag <span\nacross> lines</p>",
    "",
])
def test_the_compiled_scan_reads_lines_as_the_regular_expressions_do(minimal):
    assert_scan_matches_the_regexes(minimal)


def test_a_link_s_text_stays_on_its_word_and_its_sentence():
    texts, X, _ = visible_lines("", '<p>A letter dated <a href="/x">last week</a>, by <a>@</a><a href="/c">chris</a>.</p>')
    assert texts == ["A letter dated last week, by @chris."]
    # 7 words; each link's words as its own text splits: "last", "week"; "@"; "chris"
    assert np.expm1(X[0, 0]).round() == 7 and X[0, 4] == pytest.approx(4 / 7)


def test_the_compiled_scan_matches_the_regular_expressions_on_real_pages(shared):
    from resiliparse.extract.html2text import extract_plain_text

    from curate.tools.evaluate_extract import load_sets

    pages = load_sets(shared / "html_gold/cleaning_sets/cleaning_sets.tar.xz", 40)
    for page in (p for ps in pages.values() for p in ps):
        assert_scan_matches_the_regexes(extract_plain_text(page["html"], preserve_formatting="minimal_html", links=True))
