"""The resiliparse, `extract@1` and default (`extract`, the learned selector) stages: outcomes, which candidate the default takes, bounded cost,
and every real crawl file of ../shared/data/warc through extraction with each outcome counted."""

import time
from collections import Counter
from pathlib import Path

import pytest

from curate.core.step import DROP_REASON, is_dropped
from curate.filters.combined_extract import CombinedExtract, cleaned_visible, drop_repeated_lines
from curate.filters.resiliparse_extract import ResiliparseExtract
from curate.filters.select_extract import SelectExtract
from curate.io.readers import WarcReader
from tests.test_extract import ARTICLE, page, run

LISTING = ("<html><body><nav>" + "".join(f"<a href='/c{i}'>Category number {i}</a> " for i in range(300)) + "</nav>"
           "<div class='grid'>" + "".join(f"<div><a href='/p{i}'>Walnut chair model {i}</a></div>" for i in range(60))
           + "</div><article><p>" + "A short note on the chairs we make in our workshop by hand. " * 3
           + "</p></article></body></html>")
CRAWL_SUFFIXES = (".warc", ".warc.gz", ".arc.gz", ".arc", ".wet.gz", ".wat.gz")


@pytest.mark.parametrize("step", [ResiliparseExtract, CombinedExtract, SelectExtract])
def test_every_outcome_is_a_reason(step):
    docs = [page("", "image/png"), page(ARTICLE, read__payload_bytes=50_000_000),
            page("<html><head><title>t</title></head><body>  </body></html>"), page(ARTICLE)]
    out = run(step(emit_dropped=True), docs)
    assert [d.metadata.get(DROP_REASON) for d in out] == ["extract:non_html", "extract:too_large", "extract:empty", None]
    assert "bridges and its mills" in out[-1].text and "<p>" not in out[-1].text


def paragraphs(n: int) -> str:
    return "".join(f"<p>Paragraph {i} tells how the mill on the river was rebuilt after the flood of that year, with "
                   "stone from the quarry and oak from the hills above the town.</p>" for i in range(n))


def test_the_default_takes_resiliparse_on_an_article_and_records_it():
    long_article = ARTICLE.replace("</article>", paragraphs(8) + "</article>")
    (doc,) = run(CombinedExtract(emit_dropped=True), [page(long_article)])
    assert doc.metadata["extract__extractor"] == "resiliparse" and doc.metadata["extract__fallback"] is False
    assert doc.metadata["extract__main_ratio"] >= 0.4 and "Copyright" not in doc.text
    assert doc.text.count("bridges and its mills") == 1  # ARTICLE repeats its paragraph six times


def test_the_default_takes_the_cleaned_visible_text_where_resiliparse_missed_the_content():
    missed = ("<html><body><nav>" + "".join(f"<a href='/c{i}'>Category number {i}</a> " for i in range(50))
              + "</nav><main><p>Short intro.</p></main><div class='sidebar'>" + paragraphs(12) + "</div></body></html>")
    (doc,) = run(CombinedExtract(emit_dropped=True), [page(missed)])
    assert doc.metadata["extract__extractor"] == "visible" and doc.metadata["extract__fallback"] is False
    assert doc.metadata["extract__main_ratio"] < 0.1
    assert "Paragraph 11 tells how the mill" in doc.text and "Category number" not in doc.text and "<p>" not in doc.text


def test_the_default_falls_back_to_trafilatura_when_main_text_is_short():
    short = ("<html><body><nav>" + "".join(f"<a href='/c{i}'>Category {i}</a> " for i in range(20)) + "</nav>"
             "<article><h1>The mill</h1>" + paragraphs(3) + "</article></body></html>")
    (doc,) = run(CombinedExtract(emit_dropped=True), [page(short)])
    assert doc.metadata["extract__fallback"] is True and doc.metadata["extract__extractor"] == "trafilatura"
    assert "Paragraph 2 tells how" in doc.text and "Category 3" not in doc.text
    (never,) = run(CombinedExtract(min_main_words=0, emit_dropped=True), [page(short)])
    assert never.metadata["extract__fallback"] is False and never.metadata["extract__extractor"] == "resiliparse"


def test_cleaned_visible_text_drops_link_dense_and_short_lines():
    minimal = ("<ul>\n  <li><a href=\"/a\">Home</a></li>\n</ul>\n<p>See <a href=\"/x\">our three chairs</a> today.</p>\n"
               "<p>A walnut chair &amp; a table, made by hand in the workshop.</p>\n<p>Read more</p>")
    assert cleaned_visible(minimal) == "A walnut chair & a table, made by hand in the workshop."


def test_repeated_lines_are_kept_once_but_short_ones_stay():
    text = "Add to cart now\n}\nA chair of walnut.\nAdd to cart now\n}\nReply\nReply"
    assert drop_repeated_lines(text) == "Add to cart now\n}\nA chair of walnut.\n}\nReply\nReply"


@pytest.mark.parametrize("step", [CombinedExtract, ResiliparseExtract])
def test_a_page_built_to_hang_costs_the_timeout_and_is_recorded(step):
    nested = "<html><body>" + "<div>" * 50000 + "word " * 20000 + "</div>" * 50000 + "</body></html>"
    start = time.monotonic()
    (doc,) = run(step(timeout=0.5, emit_dropped=True), [page(nested)])
    assert doc.metadata[DROP_REASON] == "extract:timeout"
    assert time.monotonic() - start < 0.5 + 2.0  # the timeout, plus starting and killing the sandbox


def test_a_50_mb_page_is_too_large_without_being_parsed():
    huge = "<html><body>" + "<p>word word word word</p>" * 2_000_000 + "</body></html>"  # 52 MB
    start = time.monotonic()
    (doc,) = run(CombinedExtract(timeout=0.5, emit_dropped=True), [page(huge)])
    assert doc.metadata[DROP_REASON] == "extract:too_large" and time.monotonic() - start < 0.5


def test_every_real_crawl_file_goes_through_extraction_with_each_outcome_counted(shared):
    files = sorted(p for p in (shared / "warc").rglob("*") if p.name.endswith(CRAWL_SUFFIXES))
    assert any(p.name.endswith(".arc.gz") for p in files) and len(files) >= 12
    outcomes = Counter()
    for path in files:
        docs = WarcReader(str(path.parent), glob_pattern=path.name).run()
        for doc in SelectExtract(emit_dropped=True).run(docs):  # the default
            reason = doc.metadata.get(DROP_REASON)
            outcomes[reason or ("extracted" if doc.metadata.get("read__warc_type") == "response" else "text")] += 1
            if not is_dropped(doc):
                assert doc.text.strip() and "<html" not in doc.text[:200].lower()
    assert outcomes["extracted"] >= 50 and outcomes["extract:non_html"] >= 20
    assert set(outcomes) <= {"extracted", "text", "extract:non_html", "extract:too_large", "extract:timeout",
                             "extract:empty", "extract:crashed", "extract:error", "read:decode_error",
                             "read:corrupt_record"}
    print(dict(outcomes))


def test_the_arc_file_and_the_old_warc_files_are_extracted(shared):
    for name in ("ukwa/IAH-20080430204825-00000-blackbook-truncated.arc.gz",
                 "ukwa/IAH-20080430204825-00000-blackbook-truncated.warc.gz"):
        path = Path(shared / "warc" / name)
        out = list(SelectExtract(emit_dropped=True).run(WarcReader(str(path.parent), glob_pattern=path.name).run()))
        assert any(not is_dropped(d) for d in out), name
