"""Bounded fuzzing of the WARC reader with mutants of the real WARC, ARC and WET files in ../shared/data/warc.

Each real file is cut down to a few records, laid out three ways (plain, one gzip member per
record, one gzip stream), read once as the baseline, then mutated, seeded: truncated, bit-flipped,
garbage inserted, a byte range zeroed, or one record's header edited. For every mutant the reader
must end in time with no exception, write no id twice, invent no id, keep no truncated record, and
give every record the mutation did not touch exactly the row it had in the baseline.
"""

import gzip
import io
import random
import re
import time
import zlib
from dataclasses import dataclass

import pytest
from warcio.archiveiterator import ArchiveIterator

from curate.core.step import DROP_REASON
from curate.io.readers import WarcReader

SOURCES = ("commoncrawl_whirlwind/whirlwind.warc.gz", "commoncrawl_whirlwind/whirlwind.warc.wet.gz",
           "dolma/sample-0000.warc.gz", "jwarc/cc.warc.gz", "pywb/dupes.warc.gz", "pywb/iana.warc.gz",
           "resiliparse/CC-MAIN-2020-34_excerpt_warcfile.warc.gz", "ukwa/IAH-20080430204825-00000-blackbook-truncated.arc.gz",
           "ukwa/IAH-20080430204825-00000-blackbook-truncated.warc.gz", "ukwa/IAH-urls-wget.warc.gz",
           "warcio/example.warc.gz", "warcio/example-iana.org-chunked.warc")
MUTANTS_PER_LAYOUT = 150
SECONDS_PER_MUTANT = 10  # an infinite loop or a quadratic rescan, not a slow machine
REASONS = {None, "read:truncated_record", "read:corrupt_record", "read:too_large", "read:decode_error"}


@dataclass
class Layout:
    name: str  # file name, which tells the reader the format
    data: bytes
    spans: list  # (start, end) of each record in `data`; for one gzip stream, in the decompressed bytes
    raw: bytes  # the records, concatenated
    whole: bool  # one gzip stream
    baseline: dict  # id -> (reason, text) of the unmutated file
    ids: list  # the baseline id of each record that is a document, else None


def split_records(data: bytes) -> list[bytes]:
    """The raw records of a real file: its gzip members, or (plain) the bytes between record offsets."""
    if data[:2] == b"\x1f\x8b":
        out = []
        while data:
            d = zlib.decompressobj(31)
            out.append(d.decompress(data))
            data = d.unused_data
        # an ARC record is followed by a newline (ARC v1); Heritrix leaves it out of its gzip members
        return [r if r.startswith(b"WARC/") else r + b"\n" for r in out]
    offsets = [it.get_record_offset() for it in [ArchiveIterator(io.BytesIO(data))] for _ in it]
    return [data[a:b] for a, b in zip(offsets, offsets[1:] + [len(data)])]


def is_document(raw: bytes) -> bool:
    return bool(re.search(rb"WARC-Type: (response|conversion)\r\n", raw[:4096])) or (
        not raw.startswith((b"WARC/", b"filedesc://")) and b" " in raw[:raw.find(b"\n")])


def cut_down(records: list[bytes], rng: random.Random) -> list[bytes]:
    """A few consecutive records (under 60 KB, at least one document), the ARC file header kept."""
    head = [records[0]] if records[0].startswith(b"filedesc://") else []
    body = records[len(head):]
    docs = [i for i, r in enumerate(body) if is_document(r) and len(r) < 80_000] or [0]
    start = max(0, rng.choice(docs) - rng.randrange(3))
    chosen = head[:]
    for record in body[start:]:
        if len(chosen) >= 6 or sum(map(len, chosen)) + len(record) > 60_000 and any(map(is_document, chosen)):
            break
        chosen.append(record)
    return chosen


def layouts(name: str, records: list[bytes]) -> list[Layout]:
    raw = b"".join(records)
    base = name.removesuffix(".gz")
    members = b"".join(gzip.compress(r, mtime=0) for r in records)
    return [Layout(base, raw, spans_of("plain", records), raw, False, {}, []),
            Layout(base + ".gz", members, spans_of("members", records), raw, False, {}, []),
            Layout(base + ".gz", gzip.compress(raw, mtime=0), spans_of("plain", records), raw, True, {}, [])]


def kind_of(layout: Layout) -> str:
    return "whole" if layout.whole else "members" if layout.name.endswith(".gz") else "plain"


def spans_of(kind: str, records: list[bytes]) -> list[tuple[int, int]]:
    """(start, end) of each record: in the file, or (one gzip stream) in its decompressed bytes."""
    sizes = [len(gzip.compress(r, mtime=0)) if kind == "members" else len(r) for r in records]
    starts = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
    return list(zip(starts, starts[1:]))


