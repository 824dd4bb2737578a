"""curate.io.documents: the one suffix table, and records streamed from JSONL (plain, gzip, zstd), Parquet, text."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io import documents
from curate.io.documents import DocumentError, ReadCounts, files_of, format_of, iter_records
from curate.pipelines import runner

RECORDS = [{"id": f"r{i}", "text": f"document {i}"} for i in range(3)]


@pytest.mark.parametrize("name, fmt", [
    ("a.warc.gz", "warc"), ("a.WARC.GZ", "warc"), ("b.arc", "warc"), ("c.wet.gz", "warc"), ("d.wat", "warc"),
    ("e.jsonl", "jsonl"), ("e.jsonl.gz", "jsonl"), ("e.jsonl.zst", "jsonl"), ("e.json.gz", "jsonl"),
    ("e.ndjson", "jsonl"), ("e.json", "jsonl"), ("f.parquet", "parquet"), ("g.txt", "text"), ("h.md", "text"),
    ("README", None), ("tokens.bin", None), ("x.warc.paths.gz", None), ("notes.ndjson.bak", None),
])
def test_format_of(name, fmt):
    assert format_of(name) == fmt


def test_runner_picks_its_reader_stage_from_the_same_table():
    stage_of = {"warc": "warc_reader", "jsonl": "jsonl_reader", "parquet": "parquet_reader", "text": None, None: None}
    for name in ("a.warc.gz", "b.arc.gz", "e.jsonl.zst", "e.ndjson", "e.json", "f.parquet", "g.txt", "README"):
        assert runner.reader_for(name) == stage_of[format_of(name)], name


def write_jsonl(path, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        with pa.CompressedOutputStream(str(path), "zstd") as out:
            out.write(data)
        return
    path.write_bytes(data)


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz", "a.json.gz", "a.jsonl.zst", "a.ndjson"])
def test_jsonl_of_any_compression_skips_and_names_bad_lines(tmp_path, name):
    lines = [json.dumps(RECORDS[0]), "", "{not json", "[1, 2]", json.dumps(RECORDS[1]), '{"text": NaN}',
             json.dumps(RECORDS[2])]
    write_jsonl(tmp_path / name, lines)
    counts = ReadCounts()
    records = list(iter_records(tmp_path / name, counts=counts))
    assert records[:2] == RECORDS[:2] and records[3] == RECORDS[2]
    assert records[2]["text"] != records[2]["text"]  # NaN: valid for Python's json, read rather than lost
    assert (counts.bad, counts.first_bad) == (2, f"{tmp_path / name}:3")  # the blank line is not bad
    list(iter_records(tmp_path / name, counts=counts))
    assert (counts.bad, counts.first_bad) == (4, f"{tmp_path / name}:3")  # counts add up over files


def test_undecodable_bytes_cost_a_character_not_the_file(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "caf\xe9"}\n' + json.dumps(RECORDS[0]).encode() + b"\n")
    assert [r["text"] for r in iter_records(tmp_path / "a.jsonl")] == ["caf\ufffd", "document 0"]


def test_parquet_streams_batches_and_reads_only_the_columns_asked(tmp_path, monkeypatch):
    n = 25
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(n)], "text": [f"t{i}" for i in range(n)],
                             "big": ["x" * 10] * n}), tmp_path / "f.parquet", row_group_size=7)
    monkeypatch.setattr(documents, "BATCH_ROWS", 4)
    assert list(iter_records(tmp_path / "f.parquet")) == [{"id": f"p{i}", "text": f"t{i}", "big": "x" * 10}
                                                        for i in range(n)]
    rows = list(iter_records(tmp_path / "f.parquet", columns=["text"], optional=["id", "missing"]))
    assert rows == [{"text": f"t{i}", "id": f"p{i}"} for i in range(n)]
    with pytest.raises(DocumentError, match=r"no column \['title'\]"):
        list(iter_records(tmp_path / "f.parquet", columns=["title"]))
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DocumentError, match="broken.parquet: cannot read Parquet"):
        list(iter_records(tmp_path / "broken.parquet"))


def test_text_files_are_one_record_and_other_files_are_refused(tmp_path):
    (tmp_path / "g.txt").write_text("para one\n\npara two\n")
    assert list(iter_records(tmp_path / "g.txt")) == [{"text": "para one\n\npara two\n"}]
    (tmp_path / "g.txt").rename(tmp_path / "g.data")
    with pytest.raises(DocumentError, match="not a document file"):
        iter_records(tmp_path / "g.data")
    assert list(iter_records(tmp_path / "g.data", fmt="text")) == [{"text": "para one\n\npara two\n"}]


def test_files_of_lists_a_folder_by_format_sorted(tmp_path):
    for name in ("b/2.jsonl.gz", "b/1.parquet", "a.txt", "README", "c/x.warc.gz", "c/y.JSONL"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    got = [p.relative_to(tmp_path).as_posix() for p in files_of(tmp_path, ("jsonl", "parquet"))]
    assert got == ["b/1.parquet", "b/2.jsonl.gz", "c/y.JSONL"]
    assert [p.name for p in files_of(tmp_path, ("text", "warc"))] == ["a.txt", "x.warc.gz"]
    assert files_of(tmp_path / "README") == [tmp_path / "README"]  # a file named directly is taken as given
    with pytest.raises(FileNotFoundError):
        files_of(tmp_path / "nope")
