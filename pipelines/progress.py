"""One progress bar for a `curate run`, summed over its tasks and workers (issue 16).

datatrove's readers draw a tqdm bar per task, and several workers' bars overwrite one another on
one line. Instead a `ProgressTap`, right after the readers, counts in each task the documents and
input bytes read, and every half second replaces OUT/logs/progress/<rank>.json (a file, so it works
whatever process start method the executor uses). `RunProgress`, in the process that started the
run, reads those files twice a second and calls one `Progress` callback with the bytes read of
all tasks against the input's total, the documents and the finished tasks of every pass.

The console: datatrove logs at INFO (every task's stats table) and warns of tasks without files;
the runner's task loggers (`quiet_task_logger`) and `console_only` keep its console lines at
ERROR (all of them with `curate --debug`), while each task's full log goes to OUT/logs/logs/.

Bytes read: the sizes of the files a task has finished, plus the record offset in the current
one where the reader records it (`read__offset`, WARC); JSONL and Parquet count per whole file.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger

from curate.core.progress import QUIET_LOG_LEVEL

FOLDER = "logs/progress"


class ProgressTap(PipelineStep):
    """Pass documents on unchanged; write this task's counts to `folder/<rank>.json` twice a second.

    `roots` are the readers' folders, to find the size of a file a document names by a relative
    `file_path` (the WARC reader's)."""

    name = "📈 progress"
    type = "📈 - PROGRESS"

    def __init__(self, folder: str, roots: list[str], every: float = 0.5):
        super().__init__()
        self.folder, self.roots, self.every = folder, roots, every

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        counter = _Counter(Path(self.folder) / f"{rank:05d}.json", self.roots)
        for doc in data:
            counter.see(doc.metadata.get("file_path"), doc.metadata.get("read__offset"))
            if time.monotonic() >= counter.written + self.every:
                counter.write()
            yield doc
        counter.write(finished=True)


class _Counter:
    def __init__(self, path: Path, roots: list[str]):
        self.path, self.roots = path, roots
        self.docs = self.finished_bytes = self.offset = 0
        self.current: str | None = None
        self.sizes: dict[str, int] = {}
        self.written = time.monotonic()
        path.parent.mkdir(parents=True, exist_ok=True)

    def see(self, file_path, offset) -> None:
        self.docs += 1
        if file_path != self.current:
            self.finished_bytes += self.size(self.current)
            self.current, self.offset = file_path, 0
        if isinstance(offset, int):
            self.offset = max(self.offset, offset)

    def size(self, file_path) -> int:
        if not file_path:
            return 0
        if file_path not in self.sizes:
            local = str(file_path).removeprefix("file://")
            candidates = [local] if os.path.isabs(local) else [os.path.join(r, local) for r in self.roots]
            self.sizes[file_path] = next((os.path.getsize(c) for c in candidates if os.path.isfile(c)), 0)
        return self.sizes[file_path]

    def bytes(self) -> int:
        return self.finished_bytes + min(self.offset, self.size(self.current))

    def write(self, finished: bool = False) -> None:
        if finished:  # the last file is read to its end
            self.finished_bytes += self.size(self.current)
            self.current, self.offset = None, 0
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"docs": self.docs, "bytes": self.bytes(), "finished": finished}))
        os.replace(tmp, self.path)  # the reader never sees half a file
        self.written = time.monotonic()


def read_counts(folder: Path) -> tuple[int, int]:
    """(documents, bytes) summed over the tasks' files in `folder`."""
    docs = done = 0
    for path in folder.glob("*.json"):
        try:
            counts = json.loads(path.read_text())
        except (OSError, ValueError):  # replaced between listing and reading: the next poll has it
            continue
        docs, done = docs + counts["docs"], done + counts["bytes"]
    return docs, done


def forget_incomplete(folder: Path, ranks: list[int]) -> None:
    """Remove the counts of tasks that will run again (a resumed run), so the bar never goes back."""
    for rank in ranks:
        (folder / f"{rank:05d}.json").unlink(missing_ok=True)


class RunProgress:
    """Poll a run's progress files and completion markers; call `progress` until closed.

    `total_bytes` is the input's size; `total_tasks` the tasks of every pass; `out` the run folder."""

    def __init__(self, progress, out: Path, total_bytes: int, total_tasks: int, interval: float = 0.5):
        self.progress, self.out = progress, out
        self.total_bytes, self.total_tasks, self.interval = total_bytes, total_tasks, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="curate-run-progress", daemon=True)

    def __enter__(self) -> RunProgress:
        self.poll()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        docs, done = read_counts(self.out / FOLDER)
        tasks = sum(1 for p in (self.out / "logs").rglob("completions/*") if p.is_file())
        self.progress(min(done, self.total_bytes), self.total_bytes, unit="B",
                      note=f"{docs:,} docs, {min(tasks, self.total_tasks)}/{self.total_tasks} tasks")


def watch(progress, executors: list, out: Path, total_bytes: int) -> RunProgress:
    """A `RunProgress` over the local `executors` of a run (every pass), counting only what the
    tasks still to run will add to what finished tasks read before (a resumed run)."""
    tapped = [e for e in executors if any(isinstance(step, ProgressTap) for step in e.pipeline)]
    for executor in tapped:
        forget_incomplete(out / FOLDER, executor.get_incomplete_ranks())
    return RunProgress(progress, out, total_bytes, sum(e.world_size for e in executors))


def quiet_task_logger(logging_dir, rank: int, level: str = QUIET_LOG_LEVEL):
    """datatrove's task logger, with the console at `level` (ERROR): full logs still go to logs/."""
    logger.remove()
    logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
    console(level)
    logger.add(logfile, level="DEBUG",
               format="{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}")
    logger.info(f"Launching pipeline for {rank=}")
    return logfile


def quiet_close_task_logger(logfile, level: str = QUIET_LOG_LEVEL) -> None:
    logger.complete()
    logger.remove()
    console(level)
    logfile.close()


def console(level: str = QUIET_LOG_LEVEL) -> None:
    logger.add(sys.stderr, level=level, format="{time:HH:mm:ss} | {level: <8} | {message}")


@contextmanager
def console_only(level: str = QUIET_LOG_LEVEL):
    """datatrove logs every task's stats table at INFO; curate prints its own summary instead."""
    logger.remove()  # datatrove's task loggers replace all handlers too, so reset them all
    console(level)
    try:
        yield
    finally:
        logger.remove()
        console(level)
