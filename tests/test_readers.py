import gzip
import io
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curate.core.step import DROP_REASON, is_dropped
from curate.io.charset import decode_html, decode_page
from curate.io.readers import JsonlReader, ParquetReader, WarcReader

PAGE = "<html><head><title>t</title></head><body><p>{}</p></body></html>"
CRAWL_SUFFIXES = (".warc", ".warc.gz", ".arc.gz", ".wet.gz", ".wat.gz")


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
    return [len(m) for m in members]


def read_all(path, **kwargs):
    return list(WarcReader(str(path.parent), glob_pattern=path.name, **kwargs)())


def test_every_response_becomes_a_document_with_its_content_type(tmp_path):
    path = tmp_path / "a.warc.gz"
    write_warc(path, [("http://a.test/1", PAGE.format("hello").encode(), "text/html; charset=utf-8"),
                      ("http://a.test/img.png", b"\x89PNG\r\n\x1a\n....", "image/png")])
    docs = read_all(path)
    assert [d.metadata["url"] for d in docs] == ["http://a.test/1", "http://a.test/img.png"]
    assert "hello" in docs[0].text and not is_dropped(docs[0])
    assert docs[0].metadata["read__charset_source"] == "header" and docs[0].metadata["read__decode_errors"] == 0
    assert docs[1].text == "" and docs[1].metadata["read__content_type"] == "image/png"


def test_a_corrupt_member_in_the_middle_is_one_row_and_reading_goes_on(tmp_path):
    path = tmp_path / "c.warc.gz"
    spec = [(f"http://a.test/{i}", PAGE.format(f"page {i} " * 50).encode(), "text/html") for i in range(5)]
    write_warc(path, spec, corrupt_index=2)
    docs = read_all(path)
    assert [d.metadata.get(DROP_REASON) for d in docs] == [None, None, "read:corrupt_record", None, None]
    assert [d.metadata["url"] for d in docs if not is_dropped(d)] == ["http://a.test/0", "http://a.test/1",
                                                                     "http://a.test/3", "http://a.test/4"]
    assert docs[2].id == f"c.warc.gz#{docs[2].metadata['read__offset']}"  # its header may be garbage: no id from it
    assert "gzip" in docs[2].metadata["read__error"] or "Digest" in docs[2].metadata["read__error"]


