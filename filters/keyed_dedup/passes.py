"""Passes 1 and 2 of keyed dedup: per-task sorted runs of key records, then the first of each group.

Pass 1 (`KeyRecords`). Input: the documents of one task in stream order (readers plus every stage
before the dedup stage). Output: `runs/{rank:05d}_{run:04d}.bin`, flat runs of uint64 records
(the stage's `record_fields`, then `ref` = rank << 32 | position), sorted by all fields. Dropped
documents hold no keys but keep their position, as in MinHash's signatures pass.
Memory: `buffer_records` records, whatever the shard size.

Pass 2 (`KeepFirst`). Input: every task's runs. Task r of W merges the records whose hash lies in
[r * 2^64 / W, (r + 1) * 2^64 / W) in record order (extsort's merge: blocks may split a group, so
one huge group costs no memory). In a group of equal hashes with at least `min_group` records the
first keeps the key; every other record is a removal (ref, h). Output:
`removals/{target:05d}/{r:05d}_{n:04d}.bin`, sorted runs of (ref, h) per target task.
Memory: one block per run merged (`buffer_records` shared out among the runs, see `block_size`),
at most `min_group - 1` held-back records of an undecided group, and `buffer_records` removals.
"""

from __future__ import annotations

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep

from curate.core.step import is_dropped
from curate.filters.minhash.extsort import merge_runs, order, records
from curate.filters.minhash.runs import RunReader, make_ref, write_atomic

REMOVAL = records("ref", "h")
COMPACT = 4096
M64 = (1 << 64) - 1


