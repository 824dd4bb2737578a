"""Stages that need passes of their own before the main pipeline (dedup), chained by `depends=`.

A stage with a `prepasses()` method (filters/minhash/filter.py) lists the passes it needs. For
each such stage, in pipeline order, this builds one datatrove executor per pass: `input` passes
run the recipe's readers and every stage before it, then the pass's steps, with the recipe's task
count; the others run only their steps. The first `input` pass also saves the stream it saw, every
document with its signals and drop marks, to OUT/<group>/<stage>/stream/ (`StreamCache`), and
what comes after reads it back (`StreamReader`) instead of reading and extracting the crawl again;
the files are removed once the run has completed. Each executor depends on the previous one and the main
executor on the last, so `main.run()` runs them all in order on the local and Ray executors, and
Slurm submits them as dependent job arrays. Every pass has its own logs and completion markers
under OUT/logs/<stage>_<pass>/, so a killed run resumes pass by pass, task by task.
"""

from __future__ import annotations

import gzip

import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep

STREAM = "stream"


class StreamCache(PipelineStep):
    """Pass documents on unchanged, writing each (text, id, metadata) to `folder/{rank:05d}.jsonl.gz`."""

    name = "💾 stream cache"
    type = "🫂 - DEDUP"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        folder, path = get_datafolder(self.folder), f"{rank:05d}.jsonl.gz"
        with folder.open(f"{path}.tmp", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as f:
            for doc in data:
                f.write(orjson.dumps({"id": doc.id, "text": doc.text, "metadata": doc.metadata},
                                     option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE))
                yield doc
        folder.mv(f"{path}.tmp", path)  # only a complete stream is ever read back


class StreamReader(PipelineStep):
    """Read back the documents `StreamCache` saved for this rank, in the same order."""

    name = "💾 stream reader"
    type = "🫂 - DEDUP"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        folder, path = get_datafolder(self.folder), f"{rank:05d}.jsonl.gz"
        if not folder.isfile(path):
            raise FileNotFoundError(f"{self.folder}/{path} is missing: the pass that writes it did not complete")
        with folder.open(path, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as f:
            for line in f:
                record = orjson.loads(line)
                yield Document(text=record["text"], id=record["id"], metadata=record["metadata"])


def chain_prepasses(recipe, pipeline: list, make_executor) -> tuple[object | None, list]:
    """Set each multi-pass stage's work_dir (OUT/<group>/<stage>) and return the executor the main
    pipeline must depend on (None if no stage needs passes) and the main pipeline itself, which
    starts from the last saved stream. `make_executor(steps, tasks, logging_dir, depends, name)`
    builds one executor of the recipe's type."""
    previous, source, start = None, [], 0
    for i, step in enumerate(pipeline):
        if not hasattr(step, "prepasses"):
            continue
        if getattr(step, "work_dir", None) is None:
            step.work_dir = f"{recipe.output}/{getattr(step, 'work_group', 'dedup')}/{step.namespace}"
        stream = f"{step.work_dir}/{STREAM}"
        for name, steps, kind in step.prepasses():
            tasks = 1 if kind == "single" else recipe.executor.tasks
            if kind == "input":
                steps = [*source, *pipeline[start:i], StreamCache(stream), *steps]
            previous = make_executor(steps, tasks, f"{recipe.output}/logs/{step.namespace}_{name}", previous,
                                     f"{recipe.name}_{step.namespace}_{name}")
        source, start = [StreamReader(stream)], i
    return previous, [*source, *pipeline[start:]]


def remove_streams(pipeline: list) -> None:
    """Delete the saved streams of a completed run."""
    for step in pipeline:
        if isinstance(step, StreamReader) or hasattr(step, "prepasses"):
            folder = get_datafolder(step.folder if isinstance(step, StreamReader) else f"{step.work_dir}/{STREAM}")
            for path in folder.list_files():
                folder.rm(path)
