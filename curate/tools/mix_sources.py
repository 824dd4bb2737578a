"""The sources of a mix: which files a path names, and their documents read into memory (Arrow).

A path is a curate run folder (its `documents/` Parquet), a folder (every Parquet/JSONL file
under it), a glob, or a file. JSONL may be gzip- or zstd-compressed; a line that is not a JSON
object is skipped and counted (the first is named as FILE:LINE), and so is a document without
text. Parquet that cannot be read fails naming the file.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_MAX_EPOCHS = 4.0
SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".json")


class MixError(ValueError):
    """A mix file problem, or a mix the sources cannot satisfy."""


@dataclass
class SourceConfig:
    name: str
    paths: list[str]
    share: float | None = None
    tokens: int | None = None
    max_epochs: float = DEFAULT_MAX_EPOCHS
    text_field: str | list[str] = "text"
    id_field: str = "id"

@dataclass
class Source:
    """A source's documents in memory: texts and ids as Arrow arrays, tokens per document."""

    config: SourceConfig
    files: list[str]
    texts: pa.Array
    ids: pa.Array
    skipped_corrupt: int = 0
    skipped_empty: int = 0
    first_corrupt: str | None = None  # FILE:LINE of the first record that is not a JSON object
    tokens: np.ndarray | None = None


def source_files(spec: str) -> list[str]:
    """The document files a path names: a curate run folder (its documents/), a folder, a glob or a file."""
    path = Path(spec)
    if (path / "documents").is_dir() and (path / "config.resolved.yaml").is_file():
        path = path / "documents"
    if path.is_dir():
        files = [str(p) for p in sorted(path.rglob("*")) if p.is_file() and p.name.endswith(SUFFIXES)]
    elif any(c in spec for c in "*?["):
        files = sorted(f for f in glob.glob(spec, recursive=True) if f.endswith(SUFFIXES))
    elif path.is_file():
        files = [spec]
    else:
        raise MixError(f"source path not found: {spec}")
    if not files:
        raise MixError(f"no document files ({', '.join(SUFFIXES)}) under {spec}")
    return files


def read_source(config: SourceConfig) -> Source:
    """Read every document of a source; records that are not JSON, or have no text, are skipped and counted."""
    files = [f for spec in config.paths for f in source_files(spec)]
    texts: list[str] = []
    ids: list[str] = []
    counts = {"corrupt": 0, "empty": 0}
    for file in files:
        records = _parquet_records(file, config) if file.endswith(".parquet") else _jsonl_records(file, counts)
        for n, record in enumerate(records):
            text = _text_of(record, config.text_field)
            if not text or not text.strip():
                counts["empty"] += 1
                continue
            texts.append(text)
            doc_id = record.get(config.id_field)
            ids.append(str(doc_id) if doc_id is not None else f"{Path(file).name}#{n}")
    if not texts:
        raise MixError(f"source {config.name!r}: no documents with text in {config.paths}")
    return Source(config, files, pa.array(texts, pa.string()), pa.array(ids, pa.string()),
                  skipped_corrupt=counts["corrupt"], skipped_empty=counts["empty"],
                  first_corrupt=counts.get("first_corrupt"))


def _text_of(record: dict, field_names) -> str | None:
    if isinstance(field_names, str):
        value = record.get(field_names)
        return value if isinstance(value, str) else None
    parts = [record.get(name) for name in field_names]
    return "\n".join(p for p in parts if isinstance(p, str)) or None


def _parquet_records(file: str, config: SourceConfig):
    fields = [config.text_field] if isinstance(config.text_field, str) else list(config.text_field)
    try:
        schema = pq.read_schema(file)
        missing = [name for name in fields if name not in schema.names]
        if missing:
            raise MixError(f"{file}: no column {missing} (columns: {schema.names})")
        columns = fields + ([config.id_field] if config.id_field in schema.names else [])
        return pq.read_table(file, columns=columns).to_pylist()
    except (pa.ArrowException, OSError) as error:
        raise MixError(f"{file}: cannot read Parquet ({error})") from None


def _jsonl_records(file: str, counts: dict):
    import fsspec
    import orjson

    with fsspec.open(file, "rt", compression="infer", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                record = None
            if not isinstance(record, dict):
                counts["corrupt"] += 1
                counts.setdefault("first_corrupt", f"{file}:{line_no}")
                continue
            yield record