def where_id(layout: Layout, start: int) -> str:
    """The FILE#OFFSET id of a record starting at `start` (one gzip stream: inside member 0)."""
    return f"{layout.name}#{'0+' if layout.whole and start else ''}{start}"


def read(reader: WarcReader, name: str, data: bytes) -> list:
    return list(reader.read_stream(io.BytesIO(data), name))


def mutate(layout: Layout, records: list[bytes], rng: random.Random):
    """(kind, mutant, indices of the records it may have touched, each record's start in the mutant)."""
    data = bytearray(layout.data)
    starts = [start for start, _ in layout.spans]
    kind = rng.choice(("truncate", "flip", "insert", "zero", "header"))
    if kind == "header":
        i = rng.randrange(len(records))
        changed = records[:i] + [edit_header(records[i], rng)] + records[i + 1:]
        return kind, relayout(layout, changed), {i}, [start for start, _ in spans_of(kind_of(layout), changed)]
    at = rng.randrange(len(data))
    if kind == "truncate":
        return kind, bytes(data[:at]), touched(layout, at, len(data), at), starts
    if kind == "flip":
        positions = [rng.randrange(len(data)) for _ in range(rng.randrange(1, 4))]
        for p in positions:
            data[p] ^= 1 << rng.randrange(8)
        return kind, bytes(data), set().union(*(touched(layout, p, p + 1, min(positions)) for p in positions)), starts
    if kind == "insert":
        garbage = rng.randbytes(rng.randrange(1, 300)) if rng.random() < 0.5 else bytes(
            rng.choice(b"abc <>/:\r\n0123456789") for _ in range(rng.randrange(1, 300)))
        data[at:at] = garbage
        between = not layout.whole and at in starts
        moved = starts if layout.whole else [start + len(garbage) * (start >= at) for start in starts]
        return kind, bytes(data), set() if between else touched(layout, at, at + 1, at), moved
    n = rng.randrange(1, 64)
    data[at:at + n] = bytes(len(data[at:at + n]))
    return kind, bytes(data), touched(layout, at, at + n, at), starts


def touched(layout: Layout, lo: int, hi: int, first: int) -> set[int]:
    """Records whose bytes [lo, hi) may change (one gzip stream: every record not out before `first`)."""
    if layout.whole:
        produced = len(zlib.decompressobj(31).decompress(layout.data[:first]))
        return {i for i, (_, end) in enumerate(layout.spans) if end > produced}
    spans = layout.spans
    return {i for i, (start, end) in enumerate(spans) if start < hi and lo < end} | (
        {i for i, (start, _) in enumerate(spans) if start >= lo} if hi == len(layout.data) else set())


def edit_header(record: bytes, rng: random.Random) -> bytes:
    """One header edit: the length made larger, smaller or not a number, a field or the empty line
    after the header removed, the type or the version line garbled (ARC: the header line)."""
    if not record.startswith(b"WARC/"):
        line, sep, rest = record.partition(b"\n")
        parts = line.split(b" ")
        edit = rng.randrange(4)
        if edit == 0:
            parts[-1] = str(max(0, int(parts[-1]) + rng.choice([-1, 1]) * rng.randrange(1, 2000))).encode()
        elif edit == 1:
            parts[-1] = rng.choice([b"abc", b"-3", b""])
        elif edit == 2:
            del parts[rng.randrange(len(parts))]
        else:
            sep = b""
        return b" ".join(parts) + sep + rest
    head, sep, rest = record.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    edit = rng.choice(("length+", "length-", "length?", "drop_line", "drop_blank", "type", "version"))
    length = next((i for i, line in enumerate(lines) if line.lower().startswith(b"content-length:")), None)
    if edit.startswith("length") and length is not None:
        value = int(lines[length].split(b":")[1])
        new = {"length+": value + rng.randrange(1, 5000), "length-": rng.randrange(0, max(1, value)),
               "length?": rng.choice([b"abc", b"-7", b"", b"1e3", b"99999999999999999999"])}[edit]
        lines[length] = b"Content-Length: " + (new if isinstance(new, bytes) else str(new).encode())
    elif edit == "drop_line" and len(lines) > 1:
        del lines[rng.randrange(1, len(lines))]
    elif edit == "drop_blank":
        sep = b"\r\n"
    elif edit == "type":
        lines = [b"WARC-Type: " + rng.choice([b"respnse", b"", b"RESPONSE"]) if line.startswith(b"WARC-Type:")
                 else line for line in lines]
    else:
        lines[0] = rng.choice([b"WARC/", b"WARC/1.0 junk", b"WRAC/1.0", b""])
    return b"\r\n".join(lines) + sep + rest


