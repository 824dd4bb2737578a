"""MinHash near-dedup and exact dedup as four datatrove passes with bounded memory.

1. signatures (`signatures.py`, one task per input shard): band hashes, spilled as sorted runs
2. buckets (`buckets.py`, sharded by band and hash range): bucket-mates become edges
3. clusters (`clusters.py`, one task, external sorts): connected components; the kept document of each
4. filter (`filter.py`, the recipe stage): marks duplicates dropped, naming what they duplicate

The stage declares passes 1-3 in `prepasses()`, and one orchestrator runs them:
`curate.pipelines.multipass.chain_prepasses`. From a recipe that is `curate run recipe.yaml` (the
`minhash` or `exact_dedup` stage). For a pipeline built by hand, give `chain_prepasses` an object
with the recipe's `output`, `name` and `executor.tasks`, the steps, and a function that builds one
executor per pass; the executor it returns is the one the main pipeline depends on:

    from types import SimpleNamespace
    from datatrove.executor import LocalPipelineExecutor
    from curate.filters.minhash import MinhashDedup
    from curate.pipelines.multipass import chain_prepasses

    plan = SimpleNamespace(output="out", name="dedup", executor=SimpleNamespace(tasks=4))
    def make(steps, tasks, logging_dir, depends, name):
        return LocalPipelineExecutor(steps, tasks=tasks, logging_dir=logging_dir, depends=depends)
    depends, steps = chain_prepasses(plan, [reader, MinhashDedup(emit_dropped=True), writer], make)
    LocalPipelineExecutor(steps, tasks=4, logging_dir="out/logs", depends=depends).run()
"""

from curate.core.hashing import Signer, datasketch_minhash, shingle_hash, shingles, to_lean_minhash
from curate.filters.minhash.filter import MinhashDedup

__all__ = ["MinhashDedup", "Signer", "datasketch_minhash", "shingle_hash", "shingles", "to_lean_minhash"]
