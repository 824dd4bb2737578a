"""Sorted runs on disk: how every dedup stage keeps its memory bounded.

A stage that must group records by a key (a band hash, a text hash) never holds them all: it
buffers at most `buffer_records`, sorts the buffer and spills it as one *run* (a flat file of
fixed-size little-endian records, sorted by `h`). A later stage merges any number of runs in key
order, block by block (`merge_runs`), so its memory is one block per run plus the largest group
of equal keys. Files go through datatrove's DataFolder, so any fsspec URL works; a run is written
to a temporary name and renamed, so a killed task never leaves a half-written run behind.
"""

from __future__ import annotations

import numpy as np
from datatrove.io import DataFolder

RECORD = np.dtype([("h", "<u8"), ("ref", "<u8")])  # key, document reference (rank << 32 | index)
EDGE = np.dtype([("a", "<u8"), ("b", "<u8")])  # two documents found to be duplicates


def make_ref(rank: int, index) -> np.ndarray:
    return (np.uint64(rank) << np.uint64(32)) | np.asarray(index, dtype=np.uint64)


def write_atomic(folder: DataFolder, path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    with folder.open(tmp, "wb") as f:
        f.write(data)
    folder.mv(tmp, path)


def write_run(folder: DataFolder, path: str, records: np.ndarray) -> None:
    records = np.sort(records, order=["h", "ref"], kind="stable")
    write_atomic(folder, path, records.tobytes())


class RunReader:
    """Reads one sorted run in blocks, from the first record with `h >= lo` to the last `< hi`."""

    def __init__(self, folder: DataFolder, path: str, dtype=RECORD, block: int = 1 << 16,
                 lo: int = 0, hi: int = 1 << 64):
        self.f = folder.open(path, "rb")
        self.dtype, self.block, self.hi = dtype, block, hi
        self.n = folder.size(path) // dtype.itemsize
        self.pos = self._lower_bound(lo) if lo else 0
        self.f.seek(self.pos * dtype.itemsize)

    def _lower_bound(self, key: int) -> int:
        low, high = 0, self.n
        while low < high:  # binary search by seeking: log2(n) reads of one record
            mid = (low + high) // 2
            self.f.seek(mid * self.dtype.itemsize)
            if int(np.frombuffer(self.f.read(8), "<u8")[0]) < key:
                low = mid + 1
            else:
                high = mid
        return low

    def read(self) -> np.ndarray:
        """The next block (empty at the end)."""
        count = min(self.block, self.n - self.pos)
        if count <= 0:
            return np.empty(0, self.dtype)
        data = np.frombuffer(self.f.read(count * self.dtype.itemsize), self.dtype)
        self.pos += count
        if self.hi < (1 << 64) and len(data) and int(data["h"][-1]) >= self.hi:
            data = data[: np.searchsorted(data["h"], np.uint64(self.hi))]
            self.pos = self.n
        return data

    def close(self) -> None:
        self.f.close()


def merge_runs(readers: list[RunReader]):
    """Yield sorted blocks of the union of `readers`; equal keys never straddle two blocks."""
    inf = 1 << 64
    buffers = [r.read() for r in readers]

    def complete_below(i: int) -> int:
        # every record of run i with a key below this is buffered: the buffer's last key unless
        # the run is exhausted (records equal to it may continue in the run's next block)
        return inf if readers[i].pos >= readers[i].n else int(buffers[i]["h"][-1])

    live = [i for i, b in enumerate(buffers) if len(b)]
    while live:
        limits = {i: complete_below(i) for i in live}
        frontier = min(limits.values())
        taken = []
        for i in live:
            cut = len(buffers[i]) if frontier == inf else np.searchsorted(buffers[i]["h"], np.uint64(frontier))
            if cut:
                taken.append(buffers[i][:cut])
                buffers[i] = buffers[i][cut:]
        if taken:
            block = np.concatenate(taken) if len(taken) > 1 else taken[0]
            yield np.sort(block, order=["h", "ref"], kind="stable")
        for i in live:
            # refill an empty buffer, or grow the ones that hold back the frontier
            if not len(buffers[i]) or (not taken and limits[i] == frontier):
                more = readers[i].read()
                buffers[i] = np.concatenate([buffers[i], more]) if len(buffers[i]) else more
        live = [i for i in live if len(buffers[i])]
    for r in readers:
        r.close()
