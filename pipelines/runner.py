"""Build a datatrove pipeline from a recipe and run it with a datatrove executor.

curate never schedules anything itself: tasks, workers, completion markers, logs and stats are
datatrove's (LocalPipelineExecutor here; Slurm and Ray through the same mapping). A task that
finished has a marker in `logs/completions/`, so re-running a finished recipe does nothing, and
a killed run re-runs only the tasks that had not finished; a re-run task rewrites its own
output files, so nothing is lost or duplicated.
"""

from __future__ import annotations

import gc
import json
import os
import random
import shutil
import time
from collections import deque
from collections.abc import Generator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import yaml
from datatrove.executor import LocalPipelineExecutor
from datatrove.io import get_datafolder
from datatrove.utils.logging import log_pipeline, logger
from datatrove.utils.stats import PipelineStats

from curate.core import processes, registry
from curate.core.config import Recipe, RecipeError, config_difference, resolved_params
from curate.core.progress import QUIET_LOG_LEVEL, Bar, shows_bars
from curate.core.sql import files as sql_files
from curate.core.sql import literal
from curate.core.step import CurateStep
from curate.io import documents
from curate.io.samples import DroppedSample
from curate.io.writers import DecisionWriter, naming, signal_columns
from curate.pipelines.multipass import chain_prepasses, remove_streams
from curate.pipelines.progress import FOLDER as PROGRESS_FOLDER
from curate.pipelines.progress import ProgressTap, console_only, quiet_close_task_logger, quiet_task_logger, watch

# reader stage -> its suffixes, from the one suffix table (curate.io.documents.FORMATS)
READERS = {"warc_reader": "warc", "jsonl_reader": "jsonl", "parquet_reader": "parquet"}
FORMATS = {stage: documents.FORMATS[fmt] for stage, fmt in READERS.items()}


def reader_for(filename: str) -> str | None:
    """The reader stage for a file, told by its name (`.warc.gz`, `.jsonl`, `.parquet`, ...)."""
    fmt = documents.format_of(filename)
    return next((stage for stage, f in READERS.items() if f == fmt), None)


def build_readers(inputs: list[str]) -> list:
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
            readers.append(_reader(stage, parent or ".", name))
            continue
        if not folder.exists(""):
            raise RecipeError(f"input not found: {path}")
        found = {reader_for(f) for f in folder.list_files(recursive=True)} - {None}
        if not found:
            raise RecipeError(f"{path}: no WARC/ARC/WET, JSONL or Parquet files in this folder")
        for stage in sorted(found):
            for suffix in FORMATS[stage]:
                if any(f.lower().endswith(suffix) for f in folder.list_files(recursive=True)):
                    readers.append(_reader(stage, path, f"**/*{suffix}"))
    return readers


def _reader(stage: str, folder: str, glob: str):
    cls = registry.get(stage).load()
    return cls(folder, glob_pattern=glob)


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
    """Readers for the inputs, the recipe's stages, and the decision writer, as datatrove steps;
    with `progress`, a tap after the readers counts what each task read (pipelines/progress.py)."""
    readers = build_readers(recipe.inputs)
    stages = build_stages(recipe)
    if progress:
        roots = [r.data_folder.path for r in readers]
        readers = [*readers, ProgressTap(f"{recipe.output}/{PROGRESS_FOLDER}", roots)]
    # a stage may ask for its output to be partitioned (fasttext_lang `route: true` -> documents/lang=xx/)
    partition = next((s.output_partition for s in stages if s.output_partition), None)
    return [*readers, *stages, DroppedSample(recipe.output),  # a reservoir of dropped text per reason (curate inspect)
            DecisionWriter(recipe.output, signal_columns([*readers, *stages]), partition_by=partition)]


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


