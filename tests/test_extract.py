from datatrove.data import Document

from curate.core.step import DROP_REASON, is_dropped
from curate.filters.trafilatura_extract import TrafilaturaExtract

ARTICLE = ("<html><head><title>Bridges</title></head><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
           "<article><h1>The bridges of the river town</h1>"
           + "<p>The history of the river town is told in its bridges and its mills, and in the people who built them "
             "over two centuries of floods, trade and slow, patient repair.</p>" * 6
           + "</article><footer>Copyright 2024</footer></body></html>")


def page(text: str, content_type: str = "text/html", id: str = "p", **meta) -> Document:
    return Document(text=text, id=id, metadata={"read__warc_type": "response", "read__content_type": content_type,
                                                 "read__payload_bytes": len(text.encode()), **meta})


def run(step, docs):
    return list(step.run(iter(docs)))


def test_extracts_main_text_and_records_the_extractor():
    (doc,) = run(TrafilaturaExtract(emit_dropped=True), [page(ARTICLE)])
    assert not is_dropped(doc)
    assert "bridges and its mills" in doc.text and "Copyright" not in doc.text and "<p>" not in doc.text
    assert doc.metadata["extract__extractor"] == "trafilatura"


def test_every_outcome_is_a_reason():
    docs = [page("", "image/png"), page(ARTICLE, read__payload_bytes=50_000_000),
            page("<html><head><title>t</title></head><body>  </body></html>"), page(ARTICLE)]
    out = run(TrafilaturaExtract(emit_dropped=True), docs)
    assert [d.metadata.get(DROP_REASON) for d in out] == ["extract:non_html", "extract:too_large", "extract:empty", None]


def test_a_page_that_takes_too_long_costs_the_timeout_and_is_recorded():
    # lxml gives up on deep nesting at once (empty); a long page (5 MB, under max_bytes) takes seconds
    long = "<html><body>" + "<p>word word word word</p>" * 200_000 + "</body></html>"
    (doc,) = run(TrafilaturaExtract(timeout=0.2, emit_dropped=True), [page(long)])
    assert doc.metadata[DROP_REASON] == "extract:timeout"


def test_plain_text_documents_pass_through_untouched():
    doc = Document(text="already text", id="j", metadata={})
    wet = Document(text="wet text", id="w", metadata={"read__warc_type": "conversion"})
    assert [d.text for d in run(TrafilaturaExtract(), [doc, wet])] == ["already text", "wet text"]


def test_without_emit_dropped_rejected_pages_leave_the_stream_as_in_datatrove():
    assert run(TrafilaturaExtract(), [page("", "image/png"), page(ARTICLE)])[0].id == "p"
    assert len(run(TrafilaturaExtract(), [page("", "image/png")])) == 0


def test_undecodable_bytes_give_no_text():
    from curate.io.readers import decode_html

    assert decode_html(bytes(range(128, 256)) * 4, None) is None
