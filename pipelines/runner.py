"""Build a datatrove pipeline from a recipe and run it with a datatrove executor.

curate never schedules anything itself: tasks, workers, completion markers, logs and stats are
datatrove's (LocalPipelineExecutor here; Slurm and Ray through the same mapping). A task that
finished has a marker in `logs/completions/`, so re-running a finished recipe does nothing, and
a killed run re-runs only the tasks that had not finished; a re-run task rewrites its own
output files, so nothing is lost or duplicated.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import yaml
from datatrove.executor import LocalPipelineExecutor
from datatrove.io import get_datafolder

from curate.core import registry
from curate.core.config import Recipe, RecipeError, resolved_params
from curate.io.writers import DecisionWriter, signal_columns
from curate.pipelines.multipass import chain_prepasses, remove_streams

FORMATS = {
    "warc_reader": (".warc", ".warc.gz", ".arc", ".arc.gz", ".wet", ".wet.gz", ".wat", ".wat.gz"),
    "jsonl_reader": (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".ndjson"),
    "parquet_reader": (".parquet",),
}


def reader_for(filename: str) -> str | None:
    """The reader stage for a file, told by its name (`.warc.gz`, `.jsonl`, `.parquet`, ...)."""
    lowered = filename.lower()
    for stage, suffixes in FORMATS.items():
        if lowered.endswith(suffixes):
            return stage
    return None


def build_readers(inputs: list[str], progress: bool = False) -> list:
    """One reader per input file, or per format found in an input folder (local or fsspec URL)."""
    if not inputs:
        raise RecipeError("no input: give `input:` in the recipe or --input on the command line")
    readers = []
    for path in inputs:
        folder = get_datafolder(path)
        if folder.isfile(""):
            parent, _, name = path.rstrip("/").rpartition("/")
            stage = reader_for(name)
            if stage is None:
                raise RecipeError(f"{path}: unknown input format; expected one of "
                                  + ", ".join(s for suffixes in FORMATS.values() for s in suffixes))
            readers.append(_reader(stage, parent or ".", name, progress))
            continue
        if not folder.exists(""):
            raise RecipeError(f"input not found: {path}")
        found = {reader_for(f) for f in folder.list_files(recursive=True)} - {None}
        if not found:
            raise RecipeError(f"{path}: no WARC/ARC/WET, JSONL or Parquet files in this folder")
        for stage in sorted(found):
            for suffix in FORMATS[stage]:
                if any(f.lower().endswith(suffix) for f in folder.list_files(recursive=True)):
                    readers.append(_reader(stage, path, f"**/*{suffix}", progress))
    return readers


def _reader(stage: str, folder: str, glob: str, progress: bool):
    cls = registry.get(stage).load()
    return cls(folder, glob_pattern=glob, doc_progress=progress)


def build_stages(recipe: Recipe) -> list:
    steps = []
    for stage in recipe.stages:
        spec = registry.get(stage.name)
        cls = spec.load()
        params = dict(stage.params)
        if "mode" in _init_params(cls):
            params.setdefault("mode", recipe.mode)
        try:
            steps.append(cls(**params, emit_dropped=True))
        except Exception as error:
            raise RecipeError(f"{recipe.where(stage.line)}: cannot build stage {spec.name!r}: {error}") from error
    return steps


def _init_params(cls) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters)


def build_pipeline(recipe: Recipe, progress: bool = False) -> list:
    """Readers for the inputs, the recipe's stages, and the decision writer, as datatrove steps."""
    readers = build_readers(recipe.inputs, progress)
    stages = build_stages(recipe)
    # a stage may ask for its output to be partitioned (fasttext_lang `route: true` -> documents/lang=xx/)
    partition = next((s.output_partition for s in stages if getattr(s, "output_partition", None)), None)
    return [*readers, *stages, DecisionWriter(recipe.output, signal_columns([*readers, *stages]), partition_by=partition)]


def build_executor(recipe: Recipe, pipeline: list, tasks: int | None = None, logging_dir: str | None = None,
                   depends=None, job_name: str | None = None):
    """Map the recipe's executor section onto a datatrove executor (by default the main one: the
    recipe's tasks, OUT/logs); `depends` is an executor of the same type to run first."""
    config = recipe.executor
    logging_dir = logging_dir or f"{recipe.output}/logs"
    common = dict(pipeline=pipeline, tasks=tasks or config.tasks, logging_dir=logging_dir, **config.options)
    if depends is not None:
        common["depends"] = depends
    if config.type == "local":
        return QuietLocalExecutor(workers=config.workers or 1, **common)
    if config.type == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        for required in ("time", "partition"):
            if required not in config.options:
                raise RecipeError(f"{recipe.path}: the slurm executor needs executor.slurm.{required}")
        common.setdefault("job_name", job_name or recipe.name)
        return SlurmPipelineExecutor(workers=config.workers or -1, **common)
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(workers=config.workers or -1, **common)


def build_pass(recipe: Recipe, steps: list, tasks: int, logging_dir: str, depends, name: str):
    """The executor of one pass of a multi-pass stage (pipelines/multipass.py)."""
    return build_executor(recipe, steps, tasks=tasks, logging_dir=logging_dir, depends=depends, job_name=name)