class QuietLocalExecutor(LocalPipelineExecutor):
    """datatrove's LocalPipelineExecutor with the console log at `console_level` (ERROR; DEBUG with
    `curate --debug`), so the progress bar and the summary stay readable; each task's full log is
    still in OUT/logs/logs/ (pipelines/progress.py).

    datatrove's `_run_for_rank` sets the console to INFO through the module functions
    `add_task_logger`/`close_task_logger`; rather than reassigning those for the whole process,
    this runs a task the way datatrove 0.10's `PipelineExecutor._run_for_rank` does (skip a
    completed rank, pipe the steps, save stats, mark completion) with curate's task logger.

    Its helper processes end with the process that called `run()` (curate.core.processes): a
    pool worker is killed when that process dies, and so is datatrove's `multiprocess` manager;
    with `run_lock` (the output folder) set, each worker adds its pid to the run's lock file."""

    main_pid: int | None = None
    run_lock: str | None = None
    console_level: str = QUIET_LOG_LEVEL  # third-party lines on the console; OUT/logs/logs/ keeps them all

    def run(self):
        import multiprocess.util

        self.main_pid = os.getpid()
        # datatrove's manager is forked from this process: it dies with it, and it would inherit
        # this process's uncollected garbage; collected there, an object whose library threads did
        # not survive the fork segfaulted it (seen in the test suite, after DuckDB queries)
        gc.collect()
        multiprocess.util.register_after_fork(self, _die_with_parent)
        return super().run()

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1) -> PipelineStats:
        if self.main_pid is not None and os.getpid() != self.main_pid:  # a pool worker
            processes.die_with(self.main_pid)
            if self.run_lock:
                processes.RunLock(self.run_lock).join()
        if self.is_rank_completed(rank):
            logger.info(f"Skipping {rank=} as it has already been completed.")
            return PipelineStats()
        self._set_distributed_environment(node_rank)
        logfile = quiet_task_logger(self.logging_dir, rank, self.console_level)
        log_pipeline(self.pipeline)
        if self.randomize_start_duration > 0:
            time.sleep(random.randint(0, self.randomize_start_duration))
        outputs = []
        try:
            outputs = self._pipe(rank)
            if outputs and outputs[-1]:
                deque(outputs[-1], maxlen=0)
            logger.success(f"Processing done for {rank=}")
            stats = PipelineStats(self.pipeline)
            if node_rank <= 0:
                with self.logging_dir.open(f"stats/{rank:05d}.json", "w") as f:
                    stats.save_to_disk(f)
                logger.info(stats.get_repr(f"Task {rank}"))
                self.mark_rank_as_completed(rank)
        except Exception as e:
            # the traceback goes to the task's log; the CLI reports the error in one line
            logger.opt(exception=e).debug(f"task {rank} failed: {e}")
            raise
        finally:
            _close(outputs)
            quiet_close_task_logger(logfile, self.console_level)
        return stats

    def _pipe(self, rank: int) -> list:
        """Chain the steps (datatrove: a step is a callable or an iterable of documents); every step's output."""
        outputs, data = [], None
        for step in self.pipeline:
            if callable(step):
                data = step(data, rank, self.world_size)
            elif isinstance(step, Sequence) and not isinstance(step, str):
                data = step
            else:
                raise ValueError(f"not a pipeline step: {step!r}")
            outputs.append(data)
        return outputs


def _close(outputs: list) -> None:
    """Close every step's generator, last first, so a step upstream of a failure (the extraction
    sandbox, an open file) cleans up now rather than whenever the garbage collector gets to it."""
    for data in reversed(outputs):
        if isinstance(data, Generator):
            try:
                data.close()
            except Exception as error:  # the task's own error is the one to report
                logger.debug(f"closing a step after the task ended: {error}")


def _die_with_parent(_executor) -> None:
    processes.die_with_parent()


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


RUN_MARKER = "config.resolved.yaml"  # written first by every run: a folder holding it is a curate run


def check_replaceable(out: Path) -> None:
    """Refuse to delete `out` for --overwrite unless it is empty or holds a curate run (its
    `config.resolved.yaml`): pointed at a folder of anything else, naming what is there."""
    if not out.is_dir():
        raise RecipeError(f"--overwrite: {out} is not a folder; give an --output folder")
    entries = sorted(p.name for p in out.iterdir())
    if entries and RUN_MARKER not in entries:
        shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        raise RecipeError(f"--overwrite refused: {out} is not a curate run folder (no {RUN_MARKER}); "
                          f"it holds {shown}. Remove it yourself or choose another --output")


