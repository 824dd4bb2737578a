"""Pass 2 of dedup: documents that share a band hash become edges of the duplicate graph.

Input: `bands/{band:03d}/*.bin`, the sorted runs of every signature task, and `keys/*.bin`, each
document's order key. Output: `edges/{rank:05d}.bin`, (ref a, ref b) pairs; every document of a
bucket is joined to the bucket's *representative*, its member with the smallest order key (a hash
of id and source file, signatures.order_key). The key, not the ref (task << 32 | position), picks
it, so the graph is the same however the documents fall into tasks. With the first ref instead,
bench/determinism.py's corpus of 16,000 real documents kept 12,993 with 1 task and 12,990 with 4
(68 decision rows differed; issue 14 saw 7,445 and 7,467 on its own). With `min_similarity`,
an edge is kept only if the two full signatures (`sigs/*.bin`) estimate a Jaccard of at least that
much: LSH alone also pairs documents well below its threshold (at J = 0.6, 14 x 8 bands collide 37%
of the time). The work is sharded across tasks by band and, with more tasks than bands, by ranges
of the 64-bit band hash, so this pass scales past the number of bands. Memory: one block per run
merged plus the largest bucket (see runs.py), and an edge buffer; signatures and keys are
memory-mapped, and read only for the members of buckets of two or more. With `against`, each
earlier run's index (index.py) is merged in as more runs, its documents first in every bucket;
with `index_dir`, the merged records of this run's own documents are saved there, one sorted file
per (band, hash range).
"""

from __future__ import annotations

import math

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep

from curate.filters.minhash.index import EARLIER, band_file, index_readers, is_earlier, locate, priority
from curate.filters.minhash.runs import EDGE, RunReader, merge_runs


