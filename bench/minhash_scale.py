"""Buckets and clusters on 1,000,000 documents with synthetic signatures: time and peak RSS.

Signature runs are generated as if by 4 signature tasks (14 bands; 10% of documents copy all
bands of an earlier one, 10% copy 3 random bands of one: a near-duplicate), then the buckets pass
(2 tasks, one after the other, in this process) and the clusters pass run as they do in a recipe.
Peak RSS is this process's, measured after generation in a child process.

    .venv/bin/python bench/minhash_scale.py [--docs 1000000] [--dir /tmp/curate-scale]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

BANDS, TASKS = 14, 4


def generate(folder: str, docs: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datatrove.io import get_datafolder

    from curate.filters.minhash.runs import RECORD, make_ref, write_run

    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 1 << 63, (docs, BANDS), dtype=np.uint64)
    exact = rng.random(docs) < 0.1
    near = (~exact) & (rng.random(docs) < 0.11)
    source = (rng.random(docs) * np.arange(docs)).astype(np.int64)
    hashes[exact] = hashes[source[exact]]
    for i in np.flatnonzero(near):
        cols = rng.choice(BANDS, 3, replace=False)
        hashes[i, cols] = hashes[source[i], cols]
    f = get_datafolder(folder)
    per = docs // TASKS
    for rank in range(TASKS):
        lo, hi = rank * per, (rank + 1) * per if rank < TASKS - 1 else docs
        refs = make_ref(rank, np.arange(hi - lo))
        for band in range(BANDS):
            for run, (a, b) in enumerate([(0, (hi - lo) // 2), ((hi - lo) // 2, hi - lo)]):  # two spilled runs
                rec = np.empty(b - a, RECORD)
                rec["h"], rec["ref"] = hashes[lo + a:lo + b, band], refs[a:b]
                write_run(f, f"bands/{band:03d}/{rank:05d}_{run:04d}.bin", rec)
        keys = rng.integers(0, 1 << 63, hi - lo, dtype=np.uint64)
        with f.open(f"docs/{rank:05d}.parquet", "wb") as out:
            pq.write_table(pa.table({"key": keys, "id": [f"doc-{lo + i}" for i in range(hi - lo)]}), out)
        with f.open(f"keys/{rank:05d}.bin", "wb") as out:  # the same keys, as the signatures pass writes them
            out.write(keys.astype("<u8").tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/curate-scale")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    child = multiprocessing.get_context("spawn").Process(target=generate, args=(args.dir, args.docs))
    child.start()
    child.join()
    from curate.filters.minhash.buckets import DedupBuckets
    from curate.filters.minhash.clusters import DedupClusters

    start = time.perf_counter()
    for rank in range(2):
        list(DedupBuckets(args.dir, BANDS).run(iter([]), rank, 2))
    buckets_s = time.perf_counter() - start
    start = time.perf_counter()
    list(DedupClusters(args.dir).run(iter([]), 0, 1))
    clusters_s = time.perf_counter() - start
    import pyarrow.parquet as pq

    dropped = sum(pq.read_table(p, columns=["kept"])["kept"].to_numpy(zero_copy_only=False).__invert__().sum()
                  for p in Path(args.dir, "clusters").glob("*.parquet"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"docs": args.docs, "buckets_s": round(buckets_s, 1), "clusters_s": round(clusters_s, 1),
                      "duplicates_dropped": int(dropped), "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main()
