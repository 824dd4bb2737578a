"""The end of every curate pipeline: kept documents to `documents/`, one row per record to `decisions/`.

Both outputs are written by datatrove `ParquetWriter`s with an explicit schema (so every task
writes the same columns, whatever its documents) and large row groups, which lets DuckDB skip row
groups by their column statistics instead of issuing one request per tiny group (datatrove #263).
A row group ends at 100,000 rows or at 16 MB of buffered Arrow data, whichever comes first
(`BoundedParquetWriter`): datatrove's writer buffers rows as Python dicts by count only, so one
task held up to 100,000 decision rows (60 columns each) and kept documents before writing any,
and its peak RSS grew from 420 MB at 2,529 pages to 1,387 MB at 40,464 (issue 14). Buffered
rows become Arrow every 1,000 rows or 4 MB, so a task's two writers hold at most about 8 MB of
Python rows and 32 MB of Arrow data, whatever the shard size (bench/memory.py).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from contextlib import contextmanager
from urllib.parse import urlsplit

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers import ParquetWriter

from curate.core.step import DROP_REASON, DROP_STAGE, DeclaresSignals, is_dropped, signal_key

ROW_GROUP = 100_000
MAX_BUFFER_BYTES = 16 * 2**20  # Arrow bytes a writer buffers (over its open files) before writing a row group
CHUNK_ROWS = 1_000  # Python rows buffered per file before they become Arrow ...
CHUNK_BYTES = 4 * 2**20  # ... or this many bytes of Python rows (`row_bytes`) over a writer's open files
PARTITIONS = {"language": "lang"}  # column -> Hive partition key of documents/ (`lang=en`)
UNDETERMINED = "und"

# Columns of the decision table that do not depend on the pipeline's stages.
DECISION_COLUMNS = {
    "id": "string",
    "url": "string",
    "domain": "string",
    "source_file": "string",
    "stage": "string",
    "reason": "string",
    "language": "string",
    "language_score": "float64",
    "n_chars": "int64",
    "n_words": "int64",
}
DOCUMENT_COLUMNS = {"id": "string", "text": "string", "url": "string", "domain": "string", "source_file": "string",
                    "language": "string", "language_score": "float64", "n_chars": "int64", "n_words": "int64"}


def arrow_type(name: str):
    import pyarrow as pa

    if name.startswith("list<") and name.endswith(">"):
        return pa.list_(arrow_type(name[5:-1]))
    return {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(),
            "float32": pa.float32(), "bool": pa.bool_()}[name]


def schema_of(columns: dict[str, str]):
    import pyarrow as pa

    return pa.schema([(name, arrow_type(kind)) for name, kind in columns.items()])


def signal_columns(steps) -> dict[str, str]:
    """Every signal column that `steps` (instances or classes) declare, in pipeline order; a step
    that does not declare signals (`DeclaresSignals`: curate's stages and readers) adds none."""
    columns: dict[str, str] = {}
    for step in steps:
        cls = step if isinstance(step, type) else type(step)
        if not issubclass(cls, DeclaresSignals):
            continue
        for signal, kind in cls.all_signals().items():  # an instance may name its own namespace (classify)
            columns[signal_key(step.namespace, signal)] = kind
    return columns


def domain_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if host and host.startswith("www."):
        host = host[4:]
    return host


class DecisionWriter(PipelineStep):
    """Write kept documents and the decision table; the last step of every curate pipeline.

    `signals` maps every signal column to its Arrow type (`signal_columns(steps)` builds it from
    the pipeline), so each task's files share one schema. Files are named by task rank
    (`documents/00003.parquet`); a re-run of a task rewrites its files, so a killed run resumed by
    datatrove's completion markers neither loses nor duplicates documents. `partition_by:
    language` writes kept documents per language, Hive-style (`documents/lang=en/00003.parquet`,
    `lang=und` for none), through datatrove's `${metadata}` filename templates; the decision
    table is never partitioned.
    Example: `DecisionWriter("out/", signal_columns(steps))`.
    """

    name = "🧾 curate decisions"
    type = "💽 - WRITER"

    def __init__(self, output_folder: str, signals: dict[str, str], row_group_size: int = ROW_GROUP,
                 partition_by: str | None = None):
        super().__init__()
        self.output_folder = str(output_folder).rstrip("/")
        self.signals = dict(signals)
        self.row_group_size = row_group_size
        if partition_by not in (None, *PARTITIONS):
            raise ValueError(f"partition_by must be one of {sorted(PARTITIONS)} or None, got {partition_by!r}")
        self.partition_by = partition_by

    def _writer(self, sub: str, columns: dict[str, str], filename: str = "${rank}.parquet") -> ParquetWriter:
        return BoundedParquetWriter(
            f"{self.output_folder}/{sub}",
            output_filename=filename,
            batch_size=self.row_group_size,
            schema=schema_of(columns),
            max_file_size=-1,
            adapter=_unwrap_row,
            use_content_defined_chunking=False,
        )

    def rows(self, doc: Document) -> tuple[dict, dict | None]:
        meta = doc.metadata
        url = meta.get("url")
        text = doc.text or ""
        # before extraction the text is raw HTML: its length says nothing about the document
        unextracted = meta.get(DROP_STAGE) in ("read", "extract")
        base = {
            "id": str(doc.id),
            "url": url,
            "domain": domain_of(url),
            "source_file": meta.get("file_path"),
            "language": meta.get("language"),
            "language_score": meta.get("language_score"),
            "n_chars": None if unextracted else len(text),
            "n_words": None if unextracted else len(text.split()),
        }
        signals = {column: meta.get(column) for column in self.signals}
        decision = {**base, "stage": meta.get(DROP_STAGE), "reason": meta.get(DROP_REASON), **signals}
        if is_dropped(doc):
            return decision, None
        return decision, {**base, "text": text, **signals}

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        decisions = self._writer("decisions", {**DECISION_COLUMNS, **self.signals})
        partition = f"{PARTITIONS[self.partition_by]}=${{curate_partition}}/" if self.partition_by else ""
        documents = self._writer("documents", {**DOCUMENT_COLUMNS, **self.signals}, partition + "${rank}.parquet")
        n_records = n_kept = 0
        with decisions, documents:
            for doc in data:
                decision, kept = self.rows(doc)
                decisions.write(_Row(decision), rank)
                n_records += 1
                if kept is not None:
                    documents.write(_Row(kept, self.partition_by), rank)
                    n_kept += 1
                    yield doc
        self.stat_update("records", value=n_records)
        self.stat_update("kept", value=n_kept)
        # an empty task still writes a file with the full schema, so queries over the folder work
        for sub, columns, count in (("decisions", DECISION_COLUMNS, n_records), ("documents", DOCUMENT_COLUMNS, n_kept)):
            if count == 0:
                folder = f"{sub}/{PARTITIONS[self.partition_by]}={UNDETERMINED}" if self.partition_by and sub == "documents" else sub
                self._write_empty(folder, {**columns, **self.signals}, rank)

    def _write_empty(self, sub: str, columns: dict[str, str], rank: int) -> None:
        import pyarrow.parquet as pq
        from datatrove.io import get_datafolder

        schema = schema_of(columns)
        with naming(f"{self.output_folder}/{sub}/{rank:05d}.parquet"), \
                get_datafolder(f"{self.output_folder}/{sub}").open(f"{rank:05d}.parquet", "wb") as f:
            pq.write_table(schema.empty_table(), f)


class BoundedParquetWriter(ParquetWriter):
    """datatrove's `ParquetWriter` that ends a row group at `batch_size` rows or once its open
    files together buffer `max_buffer_bytes` of Arrow data, whichever comes first.

    datatrove's writer keeps up to `batch_size` rows as Python dicts, and a dict of 60 columns
    costs several times its Arrow size. Here rows become Arrow record batches every `CHUNK_ROWS`
    rows or `CHUNK_BYTES` (estimated, over all open files), and a row group is written from a
    file's batches when they reach `batch_size` rows or, once all files' batches together pass
    the byte bound, from the file holding the most. Row groups are as large as the bound allows
    (DuckDB skips row groups by their statistics), and memory depends neither on the shard's size
    nor on the number of partitions. Needs an explicit `schema`.
    """

    def __init__(self, *args, max_buffer_bytes: int = MAX_BUFFER_BYTES, **kwargs):
        super().__init__(*args, **kwargs)
        if self.schema is None:
            raise ValueError("BoundedParquetWriter needs an explicit schema")
        self.max_buffer_bytes = max_buffer_bytes
        self.chunk_rows = min(CHUNK_ROWS, self.batch_size)
        self._pending: Counter = Counter()  # filename -> estimated bytes of its Python rows
        self._chunks: dict[str, list] = defaultdict(list)  # filename -> Arrow record batches
        self._chunk_rows: Counter = Counter()
        self._chunk_bytes: Counter = Counter()

    def _write(self, document: dict, file_handler, filename: str):
        with naming(f"{self.output_folder.path}/{filename}"):
            self._buffer(document, file_handler, filename)

    def close_file(self, filename: str):
        with naming(f"{self.output_folder.path}/{filename}"):
            super().close_file(filename)

    def _buffer(self, document: dict, file_handler, filename: str):
        if self.max_file_size > 0:
            filename = self._get_filename_with_file_id(filename)
        if filename not in self._writers:
            import pyarrow.parquet as pq

            self._writers[filename] = pq.ParquetWriter(
                file_handler, schema=self.schema, compression=self.compression,
                use_content_defined_chunking=self.use_content_defined_chunking,
                write_page_index=self.write_page_index)
        rows = self._batches[filename]
        rows.append(document)
        self._pending[filename] += row_bytes(document)
        if len(rows) >= self.chunk_rows or self._chunk_rows[filename] + len(rows) >= self.batch_size:
            self._to_arrow(filename)
        elif self._pending.total() >= CHUNK_BYTES:
            self._to_arrow(max(self._pending, key=self._pending.get))
        else:
            return
        if self._chunk_rows[filename] >= self.batch_size:
            self._write_batch(filename)
        elif self._chunk_bytes.total() >= self.max_buffer_bytes:
            self._write_batch(max(self._chunk_bytes, key=self._chunk_bytes.get))

    def _to_arrow(self, filename: str) -> None:
        import pyarrow as pa

        rows = self._batches.pop(filename, None)
        self._pending.pop(filename, None)
        if rows:
            batch = pa.RecordBatch.from_pylist(rows, schema=self.schema)
            self._chunks[filename].append(batch)
            self._chunk_rows[filename] += batch.num_rows
            self._chunk_bytes[filename] += batch.nbytes

    def _write_batch(self, filename: str) -> None:
        """Write everything `filename` buffers as one row group (datatrove calls this on close too)."""
        import pyarrow as pa

        self._to_arrow(filename)
        chunks = self._chunks.pop(filename, None)
        self._chunk_rows.pop(filename, None)
        self._chunk_bytes.pop(filename, None)
        if chunks:
            table = pa.Table.from_batches(chunks, schema=self.schema)
            self._writers[filename].write_table(table, row_group_size=table.num_rows)


def row_bytes(row: dict) -> int:
    """About what `row` costs as a Python dict: its strings, and 64 bytes per column (the dict's
    slot and a boxed number); close enough to bound a buffer, cheap enough to run on every row."""
    return 64 * len(row) + sum(len(v) for v in row.values() if type(v) is str)


@contextmanager
def naming(path: str):
    """Give an OSError raised inside the `with` that names no file (a failed write or flush, as on
    a full disk) `path` as its filename, so the CLI's one-line error says where."""
    try:
        yield
    except OSError as error:
        if error.filename is not None:
            raise
        raise OSError(error.errno, error.strerror or str(error), path) from error


def _unwrap_row(_writer, doc: _Row) -> dict:
    return doc.row


class _Row(Document):
    """A prepared row passed to datatrove's writer; its adapter returns the row unchanged."""

    def __init__(self, row: dict, partition_by: str | None = None):
        metadata = {"curate_partition": _path_safe(row.get(partition_by))} if partition_by else {}
        super().__init__(text="", id=row["id"], metadata=metadata)
        self.row = row


def _path_safe(value) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(value)) if value else UNDETERMINED