def relayout(layout: Layout, records: list[bytes]) -> bytes:
    if layout.whole:
        return gzip.compress(b"".join(records), mtime=0)
    if layout.name.endswith(".gz"):
        return b"".join(gzip.compress(r, mtime=0) for r in records)
    return b"".join(records)


def decompressed(data: bytes) -> bytes:
    """Every byte any gzip member of `data` yields up to its first bad byte: where an id may come from."""
    out = [data]
    for m in re.finditer(b"\x1f\x8b\x08", data):
        d = zlib.decompressobj(31)
        for i in range(m.start(), len(data)):
            try:
                out.append(d.decompress(data[i:i + 1]))
            except zlib.error:
                break
            if d.eof:
                break
    return b"".join(out)


def check(layout: Layout, kind: str, mutant: bytes, hit: set[int], starts: list, docs: list, seconds: float) -> None:
    place = f"{layout.name} {kind} ({len(mutant)} bytes)"
    assert seconds < SECONDS_PER_MUTANT, f"{place}: {seconds:.1f} s"
    ids = [d.id for d in docs]
    assert len(ids) == len(set(ids)), f"{place}: duplicate ids {ids}"
    assert {d.metadata.get(DROP_REASON) for d in docs} <= REASONS, place
    haystack = None
    for doc in docs:
        if doc.id not in layout.baseline and not doc.id.startswith(layout.name + "#"):
            haystack = haystack or decompressed(mutant)
            assert any(doc.id.encode(c, "replace") in haystack for c in ("utf-8", "latin-1")), f"{place}: invented {doc.id}"
        if kind == "truncate" and doc.metadata.get(DROP_REASON) is None:  # nothing was changed, only cut
            assert layout.baseline.get(doc.id, (None, None))[1] == doc.text, f"{place}: {doc.id} kept cut short"
    rows = {d.id: (d.metadata.get(DROP_REASON), d.text) for d in docs}
    for i, doc_id in enumerate(layout.ids):
        if doc_id is not None and i not in hit:  # an ARC record's id is its offset, which may have moved
            now = where_id(layout, starts[i]) if doc_id == where_id(layout, layout.spans[i][0]) else doc_id
            assert rows.get(now) == layout.baseline[doc_id], f"{place}: intact record {now} changed or lost"
    assert len(docs) <= 2 * len(layout.spans) + 4, f"{place}: {len(docs)} rows for {len(layout.spans)} records"


@pytest.fixture(scope="module")
def cut_files(shared):
    found = [(path, (shared / "warc" / path)) for path in SOURCES if (shared / "warc" / path).is_file()]
    if len(found) < 8:
        pytest.skip(f"the real WARC/ARC/WET files are missing from {shared / 'warc'}")
    rng = random.Random(14)
    return [(path.rsplit("/", 1)[1], cut_down(split_records(file.read_bytes()), rng)) for path, file in found]


def test_fuzz_mutants_of_real_crawl_files(cut_files, tmp_path):
    from datatrove.utils.logging import logger

    reader = WarcReader(str(tmp_path))
    rng = random.Random(20240302)
    mutants, start = 0, time.monotonic()
    logger.disable("curate")
    try:
        for name, records in cut_files:
            for layout in layouts(name, records):
                baseline = read(reader, layout.name, layout.data)
                assert all(d.metadata.get(DROP_REASON) is None for d in baseline), layout.name
                layout.baseline = {d.id: (d.metadata.get(DROP_REASON), d.text) for d in baseline}
                offsets = [d.metadata["read__offset"] for d in baseline]
                layout.ids = doc_ids(layout, records, baseline, offsets)
                for _ in range(MUTANTS_PER_LAYOUT):
                    kind, mutant, hit, starts = mutate(layout, records, rng)
                    t = time.monotonic()
                    docs = read(reader, layout.name, mutant)
                    check(layout, kind, mutant, hit, starts, docs, time.monotonic() - t)
                    mutants += 1
    finally:
        logger.enable("curate")
    elapsed = time.monotonic() - start
    print(f"fuzz: {mutants} mutants of {len(cut_files)} real files in {elapsed:.1f} s")
    assert mutants >= 5000


def doc_ids(layout: Layout, records: list[bytes], baseline: list, offsets: list) -> list:
    """The baseline id of each record that is a document (told by its WARC-Type or ARC header line), else None."""
    docs = iter(baseline)
    ids = [next(docs).id if is_document(r) else None for r in records]
    assert next(docs, None) is None, f"{layout.name}: more documents than response/conversion records"
    return ids