def test_a_record_cut_short_is_a_truncated_row_never_a_document(tmp_path):
    path = tmp_path / "t.warc.gz"
    sizes = write_warc(path, [(f"http://a.test/{i}", PAGE.format(f"{i} x " * 300).encode(), "text/html")
                              for i in range(3)])
    data = path.read_bytes()
    for cut in (len(data) - 20, len(data) - sizes[-1] // 2, len(data) - sizes[-1] + 30):
        path.write_bytes(data[:cut])
        docs = read_all(path)
        assert [d.metadata.get(DROP_REASON) for d in docs] == [None, None, "read:truncated_record"]
        assert docs[-1].text == ""


def test_a_plain_warc_cut_mid_payload_is_truncated(tmp_path):
    path = tmp_path / "p.warc"
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    for i in range(3):
        writer.write_record(response(writer, f"http://a.test/{i}", PAGE.format("y " * 300).encode()))
    path.write_bytes(buf.getvalue()[:-300])
    assert [d.metadata.get(DROP_REASON) for d in read_all(path)] == [None, None, "read:truncated_record"]


def test_one_gzip_stream_for_the_whole_file_reads_like_one_member_per_record(tmp_path, shared):
    source = shared / "warc" / "dolma" / "sample-0000.warc.gz"
    raw = gzip.decompress(source.read_bytes())
    (tmp_path / "whole.warc.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "plain.warc").write_bytes(raw)
    per_record = [(d.id, d.text) for d in read_all(source)]
    assert len(per_record) == 22
    assert [(d.id, d.text) for d in read_all(tmp_path / "whole.warc.gz")] == per_record
    assert [(d.id, d.text) for d in read_all(tmp_path / "plain.warc")] == per_record


def test_every_real_crawl_file_gives_warcio_s_records_and_ids(shared):
    files = sorted(p for p in (shared / "warc").rglob("*") if p.name.endswith(CRAWL_SUFFIXES))
    assert len(files) >= 12
    for path in files:
        with open(path, "rb") as f:
            expected = [r.rec_headers.get_header("WARC-Record-ID") for r in ArchiveIterator(f, arc2warc=True)
                        if r.rec_type in ("response", "conversion")]
        docs = read_all(path)
        assert not any(is_dropped(d) for d in docs), path.name
        if path.name.endswith(".arc.gz"):  # warcio invents a random id per ARC record; ours is its offset
            assert len(docs) == len(expected) and all(d.id == f"{path.name}#{d.metadata['read__offset']}" for d in docs)
            assert [d.id for d in read_all(path)] == [d.id for d in docs]
        else:
            assert [d.id for d in docs] == expected, path.name


def test_a_page_over_the_payload_limit_is_a_too_large_row_and_reading_goes_on(tmp_path):
    path = tmp_path / "big.warc.gz"
    write_warc(path, [("http://a.test/big", PAGE.format("z " * 100_000).encode(), "text/html"),
                      ("http://a.test/small", PAGE.format("ok").encode(), "text/html")])
    docs = read_all(path, max_payload_bytes=50_000)
    assert [d.metadata.get(DROP_REASON) for d in docs] == ["read:too_large", None]
    assert docs[0].metadata["read__payload_bytes"] > 200_000 and docs[0].text == ""


@pytest.mark.parametrize("body, header, charset, source", [
    ("Grüße aus Köln".encode("iso-8859-1"), "iso-8859-1", "windows-1252", "header"),  # WHATWG: latin-1 is cp1252
    ('<meta charset="windows-1251"><p>Привет</p>'.encode("cp1251"), None, "windows-1251", "meta"),
    ("plain utf-8 – ok".encode(), None, "utf-8", "utf-8"),
    ("Grüße aus Köln, schöne Straße".encode(), "iso-8859-1", "utf-8", "utf-8"),  # a wrong header is not trusted
    (b"\xef\xbb\xbf" + "BOM – first".encode(), "windows-1252", "utf-8", "bom"),
    ('<meta charset="gb2312"><p>中文文本测试</p>'.encode("gb18030"), None, "gb18030", "meta"),
    (("<p>" + "Привет из Москвы, широкие улицы. " * 20 + "</p>").encode("cp1251"), "utf-8", "windows-1251", "detected"),
])
def test_the_charset_and_where_it_came_from(body, header, charset, source):
    decoded = decode_page(body, header)
    assert (decoded.charset, decoded.source, decoded.errors) == (charset, source, 0)
    assert decoded.text == body.decode(charset).removeprefix("\ufeff")
    assert decode_html(body, header) == (decoded.text, decoded.charset)


def test_a_few_stray_bytes_keep_the_rest_of_the_page():
    text = "Grüße aus Köln: schöne Straßen, Bäume und Flüsse. " * 20
    body = text.encode()
    stray = body[:200] + b"\xff" + body[200:]
    decoded = decode_page(stray, "utf-8")
    assert (decoded.charset, decoded.source, decoded.errors) == ("utf-8", "header", 1)
    assert decoded.text.replace("\ufffd", "") == text
    assert decode_page(bytes(range(128, 256)) * 4, None) is None


def write_jsonl(path, lines: list[bytes]):
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_jsonl_bad_lines_and_empty_texts_are_rows_not_losses(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [b'{"id": "a", "text": "hello", "url": "http://x.test/a"}', b"{broken",
                                       b'{"id": "c", "text": "  "}', b"[1, 2]", b'"text"', b'{"id": "f", "text": "x"}'])
    docs = list(JsonlReader(str(tmp_path), glob_pattern="d.jsonl")())
    assert [(d.id, d.metadata.get(DROP_REASON)) for d in docs] == [
        ("a", None), ("d.jsonl#L2", "read:bad_json"), ("c", "read:empty_text"), ("d.jsonl#L4", "read:bad_json"),
        ("d.jsonl#L5", "read:bad_json"), ("f", None)]
    assert docs[0].metadata["url"] == "http://x.test/a" and "not an object" in docs[3].metadata["read__error"]


def test_jsonl_invalid_utf8_is_replaced_when_rare_and_a_row_when_not(tmp_path):
    good = json.dumps({"id": "s", "text": "Grüße aus Köln, schöne Straßen. " * 5}, ensure_ascii=False).encode()
    stray = good[:30] + b"\xff" + good[30:]
    write_jsonl(tmp_path / "u.jsonl", [stray, b'{"id": "x", "text": "' + bytes(range(0x80, 0x100)) + b'"}'])
    docs = list(JsonlReader(str(tmp_path), glob_pattern="u.jsonl")())
    assert [(d.id, d.metadata.get(DROP_REASON)) for d in docs] == [("s", None), ("u.jsonl#L2", "read:decode_error")]
    assert docs[0].metadata["read__decode_errors"] == 1 and "Straßen" in docs[0].text


def test_a_truncated_jsonl_gz_gives_its_lines_then_one_row_and_the_next_file_is_read(tmp_path):
    lines = [json.dumps({"id": f"d{i}", "text": f"document number {i} " * 20}).encode() for i in range(200)]
    data = gzip.compress(b"\n".join(lines) + b"\n")
    (tmp_path / "a.jsonl.gz").write_bytes(data[:len(data) // 2])
    write_jsonl(tmp_path / "b.jsonl", [b'{"id": "next", "text": "still read"}'])
    docs = list(JsonlReader(str(tmp_path), glob_pattern="*.jsonl*")())
    reasons = [d.metadata.get(DROP_REASON) for d in docs]
    assert reasons.count("read:corrupt_file") == 1 and docs[-1].id == "next"
    cut = reasons.index("read:corrupt_file")
    assert cut > 10 and [d.id for d in docs[:cut]] == [f"d{i}" for i in range(cut)]
    assert docs[cut].id == f"a.jsonl.gz#L{cut + 1}"


def test_gzip_jsonl(tmp_path):
    with gzip.open(tmp_path / "d.jsonl.gz", "wt") as f:
        f.write('{"id": "a", "text": "hello"}\n')
    (doc,) = JsonlReader(str(tmp_path), glob_pattern="d.jsonl.gz")()
    assert doc.text == "hello"


def test_an_unreadable_parquet_is_one_row_and_the_next_file_is_read(tmp_path):
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": ["p1", "p2"], "text": ["one", "two"]}), buf)
    (tmp_path / "a.parquet").write_bytes(buf.getvalue()[:-20])
    (tmp_path / "b.parquet").write_bytes(b"")
    (tmp_path / "c.parquet").write_bytes(buf.getvalue())
    docs = list(ParquetReader(str(tmp_path), glob_pattern="*.parquet")())
    assert [(d.id, d.metadata.get(DROP_REASON)) for d in docs] == [
        ("a.parquet#row0", "read:corrupt_file"), ("b.parquet#row0", "read:corrupt_file"), ("p1", None), ("p2", None)]


# Sizes the reader cuts its work at (curate.io.warc_bytes: zlib's 16 KiB input pieces, 64 KiB file reads and
# probes, 256 KiB output per call; curate.io.warc_stream: the 1 MiB compaction), each tried a few bytes either side.
READER_EDGES = (16 << 10, 64 << 10, 256 << 10, 1 << 20)
WORDS = ("crawl", "page", "gzip", "member", "record", "the", "of", "WARC/1.0\r\n", "\r\n\r\n", "\x1f\x8b\x08")


def random_payload(rnd) -> tuple[bytes, str]:
    """A payload of a random size (tiny, near a reader edge, or up to 1.5 MB) and kind: text that compresses a
    little, text that compresses a thousandfold (zlib's output limit is hit long before its input runs out),
    or random bytes (the compressed size itself lands near the edges)."""
    size = rnd.choice([rnd.randrange(0, 64), rnd.choice(READER_EDGES) + rnd.randrange(-300, 300),
                       rnd.randrange(64, 1_500_000)])
    kind = rnd.choice(("words", "repeat", "binary"))
    if kind == "binary":
        return rnd.randbytes(size), "application/octet-stream"
    if kind == "repeat":
        unit = " ".join(rnd.choice(WORDS) for _ in range(rnd.randrange(1, 6))) + " "
        text = unit * (size // len(unit) + 1)
    else:
        text = " ".join(rnd.choice(WORDS) for _ in range(size // 4 + 1))
    return text[:size].encode(), "text/plain; charset=utf-8"


@pytest.mark.parametrize("seed", range(8))
def test_valid_warcio_files_read_exactly_as_warcio_reads_them(tmp_path, seed):
    """Whatever the record sizes, a valid WARC (gzip or plain) gives warcio's records: same ids, payloads, no drop
    rows. (A member whose end came after zlib had stopped at its output limit once lost its last bytes.)"""
    rnd = random.Random(seed)
    path = tmp_path / (f"p{seed}.warc.gz" if seed % 4 else f"p{seed}.warc")
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=path.suffix == ".gz")
        for i in range(rnd.randrange(5, 16)):
            payload, ctype = random_payload(rnd)
            writer.write_record(response(writer, f"http://a.test/{seed}/{i}", payload, ctype))
    with open(path, "rb") as f:
        expected = [(r.rec_headers.get_header("WARC-Record-ID"), r.content_stream().read())
                    for r in ArchiveIterator(f)]
    docs = read_all(path)
    assert [d for d in docs if is_dropped(d)] == []
    assert [d.id for d in docs] == [rec_id for rec_id, _ in expected]
    for doc, (_, payload) in zip(docs, expected):
        assert doc.metadata["read__payload_bytes"] == len(payload), doc.id
        assert doc.text == ("" if doc.metadata["read__content_type"] != "text/plain" else payload.decode()), doc.id
