"""pipelines/fineweb.yaml is FineWeb's recipe as datatrove runs it (issue 15).

With FineWeb's extractor in place of `extract`, curate's recipe and datatrove's examples/fineweb.py
stages (bench/e2e.py builds both, on real html_gold pages packed into a WARC) keep the same pages
with the same text, PII placeholders aside. Without the `c4_lines` transform after `c4_quality`,
FineWeb's rules would judge pages that still hold the lines C4 removes, and every kept text would
differ: datatrove's `C4QualityFilter` rewrites the text it keeps.
"""

import pytest

from bench import e2e

pytestmark = pytest.mark.integration
STRIDE = 40  # 64 pages: 38 of WCXB dev, 26 of trafilatura's evaluation set


@pytest.fixture(scope="module")
def both_sides(shared, tmp_path_factory):
    from datatrove.utils.logging import logger

    if not (shared / e2e.ARCHIVES["wcxb_dev"]).is_file():
        pytest.skip("html_gold archives not in the shared data")
    work = tmp_path_factory.mktemp("e2e")
    pages = e2e.html_pages(STRIDE, shared)
    warc = e2e.write_warc(pages, work / "crawl")
    e2e.write_jsonl(pages, e2e.jsonl_folder(warc))
    logger.remove()  # datatrove's INFO lines
    return (len(pages), e2e.curate_side(warc, work / "curate", "trafilatura_extract"),
            e2e.datatrove_side(warc, work / "datatrove", None))


def test_the_recipes_keep_the_same_pages_with_the_same_text(both_sides):
    pages, ours, theirs = both_sides
    assert len(theirs["kept"]) >= pages // 4, "too few pages kept to compare anything"
    assert ours["kept"] == theirs["kept"]  # url -> text digest


def test_extraction_c4_and_fineweb_drop_the_same_pages(both_sides):
    _, ours, theirs = both_sides
    for stage in ("extract", "c4_quality", "fineweb_quality"):
        assert ours["drops"].get(stage, 0) == theirs["drops"].get(stage, 0), stage
