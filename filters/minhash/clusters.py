"""Pass 3 of dedup: connected components of the duplicate graph, and the document each keeps.

Input: `edges/*.bin` (pass 2) and `docs/*.parquet` (pass 1). Output: `clusters/{rank:05d}.parquet`
for every signature task, one row per document of a cluster of two or more, sorted by position:
`position`, `cluster_id` (the id of the document the cluster keeps), `cluster_size`, `kept`, and
`duplicate_of`: the document this one was found to duplicate, i.e. a neighbour in the duplicate
graph (every edge was checked on the full signatures), the kept one when it is a neighbour. Naming
the cluster's kept document instead would be wrong for chains: an edited copy of an edited copy
may share far less with the kept document than with the copy it was matched to.

Components come from vectorised min-label propagation with pointer jumping over the edge list,
read from disk in blocks each round (rounds grow with the log of a component's diameter), so
nothing is per-edge Python. Memory: 16 bytes per *duplicated* document (its ref and label) plus
one block of edges; documents without a near-duplicate cost nothing, so it is not proportional
to the corpus. The kept document is the one with the smallest order key (signatures.order_key),
so the result depends on neither the number of tasks nor the order of the input files.
"""

from __future__ import annotations

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep

from filters.minhash.runs import EDGE

INDEXED = np.dtype([("u", "<i8"), ("v", "<i8")])


def _blocks(folder, paths: list[str], dtype: np.dtype, block: int):
    for path in paths:
        with folder.open(path, "rb") as f:
            while chunk := f.read(block * dtype.itemsize):
                yield np.frombuffer(chunk, dtype)


class DedupClusters(PipelineStep):
    """Group duplicates into clusters and choose the document each cluster keeps; one task.
    Input and output files: see the module docstring."""

    name = "🕸️ dedup clusters"
    type = "🫂 - DEDUP"

    def __init__(self, work_dir: str, block_records: int = 1 << 20):
        super().__init__()
        self.work_dir, self.block_records = work_dir, block_records

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if rank != 0:
            return
        folder = get_datafolder(self.work_dir)
        edge_files = sorted(folder.glob("edges/*.bin"))
        # the documents that have at least one duplicate, sorted (so grouped by task and position)
        nodes = np.empty(0, np.uint64)
        for block in _blocks(folder, edge_files, EDGE, self.block_records):
            nodes = np.union1d(nodes, np.unique(np.concatenate([block["a"], block["b"]])))
        # edges as node indices, spilled once so that every round reads compact pairs
        with folder.open("tmp/indexed.bin", "wb") as f:
            for block in _blocks(folder, edge_files, EDGE, self.block_records):
                pairs = np.empty(len(block), INDEXED)
                pairs["u"], pairs["v"] = np.searchsorted(nodes, block["a"]), np.searchsorted(nodes, block["b"])
                f.write(pairs.tobytes())
        with self.track_time("components"):
            label = self._components(folder, len(nodes))
        self._write(folder, nodes, label)
        folder.rm("tmp/indexed.bin")
        self.stat_update("duplicated_docs", value=len(nodes))
        return
        yield

    def _components(self, folder, n: int) -> np.ndarray:
        label = np.arange(n, dtype=np.int64)
        while True:
            changed = False
            for pairs in _blocks(folder, ["tmp/indexed.bin"], INDEXED, self.block_records):
                lu, lv = label[pairs["u"]], label[pairs["v"]]
                differ = lu != lv
                if not differ.any():
                    continue
                changed = True
                lu, lv = lu[differ], lv[differ]
                low = np.minimum(lu, lv)
                np.minimum.at(label, np.maximum(lu, lv), low)  # hook the larger root under the smaller
            while True:  # pointer jumping: every node points at its root again
                jumped = label[label]
                if np.array_equal(jumped, label):
                    break
                label = jumped
            if not changed:
                return label

    def _partners(self, folder, key: np.ndarray, rep: np.ndarray) -> np.ndarray:
        """For every node, the neighbour it is reported as a duplicate of: its cluster's kept
        document if adjacent, else the neighbour with the smallest order key (deterministic)."""
        n = len(key)
        by_key = np.lexsort((np.arange(n), key))  # node indices in (key, index) order
        key_rank = np.empty(n, np.int64)
        key_rank[by_key] = np.arange(n)
        best = np.full(n, 2 * n, np.int64)  # (neighbour is not the kept one) * n + its key rank
        for pairs in _blocks(folder, ["tmp/indexed.bin"], INDEXED, self.block_records):
            for u, v in ((pairs["u"], pairs["v"]), (pairs["v"], pairs["u"])):
                np.minimum.at(best, u, (v != rep[u]) * n + key_rank[v])
        return by_key[best % n]

    def _write(self, folder, nodes: np.ndarray, label: np.ndarray) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        ranks = (nodes >> np.uint64(32)).astype(np.int64)
        positions = (nodes & np.uint64(0xFFFFFFFF)).astype(np.int64)
        key = np.empty(len(nodes), np.uint64)
        doc_files = sorted(folder.glob("docs/*.parquet"))
        for path in doc_files:  # one task's keys in memory at a time
            r = int(path.rsplit("/", 1)[1].split(".")[0])
            lo, hi = np.searchsorted(ranks, [r, r + 1])
            if hi > lo:
                keys = pq.read_table(folder.open(path, "rb"), columns=["key"])["key"].to_numpy()
                key[lo:hi] = keys[positions[lo:hi]]
        # the kept document of a component: smallest key, ties broken by ref
        order = np.lexsort((nodes, key, label))
        first = np.ones(len(order), bool)  # no duplicates at all is a normal outcome: len 0
        first[1:] = label[order][1:] != label[order][:-1]
        rep_of_label = np.empty(len(nodes), np.int64)
        rep_of_label[label[order][first]] = order[first]
        rep = rep_of_label[label]
        size = np.bincount(label, minlength=len(nodes))[label]
        partner = self._partners(folder, key, rep)
        # the ids of the kept documents and of the partners, read task by task
        ids_of = np.empty(len(nodes), object)
        wanted = np.union1d(rep, partner)
        for path in doc_files:
            r = int(path.rsplit("/", 1)[1].split(".")[0])
            mine = wanted[ranks[wanted] == r]
            if len(mine):
                ids = pq.read_table(folder.open(path, "rb"), columns=["id"])["id"]
                ids_of[mine] = ids.take(pa.array(positions[mine])).to_pylist()
        schema = pa.schema([("position", pa.int64()), ("cluster_id", pa.string()),
                            ("cluster_size", pa.int64()), ("kept", pa.bool_()), ("duplicate_of", pa.string())])
        for path in doc_files:
            r = int(path.rsplit("/", 1)[1].split(".")[0])
            lo, hi = np.searchsorted(ranks, [r, r + 1])
            kept = rep[lo:hi] == np.arange(lo, hi)
            table = pa.table({"position": positions[lo:hi], "cluster_id": ids_of[rep[lo:hi]].tolist(),
                              "cluster_size": size[lo:hi], "kept": kept,
                              "duplicate_of": np.where(kept, None, ids_of[partner[lo:hi]]).tolist()}, schema=schema)
            with folder.open(f"clusters/{r:05d}.parquet.tmp", "wb") as f:
                pq.write_table(table, f)
            folder.mv(f"clusters/{r:05d}.parquet.tmp", f"clusters/{r:05d}.parquet")
