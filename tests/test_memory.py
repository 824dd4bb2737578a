"""Memory that does not grow with the shard (issue 14): the writers' buffers are bounded in bytes as
well as rows, and the text-feature caches in documents and characters."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datatrove.data import Document

from curate.io.writers import CHUNK_BYTES, MAX_BUFFER_BYTES, DecisionWriter, _Row, schema_of

TEXT = "A sentence of an ordinary page, repeated to make a long document. "


def documents(n: int, chars: int):
    for i in range(n):
        text = (TEXT * (chars // len(TEXT) + 1))[:chars - 8] + f"{i:08d}"
        yield Document(text=text, id=f"d{i}", metadata={"x__score": i / 7})


def test_row_groups_end_at_the_byte_bound_and_every_row_is_written(tmp_path):
    n, chars = 600, 100_000  # 60 MB of text: several row groups of at most MAX_BUFFER_BYTES
    writer = DecisionWriter(str(tmp_path), {"x__score": "float64"})
    peak = 0
    for _ in writer.run(documents(n, chars)):
        peak = max(peak, pa.total_allocated_bytes())
    meta = pq.ParquetFile(tmp_path / "documents" / "00000.parquet").metadata
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    assert sum(g.num_rows for g in groups) == n
    assert len(groups) >= 60_000_000 // MAX_BUFFER_BYTES
    assert all(g.total_byte_size <= MAX_BUFFER_BYTES + CHUNK_BYTES + 2**20 for g in groups)
    assert max(g.num_rows for g in groups) >= (MAX_BUFFER_BYTES - CHUNK_BYTES) // chars  # as large as the bound allows
    assert peak < 2 * (MAX_BUFFER_BYTES + CHUNK_BYTES)  # Arrow memory while writing: the buffers, not the shard
    table = pq.read_table(tmp_path / "documents" / "00000.parquet", columns=["id", "text"])
    assert table.column("id").to_pylist() == [f"d{i}" for i in range(n)]
    assert table.column("text")[n - 1].as_py().endswith(f"{n - 1:08d}")


def test_python_rows_are_bounded_over_many_partitions(tmp_path):
    """100 partitions (languages) of 30 KB rows: the Python rows held never pass the chunk bound by much."""
    writer = DecisionWriter(str(tmp_path), {}, partition_by="language")
    documents_writer = writer._writer("documents", {"id": "string", "text": "string", "language": "string"},
                                      "lang=${curate_partition}/${rank}.parquet")
    held = 0
    with documents_writer:
        for i in range(3000):
            row = {"id": str(i), "text": "w" * 30_000, "language": f"l{i % 100}"}
            documents_writer.write(_Row(row, "language"), 0)
            held = max(held, documents_writer._pending.total())
    assert held <= CHUNK_BYTES + 40_000
    files = sorted((tmp_path / "documents").rglob("*.parquet"))
    assert len(files) == 100
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == 3000


def test_the_schema_is_required(tmp_path):
    from curate.io.writers import BoundedParquetWriter

    with pytest.raises(ValueError, match="schema"):
        BoundedParquetWriter(str(tmp_path))
    assert BoundedParquetWriter(str(tmp_path), schema=schema_of({"id": "string"})).schema.names == ["id"]


def test_the_feature_cache_holds_a_few_documents_and_a_bounded_number_of_characters():
    from curate.core import textfeatures

    class Doc:
        def __init__(self, text):
            self.text, self.metadata = text, {}

    small = [Doc(f"short document number {i}") for i in range(10)]
    for doc in small:
        textfeatures.features(doc)
    assert len(textfeatures._cache) == textfeatures._CACHE_SIZE
    long_docs = [Doc("word " * (textfeatures._CACHE_CHARS // 5 + 1)) for _ in range(2)]
    for doc in long_docs:
        feats = textfeatures.features(doc)
        assert textfeatures.features(doc) is feats  # the newest document is always kept for the next filter
        assert len(textfeatures._cache) == 1  # one text over the bound: nothing older stays


def test_the_inverse_power_table_of_a_very_long_text_is_not_kept():
    from curate.core import textfeatures

    size = textfeatures._MAX_TABLE * 3
    table = textfeatures._inverse_powers(size)
    assert len(table) == size and len(textfeatures._inverse_power_table) <= textfeatures._MAX_TABLE
    assert (textfeatures._inverse_powers(1000)[:1000] == table[:1000]).all()
    features = textfeatures.TextFeatures("alpha beta gamma alpha beta gamma " * 50_000, "en")
    assert features.dup_ngram_chars(2) > 0 and len(textfeatures._inverse_power_table) <= textfeatures._MAX_TABLE
