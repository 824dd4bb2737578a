"""A seeded corpus of faulty crawl and document files, each with the rows it must give, known by construction.

Every fault class of issue 14 ("every record accounted for under every fault") has a builder
`fault_<name>(rng) -> Fault`: it writes small files of made-up pages (`page_text`), damages them
in one way at a position drawn from `rng`, and lists the rows the reader must yield, in order,
as (id, reason): the id is a string, or a compiled pattern where the construction leaves it open
(a cut header may or may not hold the record id), the reason None for a kept document. `ANY_TAIL`
closes a list with "one or more drop rows of this reason" (the undecodable rest of a damaged
one-stream gzip file). `corpus(seed)` builds them all.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import random
import re
import uuid
import zlib
from dataclasses import dataclass, field

WORDS = ("the river town mill bridge market harvest people built over centuries floods trade patient repair "
         "library reopens after renovation with new reading rooms garden tomatoes balcony morning light").split()
UMLAUT = "Grüße aus Köln: schöne Straßen, Bäume und Flüsse, überall Gärten. "
RUSSIAN = "Привет из Москвы: широкие улицы, старые дома и тихие дворы. "


@dataclass
class Fault:
    name: str
    files: dict[str, bytes]  # file name -> bytes, read in name order
    rows: list  # [(id or pattern, reason or None)], in reading order; may end with ANY_TAIL
    kind: str = "warc"  # warc | jsonl | parquet
    checks: dict = field(default_factory=dict)  # id -> {metadata key: value or set of values}; "text~": a substring
    max_payload_bytes: int = 10_000_000
    records: int = 0  # records in the undamaged file (bounds the rows for a damaged rest)
    tail_ids: tuple = ()  # ids the damaged rest may still keep (their digest vouches for them)


ANY_TAIL = ("*", "read:corrupt_record")


def page_text(rng: random.Random, words: int = 80, extra: str = "") -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(words))
    return f"<html><head><title>t</title></head><body><p>{body}</p><p>{extra}</p></body></html>"


def record_id(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}>"


def warc_record(rid: str, url: str, body: bytes, ctype: str = "text/html; charset=utf-8", rec_type: str = "response",
                drop: tuple = (), set_: dict | None = None) -> bytes:
    """A WARC/1.1 record with an HTTP response block; `drop` removes fields, `set_` overrides them."""
    block = (b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype.encode() + b"\r\nContent-Length: "
             + str(len(body)).encode() + b"\r\n\r\n" + body)
    digest = base64.b32encode(hashlib.sha1(block).digest()).decode()
    fields = {"WARC-Type": rec_type, "WARC-Record-ID": rid, "WARC-Target-URI": url, "WARC-Date": "2024-03-02T10:15:07Z",
              "WARC-Block-Digest": f"sha1:{digest}", "Content-Type": "application/http; msgtype=response",
              "Content-Length": str(len(block)), **(set_ or {})}
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if k not in drop)
    return b"WARC/1.1\r\n" + head.encode() + b"\r\n" + block + b"\r\n\r\n"


def request_record(rid: str, url: str) -> bytes:
    block = f"GET / HTTP/1.1\r\nHost: {url.split('/')[2]}\r\n\r\n".encode()
    return (f"WARC/1.1\r\nWARC-Type: request\r\nWARC-Record-ID: {rid}\r\nWARC-Target-URI: {url}\r\n"
            f"Content-Length: {len(block)}\r\n\r\n").encode() + block + b"\r\n\r\n"


def crawl(rng: random.Random, n: int = 5, requests: bool = True) -> tuple[list[bytes], list[str]]:
    """Records of `n` pages (each response after its request); the ids of the responses."""
    records, ids = [], []
    for i in range(n):
        url = f"https://site{i}.test/page/{rng.randrange(10**6)}"
        if requests:
            records.append(request_record(record_id(rng), url))
        rid = record_id(rng)
        records.append(warc_record(rid, url, page_text(rng, rng.randrange(20, 200)).encode()))
        ids.append(rid)
    return records, ids


def members(records: list[bytes]) -> tuple[bytes, list[int]]:
    """One gzip member per record, as WARC writers do; the member offsets."""
    out, offsets = b"", []
    for record in records:
        offsets.append(len(out))
        out += gzip.compress(record, mtime=0)
    return out, offsets


def response_index(records: list[bytes], rid: str) -> int:
    return next(i for i, r in enumerate(records) if rid.encode() in r and b"WARC-Type: response" in r)


def kept(ids: list[str]) -> list:
    return [(i, None) for i in ids]


def either(rid: str, name: str) -> re.Pattern:
    """The record's id, or its `FILE#OFFSET` id when its header was not read."""
    return re.compile(f"{re.escape(rid)}|{re.escape(name)}#.*")