def block_size(buffer_records: int, runs: int) -> int:
    """Records read at a time from each of `runs` runs: `buffer_records` shared out, 1,024 to 65,536."""
    return int(min(1 << 16, max(1 << 10, buffer_records // max(1, runs))))


def write_sorted(folder, path: str, block: np.ndarray) -> None:
    write_atomic(folder, path, block[order(block)].tobytes())


class KeyRecords(PipelineStep):
    """Pass 1: the key records of one task's documents as sorted runs (see the module docstring)."""

    name = "🔑 keyed dedup records"
    type = "🫂 - DEDUP"

    def __init__(self, stage, buffer_records: int = 1 << 20):
        super().__init__()
        self.stage, self.buffer_records = stage, buffer_records

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        folder = get_datafolder(self.stage.work_dir)
        for stale in folder.glob(f"runs/{rank:05d}_*"):  # left by a killed attempt of this task
            folder.rm(stale)
        dtype = records(*self.stage.record_fields, "ref")
        pending, positions, held, runs, fresh = [], [], 0, 0, 0
        for position, doc in enumerate(data):
            if is_dropped(doc):
                continue
            with self.track_time():
                keys = self.stage.key_records(doc)
            if not len(keys):
                continue
            self.stat_update("keys", value=len(keys))
            pending.append(keys)
            positions.append(np.full(len(keys), position, np.uint64))
            held += len(keys)
            fresh += 1
            if fresh == COMPACT:  # one array per COMPACT documents: no per-document objects held
                pending[-fresh:], positions[-fresh:] = [np.concatenate(pending[-fresh:])], [np.concatenate(positions[-fresh:])]
                fresh = 0
            if held >= self.buffer_records:
                self._spill(folder, rank, runs, dtype, pending, positions)
                runs, held, fresh = runs + 1, 0, 0
        if held:
            self._spill(folder, rank, runs, dtype, pending, positions)
        return
        yield  # a generator that yields nothing: this pass ends its pipeline

    @staticmethod
    def _spill(folder, rank: int, run: int, dtype, pending: list, positions: list) -> None:
        keys = np.concatenate(pending)
        block = np.empty(len(keys), dtype)
        for i, name in enumerate(dtype.names[:-1]):
            block[name] = keys[:, i]
        block["ref"] = make_ref(rank, np.concatenate(positions))
        write_sorted(folder, f"runs/{rank:05d}_{run:04d}.bin", block)
        pending.clear()
        positions.clear()


class FirstOfGroup:
    """Removals of a stream of sorted blocks: every record of a group of equal `h` with at least
    `min_group` records, except the group's first. Holds back the last group of a block until it
    is decided (at most `min_group - 1` records; once a group is large enough, none)."""

    def __init__(self, min_group: int):
        self.min_group = max(2, min_group)
        self.pending = None  # the undecided last group of the previous block
        self.confirmed = None  # the hash of a group already known to be large enough
        self.groups = 0  # groups found large enough

    def removals(self, block: np.ndarray) -> np.ndarray:
        if self.pending is not None:
            block, self.pending = np.concatenate([self.pending, block]), None
        if not len(block):
            return block
        h = block["h"]
        starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
        sizes = np.diff(np.r_[starts, len(h)])
        continued = self.confirmed is not None and h[0] == self.confirmed
        big = sizes >= self.min_group
        big[0] |= continued
        last = len(starts) - 1
        if not big[last]:  # may continue in the next block: decide it then
            self.pending, block = block[starts[last]:], block[:starts[last]]
            starts, sizes, big = starts[:last], sizes[:last], big[:last]
        if len(big) and big[-1]:
            self.confirmed = h[starts[-1]]
        self.groups += int(big.sum()) - int(bool(len(big)) and continued)
        member = np.arange(len(block)) - np.repeat(starts, sizes)
        if continued and len(sizes):
            member[: sizes[0]] += 1  # that group's first record was in an earlier block
        return block[np.repeat(big, sizes) & (member > 0)]


class KeepFirst(PipelineStep):
    """Pass 2: merge the runs over this task's hash range and write the removals per target task."""

    name = "🥇 keyed dedup first of each group"
    type = "🫂 - DEDUP"

    def __init__(self, work_dir: str, record_fields: tuple[str, ...], min_group: int = 2,
                 buffer_records: int = 1 << 20):
        super().__init__()
        self.work_dir, self.record_fields = work_dir, tuple(record_fields)
        self.min_group, self.buffer_records = min_group, buffer_records

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        folder = get_datafolder(self.work_dir)
        for stale in folder.glob(f"removals/*/{rank:05d}_*"):  # left by a killed attempt of this task
            folder.rm(stale)
        dtype = records(*self.record_fields, "ref")
        paths = sorted(folder.glob("runs/*.bin"))
        lo, hi = rank * (1 << 64) // world_size, (rank + 1) * (1 << 64) // world_size
        readers = [RunReader(folder, p, dtype, block_size(self.buffer_records, len(paths)), lo=lo, hi=hi)
                   for p in paths]
        groups, out, held, runs = FirstOfGroup(self.min_group), [], 0, 0
        with self.track_time():
            for block in merge_runs(readers) if readers else ():
                removed = groups.removals(block)
                if len(removed):
                    out.append(removed)
                    held += len(removed)
                if held >= self.buffer_records:
                    self._spill(folder, rank, runs, out)
                    runs, held = runs + 1, 0
            if held:
                self._spill(folder, rank, runs, out)
        self.stat_update("repeated_keys", value=groups.groups)
        return
        yield

    def _spill(self, folder, rank: int, run: int, out: list) -> None:
        removed = np.concatenate(out)
        out.clear()
        self.stat_update("removals", value=len(removed))
        block = np.empty(len(removed), REMOVAL)
        block["ref"], block["h"] = removed["ref"], removed["h"]
        block = block[order(block)]
        targets = block["ref"] >> np.uint64(32)
        cuts = np.flatnonzero(np.r_[True, targets[1:] != targets[:-1]])
        for lo, hi in zip(cuts, np.r_[cuts[1:], len(block)]):
            write_atomic(folder, f"removals/{int(targets[lo]):05d}/{rank:05d}_{run:04d}.bin", block[lo:hi].tobytes())
