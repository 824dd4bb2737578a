"""Every fault class of the fault corpus (tests/faults.py) gives exactly the rows known by construction."""

import random
import re
import time

import duckdb
import pytest
from click.testing import CliRunner

from curate.core.step import DROP_REASON, is_dropped
from curate.io.readers import JsonlReader, ParquetReader, WarcReader
from tests.conftest import write_recipe
from tests.faults import ANY_TAIL, BUILDERS, corpus

SEEDS = range(12)
READERS = {"warc": WarcReader, "jsonl": JsonlReader, "parquet": ParquetReader}
SECONDS = 10  # a fault file of a few KB; a loop or a quadratic rescan would blow this


def read_fault(fault, folder):
    folder.mkdir(parents=True)
    for name, data in fault.files.items():
        (folder / name).write_bytes(data)
    kwargs = {"max_payload_bytes": fault.max_payload_bytes} if fault.kind == "warc" else {}
    start = time.monotonic()
    docs = list(READERS[fault.kind](str(folder), **kwargs)())
    return docs, time.monotonic() - start


def matches(expected_id, doc_id: str) -> bool:
    return expected_id.fullmatch(doc_id) is not None if isinstance(expected_id, re.Pattern) else expected_id == doc_id


def assert_rows(fault, docs):
    got = [(d.id, d.metadata.get(DROP_REASON)) for d in docs]
    expected = list(fault.rows)
    if expected and expected[-1] == ANY_TAIL:
        expected.pop()
        tail = got[len(expected):]
        assert any(reason == ANY_TAIL[1] for _, reason in tail), f"{fault.name}: {got}"
        assert all(reason == ANY_TAIL[1] or reason is None and i in fault.tail_ids for i, reason in tail), got
        assert len(tail) <= fault.records - len(expected) + 2, f"{fault.name}: {len(tail)} rows for the rest: {tail}"
        got = got[:len(expected)]
    assert len(got) == len(expected), f"{fault.name}: {len(got)} rows, expected {len(expected)}:\n{got}\n{expected}"
    for (doc_id, reason), (want_id, want_reason) in zip(got, expected):
        assert matches(want_id, doc_id) and (reason == want_reason or isinstance(want_reason, re.Pattern) and matches(
            want_reason, reason or "")), f"{fault.name}: {got} != {expected}"
    assert len({d.id for d in docs}) == len(docs), f"{fault.name}: duplicate ids"


@pytest.mark.parametrize("seed", SEEDS)
def test_every_fault_gives_the_rows_known_by_construction(seed, tmp_path):
    for fault in corpus(seed):
        docs, seconds = read_fault(fault, tmp_path / fault.name)
        assert seconds < SECONDS, f"{fault.name}: {seconds:.1f} s"
        assert_rows(fault, docs)
        by_id = {d.id: d for d in docs}
        for doc_id, checks in fault.checks.items():
            for key, value in checks.items():
                if key == "text~":
                    assert value in by_id[doc_id].text, f"{fault.name}: {doc_id}"
                else:
                    got = by_id[doc_id].metadata.get(key)
                    assert got in value if isinstance(value, set) else got == value, f"{fault.name}: {doc_id} {key}"


def test_the_corpus_covers_every_fault_class_of_the_issue():
    names = {b.__name__.removeprefix("fault_") for b in BUILDERS}
    assert {"gz_cut_mid_member", "warc_cut_mid_payload", "warc_cl_too_large", "warc_cl_missing",
            "warc_garbage_without_newline", "gz_cl_too_small", "missing_warc_type", "gz_cl_not_a_number",
            "warc_cl_negative", "whole_file_gzip", "whole_file_gzip_damaged", "jsonl_bad_lines", "jsonl_invalid_utf8",
            "jsonl_gz_truncated", "parquet_damaged", "too_large", "charsets", "arc_cut"} <= names


def test_drop_rows_say_what_went_wrong(tmp_path):
    by_name = {f.name: f for f in corpus(7)}
    docs, _ = read_fault(by_name["warc_cl_missing"], tmp_path / "a")
    (bad,) = [d for d in docs if is_dropped(d)]
    assert "Content-Length: missing" in bad.metadata["read__error"] and bad.metadata["url"].startswith("https://")
    docs, _ = read_fault(by_name["warc_garbage_without_newline"], tmp_path / "b")
    (garbage,) = [d for d in docs if is_dropped(d)]
    assert garbage.id == f"g.warc#{garbage.metadata['read__offset']}" and "not a WARC record" in garbage.metadata[
        "read__error"]
    docs, _ = read_fault(by_name["missing_warc_type"], tmp_path / "c")
    assert "WARC-Type: missing" in next(d for d in docs if is_dropped(d)).metadata["read__error"]


def test_a_too_large_page_is_never_held_whole(tmp_path):
    """An 8 MB page over a 100 KB limit is streamed past: the reader's peak is a small multiple of the
    limit plus its 1 MiB read buffer, not the page (the old reader held it whole, twice: bytes and text)."""
    import tracemalloc

    from tests.faults import members, record_id, warc_record

    rid = record_id(random.Random(1))
    page = ("<html><body>" + "<p>a page far too large to hold</p>\n" * 230_000 + "</body></html>").encode()
    path = tmp_path / "big" / "b.warc.gz"
    path.parent.mkdir()
    path.write_bytes(members([warc_record(rid, "https://big.test/", page)])[0])
    tracemalloc.start()
    (doc,) = WarcReader(str(path.parent), max_payload_bytes=100_000)()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert doc.metadata[DROP_REASON] == "read:too_large" and doc.metadata["read__payload_bytes"] == len(page)
    assert peak < 4_000_000, f"peak {peak:,} bytes reading a {len(page):,}-byte page"


def test_faults_end_to_end_through_curate_run(tmp_path):
    """A crawl folder with damaged WARC, JSONL and Parquet files: exit 0, one row per record."""
    from curate.cli import main

    inputs = tmp_path / "in"
    inputs.mkdir()
    expected = {}
    for fault in corpus(11):
        if fault.name not in ("gz_cut_mid_member", "warc_garbage_without_newline", "jsonl_gz_truncated",
                              "parquet_damaged", "gz_cl_not_a_number", "whole_file_gzip"):
            continue
        for name, data in fault.files.items():
            (inputs / f"{fault.name}-{name}").write_bytes(data)
        expected[fault.name] = len(fault.rows)
    recipe = write_recipe(tmp_path, f"input: [{inputs}]\noutput: {tmp_path / 'out'}\nstages:\n  - length: {{}}\n")
    result = CliRunner().invoke(main, ["run", str(recipe), "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = duckdb.sql(f"SELECT id, reason FROM '{tmp_path}/out/decisions/*.parquet'").fetchall()
    assert len(rows) == sum(expected.values()) and len({i for i, _ in rows}) == len(rows)
    reasons = {r for _, r in rows}
    assert {"read:truncated_record", "read:corrupt_record", "read:corrupt_file"} <= reasons
