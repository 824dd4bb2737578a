"""MinHash near-dedup and exact dedup as four datatrove passes with bounded memory.

1. signatures (`signatures.py`, one task per input shard): band hashes, spilled as sorted runs
2. buckets (`buckets.py`, sharded by band and hash range): bucket-mates become edges
3. clusters (`clusters.py`, one task, external sorts): connected components; the kept document of each
4. filter (`filter.py`, the recipe stage): marks duplicates dropped, naming what they duplicate

`dedup_executors` chains them with datatrove's `depends=` for any pipeline you build by hand:

    from datatrove.executor import LocalPipelineExecutor
    from curate.filters.minhash import MinhashDedup, dedup_executors
    dedup = MinhashDedup(work_dir="out/dedup/minhash", emit_dropped=True)
    main = dedup_executors([reader], dedup, [writer], LocalPipelineExecutor, tasks=4, logging_dir="out/logs")
    main.run()
"""

from curate.core.hashing import Signer, datasketch_minhash, shingle_hash, shingles, to_lean_minhash
from curate.filters.minhash.filter import MinhashDedup


def dedup_executors(upstream: list, dedup, downstream: list, executor_cls, tasks: int, logging_dir: str, **options):
    """The executor of `[*upstream, dedup, *downstream]`, depending on dedup's three passes."""
    previous = None
    for name, steps, kind in dedup.prepasses():
        pipeline = [*upstream, *steps] if kind == "input" else steps
        previous = executor_cls(pipeline=pipeline, tasks=1 if kind == "single" else tasks,
                                logging_dir=f"{logging_dir}/{dedup.namespace}_{name}", depends=previous, **options)
    return executor_cls(pipeline=[*upstream, dedup, *downstream], tasks=tasks, logging_dir=logging_dir,
                        depends=previous, **options)


__all__ = ["MinhashDedup", "Signer", "datasketch_minhash", "dedup_executors", "shingle_hash",
           "shingles", "to_lean_minhash"]
