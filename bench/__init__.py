"""Benchmarks: each runs curate and a named peer on the same input in one run (docs/PERFORMANCE.md)."""

import os


def one_core() -> None:
    """Pin this process to its first allowed core, so docs/s is per core whatever else runs."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
