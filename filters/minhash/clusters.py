"""Pass 3 of dedup: connected components of the duplicate graph, and the document each keeps.

Input: `edges/*.bin` (pass 2) and `docs/*.parquet` (pass 1). Output: `clusters/{rank:05d}.parquet`
for every signature task, one row per document of a cluster of two or more, sorted by position:
`position`, `cluster_id` (the id of the document the cluster keeps), `cluster_size`, `kept`, and
`duplicate_of`: the document this one was found to duplicate, i.e. a neighbour in the duplicate
graph (every edge was checked on the full signatures), the kept one when it is a neighbour. Naming
the cluster's kept document instead would be wrong for chains: an edited copy of an edited copy
may share far less with the kept document than with the copy it was matched to. `earlier`: the
cluster holds a document of an earlier run's index (index.py), which it keeps. With `index_dir`,
the pass ends by saving this run's index there (index.publish).

Everything is a stream of sorted runs on disk (extsort.py), so memory is bounded by
`max_records` (records of 2 to 4 uint64 fields; with the sort's copies, measured at most ~280
bytes per unit of `max_records`: tests/test_minhash_clusters.py), plus one task's column of
`docs/*.parquet` and one task's output rows, whatever the number of duplicated documents:
1. components (components.py): (node, root) for every duplicated document, sorted by node;
2. joined with each task's order keys and sorted by (root, key, node): a cluster keeps its
   smallest key (signatures.order_key; ties by ref), so the result depends on neither the
   number of tasks nor the order of the input files; this also counts each cluster's size;
3. `duplicate_of`: the edges, sorted by (node, neighbour's key, neighbour), give each node its
   cluster's kept document if adjacent, else its neighbour with the smallest key;
4. ids: the kept and matched refs sorted by task, resolved one task's `id` column at a time.
Scratch files go under `tmp/clusters/`, removed at the start and the end, so a killed pass
re-run gives the identical result.
"""

from __future__ import annotations

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep

from curate.filters.minhash.components import both_ways, components
from curate.filters.minhash.extsort import lookup, merged, records, spill_runs
from curate.filters.minhash.index import EARLIER, is_earlier, locate, publish
from curate.filters.minhash.runs import EDGE, RunReader

TMP = "tmp/clusters"
KEYED = records("root", "key", "node")
COMPONENT = records("root", "rep", "size")
NODE = records("node", "key", "rep", "size")  # one per duplicated document, sorted by node
NEIGHBOUR = records("node", "key", "other")
PARTNER = records("node", "partner")
REQUEST = records("task", "node", "kind", "target")  # kind 0: cluster_id, 1: duplicate_of
LOW32 = np.uint64(0xFFFFFFFF)


def _task(refs: np.ndarray) -> np.ndarray:
    return refs >> np.uint64(32)


