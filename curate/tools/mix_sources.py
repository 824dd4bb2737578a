"""The sources of a mix: which files a path names, and their documents read into memory (Arrow).

A path is a curate run folder (its `documents/` Parquet), a folder (every Parquet/JSONL file
under it, by the suffix table of `curate.io.documents`), a glob, or a file (read as JSONL unless
its name says Parquet). JSONL may be gzip- or zstd-compressed; a line that is not a JSON object
is skipped and counted (the first is named as FILE:LINE), and so is a document without text.
Parquet that cannot be read fails naming the file.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.io import documents

DEFAULT_MAX_EPOCHS = 4.0
SUFFIXES = documents.suffixes(documents.DOCUMENTS)


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
    extra_fields: list[str] = field(default_factory=list)  # also read (mix by label: the label column)


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
    extra: dict = field(default_factory=dict)  # extra field -> its value per document (None where absent)
    origin: pa.Array | None = None  # mix by label: each document's source (a group holds several)
    label: pa.Array | None = None  # mix by label: each document's label


def source_files(spec: str) -> list[str]:
    """The document files a path names: a curate run folder (its documents/), a folder, a glob or a file."""
    path = Path(spec)
    if (path / "documents").is_dir() and (path / "config.resolved.yaml").is_file():
        path = path / "documents"
    if path.is_dir():
        files = [str(p) for p in documents.files_of(path, documents.DOCUMENTS)]
    elif any(c in spec for c in "*?["):
        files = sorted(f for f in glob.glob(spec, recursive=True) if documents.format_of(f) in documents.DOCUMENTS)
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
    extra: dict[str, list] = {name: [] for name in config.extra_fields}
    corrupt, empty = documents.ReadCounts(), 0
    for file in files:
        for n, record in enumerate(_records(file, config, corrupt)):
            text = _text_of(record, config.text_field)
            if not text or not text.strip():
                empty += 1
                continue
            texts.append(text)
            doc_id = record.get(config.id_field)
            ids.append(str(doc_id) if doc_id is not None else f"{Path(file).name}#{n}")
            for name, values in extra.items():
                values.append(record.get(name))
    if not texts:
        raise MixError(f"source {config.name!r}: no documents with text in {config.paths}")
    return Source(config, files, pa.array(texts, pa.string()), pa.array(ids, pa.string()),
                  skipped_corrupt=corrupt.bad, skipped_empty=empty, first_corrupt=corrupt.first_bad, extra=extra)


def _text_of(record: dict, field_names) -> str | None:
    if isinstance(field_names, str):
        value = record.get(field_names)
        return value if isinstance(value, str) else None
    parts = [record.get(name) for name in field_names]
    return "\n".join(p for p in parts if isinstance(p, str)) or None


def _records(file: str, config: SourceConfig, corrupt: documents.ReadCounts):
    """The records of one file: Parquet reads only the text and id columns; any other file is JSONL."""
    fmt = "parquet" if documents.format_of(file) == "parquet" else "jsonl"
    fields = [config.text_field] if isinstance(config.text_field, str) else list(config.text_field)
    try:
        yield from documents.iter_records(file, fmt=fmt, columns=fields, optional=[config.id_field, *config.extra_fields],
                                          counts=corrupt)
    except documents.DocumentError as error:
        raise MixError(str(error)) from None
