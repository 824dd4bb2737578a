"""Stages that need passes of their own before the main pipeline (dedup), chained by `depends=`.

A stage with a `prepasses()` method (filters/minhash/filter.py) lists the passes it needs. For
each such stage, in pipeline order, this builds one datatrove executor per pass: `input` passes
run the recipe's readers and every stage before it, then the pass's steps, with the recipe's task
count; the others run only their steps. Each executor depends on the previous one and the main
executor on the last, so `main.run()` runs them all in order on the local and Ray executors, and
Slurm submits them as dependent job arrays. Every pass has its own logs and completion markers
under OUT/logs/<stage>_<pass>/, so a killed run resumes pass by pass, task by task.
"""

from __future__ import annotations


def chain_prepasses(recipe, pipeline: list, make_executor):
    """Set each multi-pass stage's work_dir (OUT/dedup/<stage>) and return the executor the main
    pipeline must depend on (None if no stage needs passes). `make_executor(steps, tasks,
    logging_dir, depends, name)` builds one executor of the recipe's type."""
    previous = None
    for i, step in enumerate(pipeline):
        if not hasattr(step, "prepasses"):
            continue
        if getattr(step, "work_dir", None) is None:
            step.work_dir = f"{recipe.output}/dedup/{step.namespace}"
        upstream = pipeline[:i]
        for name, steps, kind in step.prepasses():
            tasks = 1 if kind == "single" else recipe.executor.tasks
            previous = make_executor([*upstream, *steps] if kind == "input" else steps, tasks,
                                     f"{recipe.output}/logs/{step.namespace}_{name}", previous,
                                     f"{recipe.name}_{step.namespace}_{name}")
    return previous
