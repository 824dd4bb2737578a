"""Pass 3 of keyed dedup, the stage: each document with the keys it lost.

Input: the documents of one task in the same order as in pass 1 (the runner saves pass 1's stream
and replays it), and `removals/{rank:05d}/*.bin` (pass 2), merged in (ref, h) order next to the
stream, so memory is one block per removal run whatever the task's size.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.io import get_datafolder

from curate.core.step import Pass, PassKind
from curate.filters.keyed_dedup.passes import REMOVAL, KeepFirst, KeyRecords, block_size
from curate.filters.minhash.extsort import merge_runs
from curate.filters.minhash.runs import RunReader

LOW32 = np.uint64(0xFFFFFFFF)
NONE = np.empty(0, np.uint64)


def removals_by_position(work_dir: str, rank: int, buffer_records: int):
    """(position, hashes removed there) for every position of task `rank` that lost a key, in order."""
    folder = get_datafolder(work_dir)
    paths = sorted(folder.glob(f"removals/{rank:05d}/*.bin"))
    readers = [RunReader(folder, p, REMOVAL, block_size(buffer_records, len(paths))) for p in paths]
    held, at = [], -1
    for block in merge_runs(readers) if readers else ():
        positions = (block["ref"] & LOW32).astype(np.int64)
        cuts = np.flatnonzero(np.r_[True, positions[1:] != positions[:-1]])
        for lo, hi in zip(cuts, np.r_[cuts[1:], len(block)]):
            position = int(positions[lo])
            if position != at and held:  # a position's removals may straddle two blocks
                yield at, np.concatenate(held)
                held = []
            at = position
            held.append(block["h"][lo:hi])
    if held:
        yield at, np.concatenate(held)


class KeyedDedup:
    """Mixin for a `CurateStep` that keeps one record per key across the run (see the package docstring).

    A subclass sets `record_fields` (`"h"` first, then the fields that rank a claim to a key; the
    smallest record keeps it) and `min_group` (how many records a key needs before any is
    removed), and implements `key_records(doc)`: a (n, len(record_fields)) uint64 array. In
    `process`, `self.removed` holds the hashes this document lost (sorted, possibly empty).
    """

    record_fields: ClassVar[tuple[str, ...]] = ("h", "key")
    min_group: int = 2
    buffer_records: int = 1 << 20
    work_dir: str | None = None
    removed: np.ndarray = NONE

    def key_records(self, doc) -> np.ndarray:
        raise NotImplementedError

    def prepasses(self) -> list[Pass]:
        """Key records over the same documents as the main pipeline (an `INPUT` pass, so each task
        sees the same documents in the same order), then the groups with the recipe's task count."""
        self._need_work_dir()
        return [Pass("keys", [KeyRecords(self, self.buffer_records)], PassKind.INPUT),
                Pass("groups", [KeepFirst(self.work_dir, self.record_fields, self.min_group, self.buffer_records)],
                     PassKind.TASKS)]

    def _need_work_dir(self) -> None:
        if not self.work_dir:
            raise ValueError(f"{self.namespace}: work_dir is not set (curate's runner sets OUT/dedup/{self.namespace})")

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._need_work_dir()
        removals = removals_by_position(self.work_dir, rank, self.buffer_records)

        def positioned():
            upcoming = next(removals, None)
            for position, doc in enumerate(data):  # pass 1 numbered every document, dropped ones too
                if upcoming is not None and upcoming[0] == position:
                    self.removed, upcoming = np.sort(upcoming[1]), next(removals, None)
                else:
                    self.removed = NONE
                yield doc

        yield from super().run(positioned(), rank, world_size)
        self.removed = NONE