def _quiet_task_logger(logging_dir, rank, local_rank=0, node_rank=-1):
    """datatrove's task logger, with the console at WARNING: full logs still go to logs/."""
    import sys

    from datatrove.utils.logging import logger

    logger.remove()
    logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
    logger.add(sys.stderr, level="WARNING", format="{time:HH:mm:ss} | {level: <8} | {message}")
    logger.add(logfile, level="DEBUG",
               format="{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}")
    logger.info(f"Launching pipeline for {rank=}")
    return logfile


class QuietLocalExecutor(LocalPipelineExecutor):
    """datatrove's LocalPipelineExecutor with the console log at WARNING, so a progress bar and
    the summary stay readable; each task's full log is still in OUT/logs/logs/."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        import datatrove.executor.base as base

        base.add_task_logger = _quiet_task_logger
        base.close_task_logger = _quiet_close_task_logger
        return super()._run_for_rank(rank, local_rank, node_rank)


@dataclass
class RunResult:
    recipe: Recipe
    output: str
    did_work: bool
    seconds: float = 0.0
    input_bytes: int = 0
    tasks_run: int = 0
    submitted: bool = False  # handed to a cluster (Slurm): outputs appear when its jobs finish
    messages: list[str] = field(default_factory=list)


def resolved_config(recipe: Recipe) -> dict:
    data = recipe.to_dict()
    data["stages"] = [{stage.name: resolved_params(stage)} for stage in recipe.stages]
    return data


def input_bytes(inputs: list[str]) -> int:
    total = 0
    for path in inputs:
        folder = get_datafolder(path)
        if folder.isfile(""):
            total += folder.size("")
        else:
            total += sum(folder.size(f) for f in folder.list_files(recursive=True) if reader_for(f))
    return total


def run(recipe: Recipe, overwrite: bool = False, progress: bool = True) -> RunResult:
    """Run `recipe` to completion and return what happened; see the module docstring for reruns."""
    out = Path(recipe.output)
    resolved = resolved_config(recipe)
    config_file = out / "config.resolved.yaml"
    if overwrite and out.exists():
        shutil.rmtree(out)
    if config_file.exists():
        previous = yaml.safe_load(config_file.read_text())
        if previous != resolved:
            raise RecipeError(
                f"{out} holds a run of a different configuration ({config_file}); "
                "use another --output, or --overwrite to replace it"
            )
    pipeline = build_pipeline(recipe, progress=progress and recipe.executor.type == "local")
    stages = pipeline
    depends, pipeline = chain_prepasses(recipe, pipeline, partial(build_pass, recipe))
    executor = build_executor(recipe, pipeline, depends=depends)
    out.mkdir(parents=True, exist_ok=True)
    config_file.write_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
    result = RunResult(recipe, str(out), did_work=True, input_bytes=input_bytes(recipe.inputs))
    pending = executor.get_incomplete_ranks()
    if not pending:
        result.did_work = False
        result.messages.append(
            f"Nothing to do: all {recipe.executor.tasks} tasks already completed in {out} "
            f"(markers in {out}/logs/completions). Use --overwrite to run again."
        )
        return result
    result.tasks_run = len(pending)
    start = time.perf_counter()
    with _console_warnings_only():
        executor.run()
    result.seconds = time.perf_counter() - start
    if recipe.executor.type == "slurm":
        result.submitted = True
        result.messages.append(
            f"Submitted to Slurm: job {executor.job_id} ({len(pending)} tasks; launch script "
            f"{out}/logs/launch_script.slurm). When it finishes: curate stats {out}"
        )
        return result
    if not executor.get_incomplete_ranks():
        remove_streams(stages)
    merge_stats(out)
    for step in stages:  # per-run reports computed from the decision table (OUT/reports/*.parquet)
        if hasattr(step, "write_report"):
            step.write_report(out)
    return result


def _quiet_close_task_logger(logfile):
    import sys

    from datatrove.utils.logging import logger

    logger.complete()
    logger.remove()
    logger.add(sys.stderr, level="WARNING", format="{time:HH:mm:ss} | {level: <8} | {message}")
    logfile.close()


@contextmanager
def _console_warnings_only():
    """datatrove logs every task's stats table at INFO; curate prints its own summary instead."""
    import sys

    from datatrove.utils.logging import logger

    def console():
        logger.remove()  # datatrove's task loggers replace all handlers too, so reset them all
        logger.add(sys.stderr, level="WARNING", format="{time:HH:mm:ss} | {level: <8} | {message}")

    console()
    try:
        yield
    finally:
        console()


def merge_stats(out: Path) -> None:
    """Merge every task's datatrove stats into OUT/stats.json (covers resumed runs too)."""
    from datatrove.utils.stats import PipelineStats

    merged = PipelineStats()
    for path in sorted((out / "logs" / "stats").glob("*.json")):
        merged += PipelineStats.from_json(json.loads(path.read_text()))
    (out / "stats.json").write_text(merged.to_json())