def units_of(rank: int, world_size: int, num_bands: int) -> list[tuple[int, int, int]]:
    """The (band, lo, hi) hash ranges that task `rank` of `world_size` handles."""
    parts = math.ceil(world_size / num_bands)
    out = []
    for unit in range(num_bands * parts):
        if unit % world_size == rank:
            band, part = divmod(unit, parts)
            out.append((band, part * (1 << 64) // parts, (part + 1) * (1 << 64) // parts))
    return out


def bucket_edges(block: np.ndarray, keys=None) -> np.ndarray:
    """Edges (representative, other) of a sorted block whose buckets are complete. The
    representative is the member with the smallest (priority, key, ref): documents of earlier
    runs' indexes first (index.priority), then the smallest order key; `keys(refs)` gives the
    members' order keys (None: the refs themselves, i.e. the bucket's first member). Edges between
    two earlier documents are left out: they belong to the earlier run."""
    h = block["h"]
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
    sizes = np.diff(np.r_[starts, len(h)])
    shared = block[np.repeat(sizes > 1, sizes)]  # singletons make no edge: skip their key lookups
    if not len(shared):
        return np.empty(0, EDGE)
    h, ref = shared["h"], shared["ref"]
    key = ref if keys is None else keys(ref)
    by_key = np.lexsort((ref, key, priority(ref), h))  # within a bucket, earliest run, smallest key first
    h, ref = h[by_key], ref[by_key]
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
    first = np.repeat(ref[starts], np.diff(np.r_[starts, len(h)]))
    keep = (first != ref) & ~(is_earlier(first) & is_earlier(ref))
    edges = np.empty(int(keep.sum()), EDGE)
    edges["a"], edges["b"] = first[keep], ref[keep]
    return edges


class DedupBuckets(PipelineStep):
    """Merge the signature runs band by band and write the edges between bucket-mates.
    Input and output files: see the module docstring."""

    name = "🪣 dedup buckets"
    type = "🫂 - DEDUP"

    def __init__(self, work_dir: str, num_bands: int, block_records: int = 1 << 16,
                 min_similarity: float | None = None, num_perm: int = 0, against: list[str] | tuple = (),
                 index_dir: str | None = None):
        super().__init__()
        self.work_dir, self.num_bands, self.block_records = work_dir, num_bands, block_records
        self.min_similarity, self.num_perm = min_similarity, num_perm
        self.against, self.index_dir = list(against), index_dir  # earlier indexes; where to save this run's
        self._maps: dict = {}

    def _mapped(self, folder, kind: str, rank: int, dtype: str, width: int) -> np.ndarray:
        """Task `rank`'s `kind` file (`sigs` or `keys`), memory-mapped (read whole if remote); a
        task number from EARLIER on is a task of an earlier run's index (index.py)."""
        if (kind, rank) not in self._maps:
            task = rank
            if rank >= EARLIER:
                index, task = locate(self.against, rank)
                folder = get_datafolder(index)
            path = f"{kind}/{task:05d}.bin"
            if folder.is_local():
                data = np.memmap(folder.resolve_paths(path), dtype, "r")
            else:  # remote: the file is read whole (one task's signatures or keys)
                with folder.open(path, "rb") as f:
                    data = np.frombuffer(f.read(), dtype)
            self._maps[kind, rank] = data.reshape(-1, width) if width > 1 else data
        return self._maps[kind, rank]

    def _lookup(self, folder, kind: str, refs: np.ndarray, dtype: str, width: int) -> np.ndarray:
        """Rows of the `kind` files at `refs`."""
        ranks, positions = refs >> np.uint64(32), (refs & np.uint64(0xFFFFFFFF)).astype(np.int64)
        out = np.empty((len(refs), width) if width > 1 else len(refs), dtype)
        for r in np.unique(ranks).tolist():
            sel = ranks == r
            out[sel] = self._mapped(folder, kind, r, dtype, width)[positions[sel]]
        return out

    def _rows(self, folder, refs: np.ndarray) -> np.ndarray:
        """Full signatures of `refs`."""
        return self._lookup(folder, "sigs", refs, "<u4", self.num_perm)

    def _keys(self, folder, refs: np.ndarray) -> np.ndarray:
        """Order keys of `refs` (signatures.order_key)."""
        return self._lookup(folder, "keys", refs, "<u8", 1)

    def verify(self, folder, edges: np.ndarray) -> np.ndarray:
        if self.min_similarity is None or not len(edges):
            return edges
        similarity = (self._rows(folder, edges["a"]) == self._rows(folder, edges["b"])).mean(axis=1)
        self.stat_update("rejected_pairs", value=int((similarity < self.min_similarity).sum()))
        return edges[similarity >= self.min_similarity]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        folder = get_datafolder(self.work_dir)
        tmp = f"edges/{rank:05d}.bin.tmp"
        n_edges = 0
        with folder.open(tmp, "wb") as out:
            for band, lo, hi in units_of(rank, world_size, self.num_bands):
                runs = sorted(folder.glob(f"bands/{band:03d}/*.bin"))
                readers = [RunReader(folder, path, block=self.block_records, lo=lo, hi=hi) for path in runs]
                readers += index_readers(self.against, band, lo, hi, self.block_records)
                saved = self._index_file(band, lo)
                with self.track_time("band"):
                    for block in merge_runs(readers):
                        edges = self.verify(folder, bucket_edges(block, lambda refs: self._keys(folder, refs)))
                        n_edges += len(edges)
                        out.write(edges.tobytes())
                        if saved is not None:
                            saved[1].write(block[~is_earlier(block["ref"])].tobytes())
                if saved is not None:
                    saved[1].close()
                    saved[0].mv(f"{saved[2]}.tmp", saved[2])
        self._maps = {}  # memory maps are per task; the step is serialised to executor.json after
        folder.mv(tmp, f"edges/{rank:05d}.bin")
        self.stat_update("edges", value=n_edges)
        return
        yield

    def _index_file(self, band: int, lo: int):
        """(folder, open file, path) of this run's index file of a band's hash range (None: no index
        is saved): the merged records of the run's own documents, already sorted by hash."""
        if self.index_dir is None:
            return None
        index = get_datafolder(self.index_dir)
        path = band_file(band, lo)
        return index, index.open(f"{path}.tmp", "wb"), path
