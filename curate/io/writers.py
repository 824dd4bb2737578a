"""The end of every curate pipeline: kept documents to `documents/`, one row per record to `decisions/`.

Both outputs are written by datatrove `ParquetWriter`s with an explicit schema (so every task
writes the same columns, whatever its documents) and row groups of 100,000 rows, which lets DuckDB
skip row groups by their column statistics instead of issuing one request per tiny group
(datatrove #263). Memory is bounded by one row group per output, whatever the shard size.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers import ParquetWriter

from curate.core.step import DROP_REASON, DROP_STAGE, is_dropped

ROW_GROUP = 100_000
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
    """Every signal column that `steps` declare, in pipeline order."""
    columns: dict[str, str] = {}
    for step in steps:
        cls = type(step) if not isinstance(step, type) else step
        namespace = getattr(cls, "namespace", "")
        all_signals = cls.all_signals() if hasattr(cls, "all_signals") else getattr(cls, "signals", {})
        for signal, kind in all_signals.items():
            columns[f"{namespace}__{signal}"] = kind
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
        return ParquetWriter(
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
        with get_datafolder(f"{self.output_folder}/{sub}").open(f"{rank:05d}.parquet", "wb") as f:
            pq.write_table(schema.empty_table(), f)


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
