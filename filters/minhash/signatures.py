"""Pass 1 of dedup: per-document band hashes, spilled as sorted runs.

Input: the documents of one task, in stream order (readers plus every stage before the dedup
stage). Output, under `work_dir`:
  `bands/{band:03d}/{rank:05d}_{run:04d}.bin`  sorted runs of (band hash, ref) records, ref =
                                               rank << 32 | position of the document in the task
  `docs/{rank:05d}.parquet`                    per position: `key` (the order that picks the
                                               document kept in a cluster) and `id`
  `keys/{rank:05d}.bin`                        per position, the same `key` as flat uint64, memory-
                                               mapped by buckets to pick each bucket's representative
  `sigs/{rank:05d}.bin`                        (MinHash only) per position, the full signature
                                               (num_perm uint32), read by buckets to verify pairs
Memory: one batch of texts plus `buffer_records` records (16 bytes each), whatever the shard size.
"""

from __future__ import annotations

import numpy as np
import xxhash
from datatrove.data import DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep

from curate.core.hashing import EMPTY, Signer, fmix64, fold
from curate.core.step import is_dropped
from curate.core.text import lower_collapsed
from curate.filters.minhash.runs import RECORD, make_ref, write_atomic, write_run


def order_key(doc) -> int:
    """The deterministic order of documents: in a cluster the smallest key is kept. A hash of the
    id and source file, so it depends on neither the number of tasks nor the order of files."""
    return xxhash.xxh3_64_intdigest(f"{doc.id}\x00{doc.metadata.get('file_path') or ''}".encode())


