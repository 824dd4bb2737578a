"""Which files hold documents, told by their names, and a streaming read of their records.

One suffix table for every tool that reads documents from disk: the pipeline runner (which picks
a datatrove reader stage per format), `curate mix`, `curate train-classifier` and the ablation
data loader. Before this module each had its own table and they disagreed; the table here is
their union, so a file one tool read is now read by all of them where the format applies:

- `.jsonl.zst` (runner, mix) and `.ndjson` (runner, classifier) are JSON Lines everywhere;
- `.json` (mix only) is JSON Lines too, as in Hugging Face `datasets` and dolma (`.json.gz`):
  a folder that also holds JSON side files (configs, manifests) is better named by file or glob;
- `.md` (ablation only) is a text file wherever text files are read (ablation, classifier);
- suffixes match case-insensitively (the runner and the classifier did, mix and ablation did not).

`iter_records` streams a file: JSON Lines of any compression (gzip, zstd, by suffix, through
Arrow's codecs, so no extra package), Parquet one row batch at a time, a text file as one record
`{"text": ...}`. A non-blank JSONL line that is not a JSON object is skipped and counted in a
`ReadCounts` (the first is named as FILE:LINE), never fatal. Crawl formats (WARC, ARC, WET, WAT)
are only named here; datatrove's reader stages (`curate.io.readers`) read them.

Example:
    counts = ReadCounts()
    for file in files_of("data/", DOCUMENTS):
        for record in iter_records(file, counts=counts):
            print(record.get("text"))
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

FORMATS: dict[str, tuple[str, ...]] = {
    "warc": (".warc", ".warc.gz", ".arc", ".arc.gz", ".wet", ".wet.gz", ".wat", ".wat.gz"),
    "jsonl": (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".ndjson", ".json"),
    "parquet": (".parquet",),
    "text": (".txt", ".md"),
}
DOCUMENTS = ("jsonl", "parquet")  # formats whose records are documents with fields
BATCH_ROWS = 8192  # Parquet rows decoded at a time: memory stays bounded on any file size
_COMPRESSION = {".gz": "gzip", ".zst": "zstd"}


class DocumentError(ValueError):
    """A file that cannot be read as documents: an unknown format, broken Parquet, a missing column."""


@dataclass
class ReadCounts:
    """Lines skipped because they are not a JSON object, over every file read with this object."""

    bad: int = 0
    first_bad: str | None = None  # FILE:LINE of the first


def format_of(filename: str | Path) -> str | None:
    """The format of a file by its name: "warc", "jsonl", "parquet", "text", or None."""
    name = str(filename).lower()
    for fmt, suffixes in FORMATS.items():
        if name.endswith(suffixes):
            return fmt
    return None


def suffixes(formats: Iterable[str]) -> tuple[str, ...]:
    """Every suffix of `formats`, for messages and globs."""
    return tuple(s for fmt in formats for s in FORMATS[fmt])


def files_of(path: str | Path, formats: Iterable[str] = DOCUMENTS) -> list[Path]:
    """`path` itself when it is a file (whatever its name), else every file under the folder
    `path` whose format is one of `formats`, sorted. A path that does not exist raises."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"not found: {path}")
    wanted = set(formats)
    return sorted(p for p in path.rglob("*") if p.is_file() and format_of(p.name) in wanted)


def iter_records(file: str | Path, *, fmt: str | None = None, columns: list[str] | None = None,
                 optional: Iterable[str] = (), counts: ReadCounts | None = None) -> Iterator[dict]:
    """The records of one file as dicts, streamed; `fmt` overrides the format told by the name.

    Parquet reads only `columns` (each must exist) plus those of `optional` the file has, or every
    column when `columns` is None; JSONL and text records are whole. Bad JSONL lines go to `counts`.
    """
    fmt = fmt or format_of(file)
    if fmt == "parquet":
        return _parquet_records(Path(file), columns, optional)
    if fmt == "jsonl":
        return _jsonl_records(Path(file), counts if counts is not None else ReadCounts())
    if fmt == "text":
        return iter([{"text": Path(file).read_text(encoding="utf-8", errors="replace")}])
    raise DocumentError(f"{file}: not a document file; expected one of {', '.join(suffixes(('text', *DOCUMENTS)))}")


def _parquet_records(file: Path, columns: list[str] | None, optional: Iterable[str]) -> Iterator[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(file)
        names = parquet.schema_arrow.names
        if columns is not None:
            missing = [c for c in columns if c not in names]
            if missing:
                raise DocumentError(f"{file}: no column {missing} (columns: {names})")
            columns = list(columns) + [c for c in optional if c in names and c not in columns]
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            yield from batch.to_pylist()
    except (pa.ArrowException, OSError) as error:
        raise DocumentError(f"{file}: cannot read Parquet ({error})") from None


def _jsonl_records(file: Path, counts: ReadCounts) -> Iterator[dict]:
    """Records of a JSON Lines file; gzip and zstd are told by the last suffix and decoded by Arrow.

    Text is UTF-8 with undecodable bytes replaced, so one bad byte costs a character, not the file.
    """
    import pyarrow as pa

    compression = _COMPRESSION.get(file.suffix.lower())
    raw = pa.input_stream(str(file), compression=compression)
    with io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding="utf-8", errors="replace") as text:
        for line_no, line in enumerate(text, 1):
            if not line.strip():
                continue
            record = _loads(line)
            if not isinstance(record, dict):
                counts.bad += 1
                if counts.first_bad is None:
                    counts.first_bad = f"{file}:{line_no}"
                continue
            yield record


def _loads(line: str):
    """orjson (fast); the standard library for what orjson refuses but JSON allows (NaN, huge ints)."""
    import orjson

    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            return json.loads(line)
        except ValueError:
            return None


def file_sha256(path) -> str:
    """The SHA-256 of a file, read in 1 MB blocks (manifests of mix and tokenize outputs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
