"""A MinHash index saved with a run, and dedup of a later run against earlier runs' indexes.

Why: a new crawl must not bring back near-duplicates of what earlier runs already hold
(datatrove's `MinhashBuildIndex`; its users ask for it in datatrove #110 and #372), and reading
the earlier text again to find them would cost a full dedup of everything each time.

What is saved (`<work_dir>/index/`, i.e. OUT/dedup/minhash/index/ from a recipe), for every
document the MinHash stage signed (the ones it kept and their duplicates: see "Exactness"):
  `bands/{band:03d}/{lo:016x}.bin`  (band hash, ref) records sorted by hash: runs.py's RECORD,
                                     the format of the signature runs; ref = task << 32 | position;
                                     `lo`: the first hash of the range (buckets.units_of)
  `keys/{task:05d}.bin`              order keys per position (signatures.order_key)
  `sigs/{task:05d}.bin`              full signatures per position, to verify pairs (`min_similarity`)
  `docs/{task:05d}.parquet`          order key and id per position, to name what a document duplicates
  `manifest.json`                    the MinHash parameters (num_perm, bands, rows, n, unit, seed),
                                     written last: an index without one is incomplete
No text is saved; a later run never reads the earlier run's documents.

A later run given `against: [index, ...]` merges each index's band files into its own buckets
(refs of index j, task t are given task `EARLIER + j << TASK_BITS + t`), so its duplicate graph
has the earlier documents as nodes, and an earlier document always comes first: it is the
representative of any bucket it is in, ahead of the run's own documents (then by index order, then
by order key), and the one its cluster keeps. Edges between two earlier documents are skipped:
they are the earlier run's business. A document whose cluster holds an earlier one is dropped with
reason `minhash:duplicate_of_earlier_run`.

Exactness: with A's documents first, one run over A + B and a run over B against A's index drop
the same documents of B (tests/test_minhash_index.py). In one run a bucket's edges all go to its
representative, the earliest member: so the index must hold every document A signed, not only
those A kept, or a bucket whose earliest member is a dropped copy would pair B's documents with
each other instead of with it. Components of the graph restricted to B and its edges to A decide
B's fate exactly as the whole graph does (a path from a B document to an A node first meets A
through an A-B edge). What differs: a B document that links two A clusters merges them in one
run, dropping one A document that run A kept (already written, it cannot be undone); and on B's
dropped documents `cluster_size` counts only the A documents B touched.
"""

from __future__ import annotations

import json

import numpy as np
from datatrove.io import get_datafolder

from curate.core.config import RecipeError
from curate.filters.minhash.runs import RunReader, write_atomic

FORMAT, VERSION = "curate-minhash-index", 1
EARLIER = 1 << 31  # first task number of earlier documents; the run's own tasks are below
TASK_BITS = 20  # an index may hold up to 2**20 tasks; up to 2**11 indexes
PARAMETERS = ("num_perm", "bands", "rows", "n", "unit", "seed")
COPIED = ("docs/*.parquet", "keys/*.bin", "sigs/*.bin")


def is_earlier(refs: np.ndarray) -> np.ndarray:
    return (refs >> np.uint64(32)) >= np.uint64(EARLIER)


def priority(refs: np.ndarray) -> np.ndarray:
    """Which documents come first in a bucket: earlier indexes in the order given, then the run's own."""
    task = (refs >> np.uint64(32)).astype(np.int64)
    return np.where(task >= EARLIER, (task - EARLIER) >> TASK_BITS, 1 << 40)


def locate(against: list[str], task: int) -> tuple[str, int]:
    """(index folder, its task number) of an earlier task number."""
    j, rank = divmod(task - EARLIER, 1 << TASK_BITS)
    return against[j], rank


def resolve(path: str) -> str:
    """The index folder a recipe names: the folder itself, or a run's OUT folder holding one."""
    folder = get_datafolder(path)
    if folder.isfile("manifest.json"):
        return path
    if folder.isfile("dedup/minhash/index/manifest.json"):
        return f"{path.rstrip('/')}/dedup/minhash/index"
    raise RecipeError(f"minhash against: {path} holds no MinHash index (no manifest.json; a run saves one in "
                      "OUT/dedup/minhash/index/ when it completes)")


def check(path: str, expected: dict) -> dict:
    """The manifest of the index at `path`; a RecipeError naming the first parameter that differs."""
    with get_datafolder(path).open("manifest.json", "rt") as f:
        manifest = json.load(f)
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise RecipeError(f"minhash against: {path}/manifest.json is not a {FORMAT} v{VERSION} manifest")
    for name in PARAMETERS:
        if manifest.get(name) != expected[name]:
            raise RecipeError(f"minhash against: {path} was built with {name}={manifest.get(name)!r}, this run has "
                              f"{name}={expected[name]!r}; an index only matches signatures of the same parameters")
    if manifest["tasks"] > 1 << TASK_BITS:
        raise RecipeError(f"minhash against: {path} has {manifest['tasks']} tasks, at most {1 << TASK_BITS} supported")
    return manifest


class IndexRunReader(RunReader):
    """A band file of an earlier index, its refs moved to that index's task numbers."""

    def __init__(self, folder, path: str, index_no: int, **kwargs):
        super().__init__(folder, path, **kwargs)
        self.offset = np.uint64(EARLIER + (index_no << TASK_BITS)) << np.uint64(32)

    def read(self) -> np.ndarray:
        data = super().read().copy()
        data["ref"] += self.offset
        return data


def index_readers(against: list[str], band: int, lo: int, hi: int, block: int) -> list[RunReader]:
    """Readers of every earlier index's records of `band` with lo <= hash < hi."""
    readers = []
    for j, path in enumerate(against):
        folder = get_datafolder(path)
        for file in sorted(folder.glob(f"bands/{band:03d}/*.bin")):
            readers.append(IndexRunReader(folder, file, j, block=block, lo=lo, hi=hi))
    return readers


def band_file(band: int, lo: int) -> str:
    """The index's file of the band's hash range starting at `lo` (buckets.units_of)."""
    return f"bands/{band:03d}/{lo:016x}.bin"


def publish(work, index_dir: str, manifest: dict) -> None:
    """Copy the run's keys, signatures and ids into the index and write its manifest last."""
    out = get_datafolder(index_dir)
    if out.isfile("manifest.json"):
        out.rm("manifest.json")
    tasks = 0
    for pattern in COPIED:
        for path in sorted(work.glob(pattern)):
            with work.open(path, "rb") as src, out.open(f"{path}.tmp", "wb") as dst:
                while chunk := src.read(1 << 24):
                    dst.write(chunk)
            out.mv(f"{path}.tmp", path)
            tasks += pattern.startswith("docs")
    write_atomic(out, "manifest.json", json.dumps({"format": FORMAT, "version": VERSION, **manifest,
                                                   "tasks": tasks}, indent=1).encode())