class BandSignatures(PipelineStep):
    """Base of the signature passes: subclasses turn a batch of texts into (docs, bands) uint64."""

    name = "🔑 dedup signatures"
    type = "🫂 - DEDUP"
    num_bands = 1
    keep_signatures = False  # write sigs/{rank}.bin (MinhashSignatures)

    def __init__(self, work_dir: str, buffer_records: int = 1 << 22, batch_size: int = 512):
        super().__init__()
        self.work_dir = work_dir
        self.buffer_records = buffer_records
        self.batch_size = batch_size

    def band_hashes(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def signatures(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import pyarrow as pa
        import pyarrow.parquet as pq

        folder = get_datafolder(self.work_dir)
        for stale in folder.glob(f"bands/*/{rank:05d}_*"):  # left by a killed attempt of this task
            folder.rm(stale)
        runs = [0]
        buffered: list[np.ndarray] = []  # (docs, bands) hashes and refs of buffered batches
        refs: list[np.ndarray] = []
        texts, positions, keys, ids = [], [], [], []
        schema = pa.schema([("key", pa.uint64()), ("id", pa.string())])
        tmp = f"docs/{rank:05d}.parquet.tmp"
        sig_file = folder.open(f"sigs/{rank:05d}.bin.tmp", "wb") if self.keep_signatures else None
        key_file = folder.open(f"keys/{rank:05d}.bin.tmp", "wb")
        written = [0]

        def write_signatures(sigs: np.ndarray, at: list[int], upto: int) -> None:
            # one row per position, dropped documents included (as the empty signature)
            for position, row in zip([*at, upto], [*sigs, None]):
                if position > written[0]:
                    sig_file.write(np.full((position - written[0], self.num_perm), EMPTY, "<u4").tobytes())
                if row is not None:
                    sig_file.write(row.astype("<u4").tobytes())
                    written[0] = position + 1
                else:
                    written[0] = max(written[0], position)

        with folder.open(tmp, "wb") as f, pq.ParquetWriter(f, schema) as docs:
            def sign_batch():
                if texts:
                    with self.track_time("batch"):
                        if self.keep_signatures:
                            sigs = self.signatures(texts)
                            write_signatures(sigs, positions, positions[-1] + 1)
                            buffered.append(band_hashes(sigs, self.num_bands, self.rows))
                        else:
                            buffered.append(self.band_hashes(texts))
                    refs.append(make_ref(rank, positions))
                    texts.clear()
                    positions.clear()
                if sum(len(r) for r in refs) * self.num_bands >= self.buffer_records:
                    self._spill(folder, rank, runs, buffered, refs)

            position = -1
            for position, doc in enumerate(data):
                keys.append(order_key(doc))
                ids.append(str(doc.id))
                if len(keys) >= 65536:
                    docs.write_table(pa.table({"key": pa.array(keys, pa.uint64()), "id": ids}, schema=schema))
                    key_file.write(np.array(keys, "<u8").tobytes())
                    keys.clear()
                    ids.clear()
                if is_dropped(doc):
                    continue
                self.stat_update("signed")
                texts.append(doc.text or "")
                positions.append(position)
                if len(texts) >= self.batch_size:
                    sign_batch()
            sign_batch()
            docs.write_table(pa.table({"key": pa.array(keys, pa.uint64()), "id": ids}, schema=schema))
            key_file.write(np.array(keys, "<u8").tobytes())
        key_file.close()
        folder.mv(f"keys/{rank:05d}.bin.tmp", f"keys/{rank:05d}.bin")
        self._spill(folder, rank, runs, buffered, refs)
        if sig_file is not None:
            write_signatures(np.empty((0, self.num_perm), np.uint32), [], position + 1)
            sig_file.close()
            folder.mv(f"sigs/{rank:05d}.bin.tmp", f"sigs/{rank:05d}.bin")
        folder.mv(tmp, f"docs/{rank:05d}.parquet")
        write_atomic(folder, f"done/{rank:05d}", b"")
        return
        yield  # a generator that yields nothing: this pass ends its pipeline

    def _spill(self, folder, rank: int, runs: list[int], buffered: list, refs: list) -> None:
        if not refs:
            return
        hashes, ref = np.concatenate(buffered), np.concatenate(refs)
        for band in range(self.num_bands):
            records = np.empty(len(ref), RECORD)
            records["h"], records["ref"] = hashes[:, band], ref
            write_run(folder, f"bands/{band:03d}/{rank:05d}_{runs[0]:04d}.bin", records)
        runs[0] += 1
        buffered.clear()
        refs.clear()


class MinhashSignatures(BandSignatures):
    """MinHash signatures cut into `num_bands` bands of `rows` hashes; a band's hash is a 64-bit
    hash of its rows, so two documents share a bucket iff the band's rows are all equal.
    Input and output files: see the module docstring."""

    def __init__(self, work_dir: str, num_bands: int = 14, rows: int = 8, n: int = 5, unit: str = "word",
                 seed: int = 1, buffer_records: int = 1 << 22, batch_size: int = 512, keep_signatures: bool = True):
        super().__init__(work_dir, buffer_records, batch_size)
        self.num_bands, self.rows, self.num_perm = num_bands, rows, num_bands * rows
        self.signer = Signer(num_perm=num_bands * rows, n=n, unit=unit, seed=seed)
        self.keep_signatures = keep_signatures

    def signatures(self, texts: list[str]) -> np.ndarray:
        return self.signer.sign(texts)

    def band_hashes(self, texts: list[str]) -> np.ndarray:
        return band_hashes(self.signer.sign(texts), self.num_bands, self.rows)


def band_hashes(signatures: np.ndarray, num_bands: int, rows: int) -> np.ndarray:
    """(docs, bands * rows) uint32 signatures -> (docs, bands) uint64 band hashes: fmix64 of the
    fold of the band's rows (`curate.core.hashing`, the n-gram hash with rows for words)."""
    sig = signatures.reshape(len(signatures), num_bands, rows).astype(np.uint64)
    h = np.zeros(sig.shape[:2], np.uint64)
    for r in range(rows):
        h = fold(h, sig[:, :, r])
    return fmix64(h)


class ExactSignatures(BandSignatures):
    """One 'band' per document: the 64-bit xxh3 of its normalised text (lowercased, whitespace
    runs collapsed). Input and output files: see the module docstring."""

    def band_hashes(self, texts: list[str]) -> np.ndarray:
        return np.array([[xxhash.xxh3_64_intdigest(lower_collapsed(t).encode())] for t in texts], dtype=np.uint64)
