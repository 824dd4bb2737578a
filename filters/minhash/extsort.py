"""External sort and sort-merge join of fixed-size records: the clusters pass's bounded memory.

Records are numpy structured arrays of uint64 fields, ordered lexicographically by all their
fields in order. `spill_runs` buffers at most `max_records`, sorts and spills each buffer as a
run (runs.py's flat files, written atomically); `merged` streams the runs back in order, merging
at most `FAN_IN` at a time (more runs are first merged into longer runs on disk), so memory is
about `max_records` records whatever the number of records. Unlike runs.merge_runs, a block may
end inside a group of equal keys: the callers carry a group's state across blocks, so one huge
cluster costs no memory either. `lookup` joins a sorted stream with a sorted table on disk.
"""

from __future__ import annotations

import numpy as np
from datatrove.io import DataFolder

from curate.filters.minhash.runs import RunReader, write_atomic

FAN_IN = 16


def records(*names: str) -> np.dtype:
    return np.dtype([(name, "<u8") for name in names])


def order(block: np.ndarray) -> np.ndarray:
    """The permutation that sorts `block` by all its fields, first field first."""
    return np.lexsort([block[name] for name in reversed(block.dtype.names)])


def count_le(block: np.ndarray, bound: np.void) -> int:
    """How many records of the sorted `block` are <= `bound` (lexicographic)."""
    names = block.dtype.names
    le = block[names[-1]] <= bound[names[-1]]
    for name in reversed(names[:-1]):
        le = (block[name] < bound[name]) | ((block[name] == bound[name]) & le)
    return int(le.sum())


def spill_runs(folder: DataFolder, prefix: str, blocks, dtype: np.dtype, max_records: int) -> list[str]:
    """Consume `blocks` (arrays of `dtype`), spilling sorted runs of <= max_records; their paths."""
    paths: list[str] = []
    pending: list[np.ndarray] = []
    held = 0

    def spill():
        nonlocal held
        if held:
            buffer = np.concatenate(pending)
            paths.append(f"{prefix}/{len(paths):06d}.bin")
            write_atomic(folder, paths[-1], buffer[order(buffer)].tobytes())
            pending.clear()
            held = 0

    for block in blocks:
        while len(block):
            room = max_records - held
            pending.append(block[:room])
            held += len(pending[-1])
            block = block[room:]
            if held >= max_records:
                spill()
    spill()
    return paths


def merge_runs(readers: list[RunReader]):
    """Sorted blocks of the union of sorted runs; equal records may straddle two blocks."""
    buffers = [r.read() for r in readers]
    live = [i for i in range(len(readers)) if len(buffers[i])]
    while live:
        lasts = np.concatenate([buffers[i][-1:] for i in live])
        frontier = lasts[order(lasts)[0]]  # every record <= it is buffered (runs are sorted)
        taken = []
        for i in live:
            cut = count_le(buffers[i], frontier)
            if cut:
                taken.append(buffers[i][:cut])
            buffers[i] = buffers[i][cut:] if cut < len(buffers[i]) else readers[i].read()
        if len(taken) == 1:  # already sorted
            yield taken[0]
        else:
            block = np.concatenate(taken)
            yield block[order(block)]
        live = [i for i in live if len(buffers[i])]
    for r in readers:
        r.close()


def merged(folder: DataFolder, paths: list[str], dtype: np.dtype, max_records: int):
    """Yield the records of the runs at `paths` in sorted blocks, deleting the runs as it goes."""
    block = max(1, max_records // FAN_IN)
    level = 0
    while len(paths) > FAN_IN:  # merge FAN_IN runs at a time into longer runs until few remain
        longer = []
        for k in range(0, len(paths), FAN_IN):
            group = paths[k:k + FAN_IN]
            longer.append(f"{group[0].rsplit('/', 1)[0]}/m{level}_{k // FAN_IN:06d}.bin")
            with folder.open(longer[-1], "wb") as f:
                for out in merge_runs([RunReader(folder, p, dtype, block) for p in group]):
                    f.write(out.tobytes())
            for p in group:
                folder.rm(p)
        paths, level = longer, level + 1
    yield from merge_runs([RunReader(folder, p, dtype, block) for p in paths])
    for p in paths:
        folder.rm(p)


def lookup(blocks, key: str, table, table_key: str):
    """For every block of a stream sorted by `key`, yield (block, rows): the rows of `table` (a
    stream of blocks sorted by the unique `table_key` that has every key of the stream) whose
    key equals each record's. Holds one block plus the table rows in its key range."""
    rows = None
    table = iter(table)
    for block in blocks:
        if not len(block):
            continue
        last = block[key][-1]
        while rows is None or not len(rows) or rows[table_key][-1] < last:
            more = next(table)
            rows = more if rows is None or not len(rows) else np.concatenate([rows, more])
        rows = rows[np.searchsorted(rows[table_key], block[key][0]):]
        yield block, rows[np.searchsorted(rows[table_key], block[key])]