def run(recipe: Recipe, overwrite: bool = False, progress=True, log_level: str = QUIET_LOG_LEVEL) -> RunResult:
    """Run `recipe` to completion and return what happened; see the module docstring for reruns.

    `progress`: a `Progress` callback (one bar for the whole run, curate.core.progress), True for
    a bar on stderr if it is a terminal, or False; `log_level`: datatrove's lines on the console."""
    out = Path(recipe.output)
    resolved = resolved_config(recipe)
    config_file = out / "config.resolved.yaml"
    if overwrite and out.exists():
        processes.RunLock(out).check()  # never delete the folder of a run that is still going
        check_replaceable(out)
        shutil.rmtree(out)
    if config_file.exists():
        differs = config_difference(yaml.safe_load(config_file.read_text()), resolved)
        if differs:
            raise RecipeError(f"{out} holds a run of a different configuration ({config_file}): {differs}; "
                              "use another --output, or --overwrite to replace it")
    if progress is True:
        progress = Bar(recipe.name, "B", enabled=shows_bars(False, False))
    drawn = progress.enabled if isinstance(progress, Bar) else bool(progress)  # a disabled Bar: no tap, no polling
    progress = progress if drawn and recipe.executor.type == "local" and "://" not in str(out) else None
    pipeline = build_pipeline(recipe, progress=progress is not None)
    stages = pipeline
    depends, pipeline = chain_prepasses(pipeline, partial(build_pass, recipe), recipe.output,
                                        recipe.executor.tasks, recipe.name)
    executor = build_executor(recipe, pipeline, depends=depends)
    out.mkdir(parents=True, exist_ok=True)
    with processes.RunLock(out) as lock:  # refused while another run (or a worker of one) writes here
        for each in _local_chain(executor):
            each.run_lock, each.console_level = str(lock.path.parent), log_level
        with naming(str(config_file)):
            config_file.write_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
        try:
            return _execute(recipe, executor, stages, out, progress, log_level)
        finally:
            if isinstance(progress, Bar):
                progress.close()


def _local_chain(executor) -> list:
    """`executor` and every executor it depends on, if they are local ones (the others run elsewhere)."""
    chain = []
    while isinstance(executor, QuietLocalExecutor):
        chain.append(executor)
        executor = executor.depends
    return chain


def _execute(recipe: Recipe, executor, stages: list, out: Path, progress=None,
             log_level: str = QUIET_LOG_LEVEL) -> RunResult:
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
    with console_only(log_level), _watch(executor, out, result.input_bytes, progress):
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
    write_reports(out, [step.reports() for step in stages if isinstance(step, CurateStep)])
    return result


def _watch(executor, out: Path, total_bytes: int, progress):
    """One bar for the run: every task's counts (pipelines/progress.py) and every pass's completions."""
    chain = _local_chain(executor)
    return watch(progress, chain, out, total_bytes) if progress is not None and chain else nullcontext()


def write_reports(out: Path, reports: list[dict[str, str]]) -> None:
    """Run each stage's report SQL (`CurateStep.reports()`) over the view `decisions` (every task's
    decision file) and write the result to OUT/reports/<name>.parquet; any number of tasks give one
    report. curate.tools.stats opens these files as views of the same names."""
    wanted = {name: sql for declared in reports for name, sql in declared.items()}
    if not wanted:
        return
    import duckdb

    (out / "reports").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    decisions = sql_files(sorted((out / "decisions").rglob("*.parquet")))
    con.execute(f"CREATE VIEW decisions AS SELECT * FROM read_parquet({decisions}, union_by_name=true, "
                "hive_partitioning=false)")
    for name, sql in wanted.items():
        con.execute(f"COPY ({sql}) TO {literal(out / 'reports' / f'{name}.parquet')} (FORMAT parquet)")
    con.close()


def merge_stats(out: Path) -> None:
    """Merge every task's datatrove stats into OUT/stats.json (covers resumed runs too)."""
    merged = PipelineStats()
    for path in sorted((out / "logs" / "stats").glob("*.json")):
        merged += PipelineStats.from_json(json.loads(path.read_text()))
    with naming(str(out / "stats.json")):
        (out / "stats.json").write_text(merged.to_json())