def with_field(record: bytes, name: str, value: str | None) -> bytes:
    """`record` with header field `name` set to `value` (None: removed); the block is left as it is."""
    head, sep, rest = record.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(name.lower().encode() + b":")]
    if value is not None:
        lines.insert(1, f"{name}: {value}".encode())
    return b"\r\n".join(lines) + sep + rest


# ---- WARC framing faults ------------------------------------------------------------------------------------

def fault_gz_cut_mid_member(rng):
    records, ids = crawl(rng)
    data, offsets = members(records)
    k = rng.randrange(len(ids))
    i = response_index(records, ids[k])
    end = offsets[i + 1] if i + 1 < len(offsets) else len(data)
    cut = rng.randrange(offsets[i] + 12, offsets[i] + (end - offsets[i]) // 2)
    return Fault("gz_cut_mid_member", {"c.warc.gz": data[:cut]},
                 kept(ids[:k]) + [(either(ids[k], "c.warc.gz"), "read:truncated_record")])


def fault_warc_cut_mid_payload(rng):
    records, ids = crawl(rng)
    k = rng.randrange(len(ids))
    i = response_index(records, ids[k])
    start = sum(map(len, records[:i]))
    body = records[i].index(b"<html>")
    cut = start + rng.randrange(body, len(records[i]) - 10)
    return Fault("warc_cut_mid_payload", {"c.warc": b"".join(records)[:cut]},
                 kept(ids[:k]) + [(ids[k], "read:truncated_record")])


def _edited(rng, name: str, edit, gz: bool, reason: str = "read:corrupt_record", last_ok: bool = True):
    """Record k (not the last one unless `last_ok`) edited by `edit(record, rng)`; it alone is a drop row."""
    records, ids = crawl(rng)
    k = rng.randrange(len(ids) if last_ok else len(ids) - 1)
    i = response_index(records, ids[k])
    records[i] = edit(records[i], rng)
    data = members(records)[0] if gz else b"".join(records)
    filename = "e.warc.gz" if gz else "e.warc"
    rows = kept(ids[:k]) + [(ids[k], reason)] + kept(ids[k + 1:])
    return Fault(name, {filename: data}, rows)


def _length(record: bytes) -> int:
    return int(re.search(rb"\r\nContent-Length: (\d+)\r\n", record).group(1))


def fault_warc_cl_too_large(rng):
    return _edited(rng, "warc_cl_too_large", lambda r, g: with_field(r, "Content-Length", str(_length(r) + g.randrange(
        1, 3000))), gz=False, last_ok=False)


def fault_warc_cl_missing(rng):
    return _edited(rng, "warc_cl_missing", lambda r, g: with_field(r, "Content-Length", None), gz=False)


def fault_gz_cl_too_small(rng):
    return _edited(rng, "gz_cl_too_small", lambda r, g: with_field(r, "Content-Length", str(
        g.randrange(1, _length(r)))), gz=True)


def fault_gz_cl_too_large(rng):
    return _edited(rng, "gz_cl_too_large", lambda r, g: with_field(r, "Content-Length", str(_length(r) + g.randrange(
        1, 10**6))), gz=True)


def fault_gz_cl_not_a_number(rng):
    return _edited(rng, "gz_cl_not_a_number", lambda r, g: with_field(r, "Content-Length", g.choice(
        ["abc", "-5", "12x", "", "0x10", "1e3"])), gz=True)


def fault_warc_cl_negative(rng):
    return _edited(rng, "warc_cl_negative", lambda r, g: with_field(r, "Content-Length", str(-g.randrange(1, 500))),
                   gz=False)


def fault_missing_warc_type(rng):
    return _edited(rng, "missing_warc_type", lambda r, g: with_field(r, "WARC-Type", None), gz=rng.random() < 0.5)


def fault_unknown_warc_type(rng):
    return _edited(rng, "unknown_warc_type", lambda r, g: with_field(r, "WARC-Type", "respxnse"), gz=rng.random() < 0.5)


def fault_warc_garbage_without_newline(rng):
    records, ids = crawl(rng)
    k = rng.randrange(1, len(ids))
    i = response_index(records, ids[k]) - 1  # garbage goes before its request record
    garbage = "".join(rng.choice("abcdefghij<>{}0123456789 ") for _ in range(rng.randrange(1, 300))).encode()
    offset = sum(map(len, records[:i]))
    data = b"".join(records[:i]) + garbage + b"".join(records[i:])
    rows = kept(ids[:k]) + [(f"g.warc#{offset}", "read:corrupt_record")] + kept(ids[k:])
    return Fault("warc_garbage_without_newline", {"g.warc": data}, rows)


def fault_gz_garbage_between_members(rng):
    records, ids = crawl(rng)
    data, offsets = members(records)
    k = rng.randrange(1, len(ids))
    i = response_index(records, ids[k]) - 1
    garbage = b"G" + rng.randbytes(rng.randrange(0, 500)).replace(b"\x1f\x8b", b"xx")
    data = data[:offsets[i]] + garbage + data[offsets[i]:]
    rows = kept(ids[:k]) + [(f"g.warc.gz#{offsets[i]}", "read:corrupt_record")] + kept(ids[k:])
    return Fault("gz_garbage_between_members", {"g.warc.gz": data}, rows)


def fault_gz_damaged_member(rng):
    records, ids = crawl(rng)
    data, offsets = members(records)
    k = rng.randrange(len(ids))
    i = response_index(records, ids[k])
    end = offsets[i + 1] if i + 1 < len(offsets) else len(data)
    at = rng.randrange(offsets[i] + 30, end - 20)
    data = data[:at] + b"\x00" * 12 + data[at + 12:]
    # in the last member, data that zlib decodes on to the end of the file cannot be told from a cut
    reason = re.compile("read:corrupt_record|read:truncated_record") if i == len(records) - 1 else "read:corrupt_record"
    return Fault("gz_damaged_member", {"d.warc.gz": data},
                 kept(ids[:k]) + [(either(ids[k], "d.warc.gz"), reason)] + kept(ids[k + 1:]))


def fault_whole_file_gzip(rng):
    records, ids = crawl(rng, n=8)
    return Fault("whole_file_gzip", {"w.warc.gz": gzip.compress(b"".join(records), mtime=0)}, kept(ids))


def fault_whole_file_gzip_damaged(rng):
    records, ids = crawl(rng, n=10)
    raw = b"".join(records)
    data = bytearray(gzip.compress(raw, mtime=0))
    at = rng.randrange(len(data) // 3, 2 * len(data) // 3)
    data[at:at + 40] = b"\x00" * 40
    produced = len(zlib.decompressobj(31).decompress(bytes(data[:at])))  # output fixed before the damage
    ends = [sum(map(len, records[:i + 1])) for i in range(len(records))]
    done = [rid for rid in ids if ends[response_index(records, rid)] <= produced]
    return Fault("whole_file_gzip_damaged", {"w.warc.gz": bytes(data)}, kept(done) + [ANY_TAIL], records=len(records),
                 tail_ids=tuple(ids[len(done):]))


def fault_gz_trailing_padding(rng):
    records, ids = crawl(rng)
    return Fault("gz_trailing_padding", {"p.warc.gz": members(records)[0] + b"\x00" * rng.randrange(1, 4096)},
                 kept(ids))


def fault_duplicate_record_id(rng):
    records, ids = crawl(rng, requests=False)
    records[2] = records[2].replace(ids[2].encode(), ids[1].encode())
    offset = sum(map(len, records[:2]))
    rows = kept(ids[:2]) + [(f"dup.warc#{offset}", None)] + kept(ids[3:])
    return Fault("duplicate_record_id", {"dup.warc": b"".join(records)}, rows)


def fault_too_large(rng):
    records, ids = crawl(rng, requests=False)
    k = rng.randrange(len(ids))
    big = page_text(rng, 40_000).encode()  # ~300 KB, over the 100 KB limit the test reader uses
    records[k] = warc_record(ids[k], "https://big.test/", big)
    rows = kept(ids[:k]) + [(ids[k], "read:too_large")] + kept(ids[k + 1:])
    return Fault("too_large", {"t.warc.gz": members(records)[0]}, rows, max_payload_bytes=100_000)


def fault_charsets(rng):
    """A wrong header charset, one stray byte in a UTF-8 page, a windows-1251 page declared UTF-8."""
    ids = [record_id(rng) for _ in range(3)]
    utf8 = page_text(rng, 30, UMLAUT * 5).encode()
    stray = bytearray(page_text(rng, 30, UMLAUT * 5).encode())
    stray.insert(rng.randrange(len(stray) // 2, len(stray) - 10), 0xFF)
    cyrillic = ("<html><body><p>" + RUSSIAN * 8 + "</p></body></html>").encode("cp1251")
    records = [warc_record(ids[0], "https://a.test/", utf8, "text/html; charset=iso-8859-1"),
               warc_record(ids[1], "https://b.test/", bytes(stray), "text/html; charset=utf-8"),
               warc_record(ids[2], "https://c.test/", cyrillic, "text/html; charset=utf-8")]
    checks = {ids[0]: {"read__charset": "utf-8", "read__charset_source": "utf-8", "text~": "Grüße aus Köln"},
              ids[1]: {"read__charset": "utf-8", "read__decode_errors": {1, 2, 3}, "text~": "schöne Straßen"},
              ids[2]: {"read__charset": "windows-1251", "read__charset_source": "detected", "text~": "Привет"}}
    return Fault("charsets", {"cs.warc": b"".join(records)}, kept(ids), checks=checks)


# ---- ARC ------------------------------------------------------------------------------------------------------

def arc_file(rng, n: int = 4) -> tuple[list[bytes], list[str]]:
    """ARC v1 records (a filedesc header first); the documents' urls."""
    spec = b"1 0 curate-faults\nURL IP-address Archive-date Content-type Archive-length\n"
    records, urls = [b"filedesc://f.arc 0.0.0.0 20240302101507 text/plain %d\n" % len(spec) + spec + b"\n"], []
    for i in range(n):
        url = f"http://arc{i}.test/{rng.randrange(10**6)}"
        body = page_text(rng, rng.randrange(20, 200)).encode()
        block = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + body
        records.append(f"{url} 192.0.2.{i} 20240302101507 text/html {len(block)}\n".encode() + block + b"\n")
        urls.append(url)
    return records, urls


def fault_arc_cut(rng):
    records, _ = arc_file(rng)
    gz = rng.random() < 0.5
    k = rng.randrange(1, len(records))
    if gz:
        data, offsets = members(records)
        end = offsets[k + 1] if k + 1 < len(offsets) else len(data)
        cut = rng.randrange(offsets[k] + 12, offsets[k] + (end - offsets[k]) // 2)
        name, ids = "f.arc.gz", [f"f.arc.gz#{o}" for o in offsets[1:]]
    else:
        offsets = [sum(map(len, records[:i])) for i in range(len(records))]
        cut = offsets[k] + rng.randrange(records[k].index(b"\n") + 1, len(records[k]) - 2)
        name, ids = "f.arc", [f"f.arc#{o}" for o in offsets[1:]]
    rows = kept(ids[:k - 1]) + [(re.compile(re.escape(name) + "#.*"), "read:truncated_record")]
    data = (members(records)[0] if gz else b"".join(records))[:cut]
    return Fault("arc_cut", {name: data}, rows)


# ---- JSONL and Parquet ------------------------------------------------------------------------------------------

def jsonl_lines(rng, n: int) -> tuple[list[bytes], list[str]]:
    import json

    ids = [f"doc-{rng.randrange(10**9)}-{i}" for i in range(n)]
    return [json.dumps({"id": i, "text": page_text(rng, 30)}).encode() for i in ids], ids


def fault_jsonl_bad_lines(rng):
    lines, ids = jsonl_lines(rng, 6)
    bad = [b"[1, 2, 3]", b'"just a string"', b"{broken", b"42", b"null"]
    at = sorted(rng.sample(range(1, len(lines)), 3))
    rows, out = [], []
    for i, line in enumerate(lines):
        if i in at:
            out.append(rng.choice(bad))
            rows.append((f"d.jsonl#L{len(out)}", "read:bad_json"))
        out.append(line)
        rows.append((ids[i], None))
    return Fault("jsonl_bad_lines", {"d.jsonl": b"\n".join(out) + b"\n"}, rows, kind="jsonl")


def fault_jsonl_invalid_utf8(rng):
    import json

    lines, ids = jsonl_lines(rng, 3)
    text = json.dumps({"id": "stray", "text": UMLAUT * 10}, ensure_ascii=False).encode()
    at = text.index("Köln".encode()) + 1
    stray = text[:at] + b"\xff" + text[at:]
    garbage = b'{"id": "x", "text": "' + bytes(range(0x80, 0x100)) + b'"}'
    data = b"\n".join([lines[0], stray, lines[1], garbage, lines[2]]) + b"\n"
    rows = [(ids[0], None), ("stray", None), (ids[1], None), ("u.jsonl#L4", "read:decode_error"), (ids[2], None)]
    return Fault("jsonl_invalid_utf8", {"u.jsonl": data}, rows, kind="jsonl",
                 checks={"stray": {"read__decode_errors": 1, "text~": "Straßen"}})


def fault_jsonl_gz_truncated(rng):
    lines, ids = jsonl_lines(rng, 40)
    raw = b"\n".join(lines) + b"\n"
    data = gzip.compress(raw, mtime=0)
    cut = rng.randrange(len(data) // 4, 3 * len(data) // 4)
    produced = zlib.decompressobj(31).decompress(data[:cut])
    whole = produced.count(b"\n")
    good_lines, good_ids = jsonl_lines(random.Random(rng.random()), 3)
    rows = kept(ids[:whole]) + [(f"a.jsonl.gz#L{whole + 1}", "read:corrupt_file")] + kept(good_ids)
    return Fault("jsonl_gz_truncated", {"a.jsonl.gz": data[:cut], "b.jsonl": b"\n".join(good_lines)}, rows,
                 kind="jsonl")


def fault_parquet_damaged(rng):
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines, ids = jsonl_lines(rng, 5)
    table = pa.table({"id": ids, "text": [page_text(rng, 20) for _ in ids]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    whole = buf.getvalue()
    files = {"a.parquet": whole[:rng.randrange(8, len(whole) - 8)], "b.parquet": b"", "c.parquet": whole}
    rows = [("a.parquet#row0", "read:corrupt_file"), ("b.parquet#row0", "read:corrupt_file")] + kept(ids)
    return Fault("parquet_damaged", files, rows, kind="parquet")


BUILDERS = [value for key, value in sorted(globals().items()) if key.startswith("fault_")]


def corpus(seed: int) -> list[Fault]:
    """One fault of each class, all drawn from `seed`."""
    rng = random.Random(seed)
    return [build(random.Random(rng.random())) for build in BUILDERS]