def _read(folder, paths: list[str], dtype: np.dtype, max_records: int):
    """Blocks of flat record files, small next to the sort buffer that usually consumes them."""
    block = max(1, max_records // 16)
    for path in paths:
        reader = RunReader(folder, path, dtype, block)
        while len(data := reader.read()):
            yield data
        reader.close()


def _groups(keys: np.ndarray, carried) -> tuple[np.ndarray, bool]:
    """Start index of each run of equal keys in a sorted block, and whether the first run
    continues the group `carried` (its key, or None) of the previous block."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, carried is not None and keys[0] == carried


def _rows_between(file, lo: int, hi: int):
    """The rows of an ids file (sorted by node) with lo <= node < hi, reading only the row
    groups whose node range overlaps."""
    groups = [g for g in range(file.num_row_groups)
              if (stats := file.metadata.row_group(g).column(0).statistics).max >= lo and stats.min < hi]
    table = file.read_row_groups(groups)
    node = table["node"].to_numpy()
    return table.filter((node >= lo) & (node < hi))


class _Column:
    """One column of `docs/*.parquet`, one task in memory at a time (bounded by the task size).
    Tasks from index.EARLIER on are an earlier run's (`against`): their key is 0, so an earlier
    document is the one its cluster keeps, and their ids come from that run's index."""

    def __init__(self, folder, name: str, against: list[str] | tuple = ()):
        self.folder, self.name, self.task, self.values = folder, name, None, None
        self.against = against

    def take(self, refs: np.ndarray):
        """The values at `refs`, all of one task."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        task = int(refs[0] >> np.uint64(32))
        if task >= EARLIER and self.name == "key":
            return np.zeros(len(refs), np.uint64)
        if task != self.task:
            folder, rank = self.folder, task
            if task >= EARLIER:
                index, rank = locate(self.against, task)
                folder = get_datafolder(index)
            with folder.open(f"docs/{rank:05d}.parquet", "rb") as f:
                self.values = pq.read_table(f, columns=[self.name])[self.name].combine_chunks()
            self.task = task
        positions = (refs & LOW32).astype(np.int64)
        if self.name == "key":
            return self.values.to_numpy()[positions]
        return self.values.take(pa.array(positions))


def _by_task(refs: np.ndarray):
    """(slice, task) of each task's run in sorted `refs`."""
    if not len(refs):
        return
    tasks = _task(refs)
    starts = np.flatnonzero(np.r_[True, tasks[1:] != tasks[:-1]])
    for lo, hi in zip(starts, np.r_[starts[1:], len(refs)]):
        yield slice(int(lo), int(hi)), int(tasks[lo])


class DedupClusters(PipelineStep):
    """Group duplicates into clusters and choose the document each cluster keeps; one task.
    Input and output files and memory (`max_records`): see the module docstring."""

    name = "🕸️ dedup clusters"
    type = "🫂 - DEDUP"

    def __init__(self, work_dir: str, max_records: int = 1 << 22, against: list[str] | tuple = (),
                 index_dir: str | None = None, manifest: dict | None = None):
        super().__init__()
        if max_records < 1:
            raise ValueError("max_records must be positive")
        self.work_dir, self.max_records = work_dir, max_records
        self.against, self.index_dir, self.manifest = list(against), index_dir, manifest

    def _sorted(self, folder, name: str, blocks, dtype: np.dtype):
        return merged(folder, spill_runs(folder, f"{TMP}/{name}", blocks, dtype, self.max_records),
                      dtype, self.max_records)

    def _file(self, folder, path: str, blocks) -> int:
        count = 0
        with folder.open(path, "wb") as f:
            for block in blocks:
                f.write(block.tobytes())
                count += len(block)
        return count

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if rank != 0:
            return
        folder = get_datafolder(self.work_dir)
        if folder.exists(TMP):  # left by a killed attempt
            folder.rm(TMP, recursive=True)
        edge_files = sorted(folder.glob("edges/*.bin"))
        with self.track_time("components"):
            labels = components(folder, f"{TMP}/cc", _read(folder, edge_files, EDGE, self.max_records),
                                self.max_records)
            keyed = self._sorted(folder, "keyed", self._keyed(folder, labels), KEYED)
            self._file(folder, f"{TMP}/by_root.bin", self._clusters(folder, keyed))
        with self.track_time("partners"):
            nodes = self._sorted(folder, "nodes", self._nodes(folder), NODE)
            n = self._file(folder, f"{TMP}/nodes.bin", nodes)
            self._file(folder, f"{TMP}/partners.bin", self._partners(folder, edge_files))
        with self.track_time("ids"):
            self._write(folder)
        folder.rm(TMP, recursive=True)
        if self.index_dir is not None:
            with self.track_time("index"):
                publish(folder, self.index_dir, self.manifest or {})
        self.stat_update("duplicated_docs", value=n)
        return
        yield

    def _keyed(self, folder, labels):
        keys = _Column(folder, "key", self.against)
        for block in labels:
            out = np.empty(len(block), KEYED)
            out["root"], out["node"] = block["v"], block["u"]
            for part, _ in _by_task(block["u"]):
                out["key"][part] = keys.take(block["u"][part])
            yield out

    def _clusters(self, folder, keyed):
        """Pass the (root, key, node) stream through to by_root.bin; write each cluster's kept
        document (its first record) and size to components.bin."""
        with folder.open(f"{TMP}/components.bin", "wb") as table:
            open_group = None  # (root, rep, size) of the cluster the previous block ended in
            for block in keyed:
                if not len(block):
                    continue
                starts, continues = _groups(block["root"], None if open_group is None else open_group[0])
                groups = np.empty(len(starts), COMPONENT)
                groups["root"], groups["rep"] = block["root"][starts], block["node"][starts]
                groups["size"] = np.diff(np.r_[starts, len(block)])
                if continues:
                    groups["rep"][0] = open_group[1]
                    groups["size"][0] += open_group[2]
                elif open_group is not None:
                    table.write(np.array([open_group], COMPONENT).tobytes())
                table.write(groups[:-1].tobytes())
                open_group = groups[-1].tolist()
                yield block
            if open_group is not None:
                table.write(np.array([open_group], COMPONENT).tobytes())

    def _nodes(self, folder):
        by_root = _read(folder, [f"{TMP}/by_root.bin"], KEYED, self.max_records)
        table = _read(folder, [f"{TMP}/components.bin"], COMPONENT, self.max_records)
        for block, cluster in lookup(by_root, "root", table, "root"):
            out = np.empty(len(block), NODE)
            out["node"], out["key"], out["rep"], out["size"] = block["node"], block["key"], cluster["rep"], cluster["size"]
            yield out

    def _node_table(self, folder):
        return _read(folder, [f"{TMP}/nodes.bin"], NODE, self.max_records)

    def _partners(self, folder, edge_files):
        """For every node, the neighbour it is reported as a duplicate of: its cluster's kept
        document if adjacent, else the neighbour with the smallest (key, ref)."""
        def neighbours():  # (node, neighbour's key, neighbour), from edges sorted by neighbour
            edges = (both_ways(e["a"], e["b"]) for e in _read(folder, edge_files, EDGE, self.max_records))
            for block, other in lookup(self._sorted(folder, "edges", edges, records("u", "v")), "u",
                                       self._node_table(folder), "node"):
                out = np.empty(len(block), NEIGHBOUR)
                out["node"], out["key"], out["other"] = block["v"], other["key"], block["u"]
                yield out

        open_group = None  # [node, partner, adjacent to the kept one] of the previous block's last node
        for block, me in lookup(self._sorted(folder, "neighbours", neighbours(), NEIGHBOUR), "node",
                                self._node_table(folder), "node"):
            if not len(block):
                continue
            starts, continues = _groups(block["node"], None if open_group is None else open_group[0])
            groups = np.empty(len(starts), PARTNER)
            groups["node"], groups["partner"] = block["node"][starts], block["other"][starts]
            adjacent = np.logical_or.reduceat(block["other"] == me["rep"], starts)
            if continues:
                groups["partner"][0] = open_group[1]
                adjacent[0] |= open_group[2]
            elif open_group is not None:
                yield np.array([tuple(open_group[:2])], PARTNER)
            groups["partner"][adjacent] = me["rep"][starts][adjacent]
            yield groups[:-1]
            open_group = [*groups[-1].tolist(), bool(adjacent[-1])]
        if open_group is not None:
            yield np.array([tuple(open_group[:2])], PARTNER)

    def _requests(self, folder):
        nodes = self._node_table(folder)
        partners = _read(folder, [f"{TMP}/partners.bin"], PARTNER, self.max_records)
        for block, partner in lookup(nodes, "node", partners, "node"):
            dropped = block["rep"] != block["node"]
            out = np.empty(len(block) + int(dropped.sum()), REQUEST)
            out["node"] = np.r_[block["node"], block["node"][dropped]]
            out["kind"] = np.r_[np.zeros(len(block), np.uint64), np.ones(int(dropped.sum()), np.uint64)]
            out["target"] = np.r_[block["rep"], partner["partner"][dropped]]
            out["task"] = _task(out["target"])
            yield out

    def _write(self, folder) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # ids of the kept and matched documents, one task's id column at a time, into one file
        # per task named, sorted by the node asking
        ids, id_files = _Column(folder, "id", self.against), []
        schema = pa.schema([("node", pa.uint64()), ("kind", pa.uint64()), ("id", pa.string())])
        writer = file = None
        for block in self._sorted(folder, "requests", self._requests(folder), REQUEST):
            for part, task in _by_task(block["target"]):
                if not id_files or id_files[-1][0] != task:
                    if writer is not None:
                        writer.close()
                        file.close()
                    id_files.append((task, f"{TMP}/ids/{task:05d}.parquet"))
                    file = folder.open(id_files[-1][1], "wb")
                    writer = pq.ParquetWriter(file, schema)
                writer.write_table(pa.table({"node": block["node"][part], "kind": block["kind"][part],
                                             "id": ids.take(block["target"][part]).cast(pa.string())}, schema=schema))
        if writer is not None:
            writer.close()
            file.close()
        out_schema = pa.schema([("position", pa.int64()), ("cluster_id", pa.string()), ("cluster_size", pa.int64()),
                                ("kept", pa.bool_()), ("duplicate_of", pa.string()),
                                ("earlier", pa.bool_())])
        nodes = self._tasks_of(self._node_table(folder))
        current = next(nodes, None)
        for path in sorted(folder.glob("docs/*.parquet")):
            task = int(path.rsplit("/", 1)[1].split(".")[0])
            mine = np.empty(0, NODE)
            if current is not None and current[0] == task:
                mine, current = current[1], next(nodes, None)
            lo, hi = task << 32, (task + 1) << 32
            found = []
            for _, p in id_files:
                with folder.open(p, "rb") as f:
                    found.append(_rows_between(pq.ParquetFile(f), lo, hi))
            found = pa.concat_tables(found) if found else schema.empty_table()
            order = np.lexsort((found["kind"].to_numpy(), found["node"].to_numpy()))
            found = found.take(pa.array(order))
            kinds = found["kind"].to_numpy()
            kept = mine["rep"] == mine["node"]
            dropped_ids = found["id"].filter(pa.array(kinds == 1))
            at = np.zeros(len(mine), np.int64)
            at[~kept] = np.arange(int((~kept).sum()))
            table = pa.table({"position": (mine["node"] & LOW32).astype(np.int64),
                              "cluster_id": found["id"].filter(pa.array(kinds == 0)),
                              "cluster_size": mine["size"].astype(np.int64), "kept": kept,
                              "duplicate_of": dropped_ids.take(pa.array(at, mask=kept)),
                              "earlier": is_earlier(mine["rep"])}, schema=out_schema)
            with folder.open(f"clusters/{task:05d}.parquet.tmp", "wb") as f:
                pq.write_table(table, f)
            folder.mv(f"clusters/{task:05d}.parquet.tmp", f"clusters/{task:05d}.parquet")

    @staticmethod
    def _tasks_of(blocks):
        """(task, its records) from a stream sorted by node: one task's records at a time."""
        held, task = [], None
        for block in blocks:
            for part, t in _by_task(block["node"]):
                if t != task and held:
                    yield task, np.concatenate(held)
                    held = []
                task = t
                held.append(block[part])
        if held:
            yield task, np.concatenate(held)
