import gzip
import io

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curate.core.step import DROP_REASON, is_dropped
from curate.io.readers import JsonlReader, WarcReader, decode_html

PAGE = "<html><head><title>t</title></head><body><p>{}</p></body></html>"


def response(writer, url, body: bytes, content_type="text/html; charset=utf-8"):
    headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
    return writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers)


def write_warc(path, records_spec, corrupt_index=None):
    """Write one gzip member per record; damage the middle of member `corrupt_index`."""
    members = []
    for url, body, ctype in records_spec:
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        writer.write_record(response(writer, url, body, ctype))
        members.append(bytearray(buf.getvalue()))
    if corrupt_index is not None:
        member = members[corrupt_index]
        middle = len(member) // 2
        member[middle:middle + 20] = b"\x00" * 20
    path.write_bytes(b"".join(members))


def read_all(path):
    return list(WarcReader(str(path.parent), glob_pattern=path.name)())


def test_every_response_becomes_a_document_with_its_content_type(tmp_path):
    path = tmp_path / "a.warc.gz"
    write_warc(path, [("http://a.test/1", PAGE.format("hello").encode(), "text/html; charset=utf-8"),
                      ("http://a.test/img.png", b"\x89PNG\r\n\x1a\n....", "image/png")])
    docs = read_all(path)
    assert [d.metadata["url"] for d in docs] == ["http://a.test/1", "http://a.test/img.png"]
    assert "hello" in docs[0].text and not is_dropped(docs[0])
    assert docs[1].text == "" and docs[1].metadata["read__content_type"] == "image/png"


def test_a_corrupt_member_in_the_middle_is_one_row_and_reading_goes_on(tmp_path):
    path = tmp_path / "c.warc.gz"
    spec = [(f"http://a.test/{i}", PAGE.format(f"page {i} " * 50).encode(), "text/html") for i in range(5)]
    write_warc(path, spec, corrupt_index=2)
    docs = read_all(path)
    assert len(docs) == 5
    reasons = [d.metadata.get(DROP_REASON) for d in docs]
    assert reasons == [None, None, "read:corrupt_record", None, None]
    assert [d.metadata["url"] for d in docs if not is_dropped(d)] == ["http://a.test/0", "http://a.test/1",
                                                                     "http://a.test/3", "http://a.test/4"]
    assert docs[2].id.startswith(str(path.name)) or "#" in docs[2].id


def test_a_truncated_last_record_is_counted(tmp_path):
    path = tmp_path / "t.warc.gz"
    write_warc(path, [(f"http://a.test/{i}", PAGE.format("x " * 300).encode(), "text/html") for i in range(3)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])
    docs = read_all(path)
    assert len(docs) == 3 and docs[-1].metadata[DROP_REASON] == "read:corrupt_record"


@pytest.mark.parametrize("body, header, expected", [
    ("Grüße aus Köln".encode("iso-8859-1"), "iso-8859-1", "iso-8859-1"),
    ('<meta charset="windows-1251"><p>Привет</p>'.encode("cp1251"), None, "windows-1251"),
    ("plain utf-8 – ok".encode(), None, "utf-8"),
])
def test_charset_from_header_then_meta_then_utf8(body, header, expected):
    text, used = decode_html(body, header)
    assert used == expected and text == body.decode(expected)


def test_jsonl_bad_lines_and_empty_texts_are_rows_not_losses(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "a", "text": "hello", "url": "http://x.test/a"}\n{broken\n{"id": "c", "text": "  "}\n')
    docs = list(JsonlReader(str(tmp_path), glob_pattern="d.jsonl")())
    assert [d.id for d in docs][0] == "a" and len(docs) == 3
    assert [d.metadata.get(DROP_REASON) for d in docs] == [None, "read:corrupt_record", "read:empty_text"]
    assert docs[0].metadata["url"] == "http://x.test/a"


def test_gzip_jsonl(tmp_path):
    with gzip.open(tmp_path / "d.jsonl.gz", "wt") as f:
        f.write('{"id": "a", "text": "hello"}\n')
    (doc,) = JsonlReader(str(tmp_path), glob_pattern="d.jsonl.gz")()
    assert doc.text == "hello"
