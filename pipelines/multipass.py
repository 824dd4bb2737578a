"""Stages that need passes of their own before the main pipeline (dedup), chained by `depends=`.

This is the one orchestrator of such passes. A stage lists the passes it needs in its declared
`CurateStep.prepasses()` (filters/minhash/filter.py, filters/fasttext_classifier.py); most list
none. For each stage that does, in pipeline order, this builds one datatrove executor per pass:
`PassKind.INPUT` passes run the recipe's readers and every stage before it, then the pass's steps,
with the recipe's task count; `TASKS` passes run only their steps with that task count, `SINGLE`
passes in one task. An `INPUT` pass also saves the stream it saw, every document with its signals
and drop marks, to OUT/<work_group>/<stage>/stream/ (`StreamCache`), and what comes after reads it
back (`StreamReader`) instead of reading and extracting the crawl again; the files are removed once
the run has completed. Each executor depends on the previous one and the main executor on the
last, so `main.run()` runs them all in order on the local and Ray executors, and Slurm submits them
as dependent job arrays. Every pass has its own logs and completion markers under
OUT/logs/<stage>_<pass>/, so a killed run resumes pass by pass, task by task.
"""

from __future__ import annotations

import gzip

import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep

from curate.core.step import CurateStep, Pass, PassKind

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


def chain_prepasses(pipeline: list, make_executor, output: str, tasks: int, name: str = "curate"
                    ) -> tuple[object | None, list]:
    """Build the executors of every stage's passes and return the one the main pipeline must depend
    on (None if no stage has passes) and the main pipeline itself, which starts from the last saved
    stream. `output` is the run's folder (OUT), `tasks` the main pipeline's task count, `name` the
    run's name (Slurm job names); `make_executor(steps, tasks, logging_dir, depends, name)` builds
    one executor of the run's type."""
    previous, source, start = None, [], 0
    for i, step in enumerate(pipeline):
        passes = stage_passes(step, output)
        stream = f"{step.work_dir}/{STREAM}" if passes else None
        for p in passes:
            steps = p.steps
            if p.kind is PassKind.INPUT:
                steps = [*source, *pipeline[start:i], StreamCache(stream), *steps]
            previous = make_executor(steps, 1 if p.kind is PassKind.SINGLE else tasks,
                                     f"{output}/logs/{step.namespace}_{p.name}", previous,
                                     f"{name}_{step.namespace}_{p.name}")
        if any(p.kind is PassKind.INPUT for p in passes):
            source, start = [StreamReader(stream)], i
    return previous, [*source, *pipeline[start:]]


def stage_passes(step, output: str) -> list[Pass]:
    """The passes `step` declares (none for a step that is not a `CurateStep`). A stage that has
    some and no `work_dir` of its own gets OUT/<work_group>/<namespace>; one without keeps None."""
    if not isinstance(step, CurateStep):
        return []
    given = step.work_dir
    if given is None:
        step.work_dir = f"{output}/{step.work_group}/{step.namespace}"
    passes = step.prepasses()  # may read work_dir, so it is set first
    if not passes:
        step.work_dir = given
    return passes


def remove_streams(pipeline: list) -> None:
    """Delete the saved streams of a completed run (`pipeline` as chained, or as it was before)."""
    for step in pipeline:
        if isinstance(step, StreamReader):
            _empty(step.folder)
        elif isinstance(step, CurateStep) and step.work_dir is not None and any(
                p.kind is PassKind.INPUT for p in step.prepasses()):
            _empty(f"{step.work_dir}/{STREAM}")


def _empty(path: str) -> None:
    folder = get_datafolder(path)
    for file in folder.list_files():
        folder.rm(file)
