"""What every HTML -> text stage shares: the outcome of every record is a reason.

datatrove's extractors drop pages that time out, fail or come out empty without a trace. A curate
extraction stage runs its extractor in a per-document sandbox (`CpuTimeSandbox`, datatrove's
`ExtractorSandbox`: a subprocess that is killed and restarted on timeout) and turns every outcome
into a reason in the decision table: `extract:non_html`, `extract:too_large`, `extract:timeout`,
`extract:crashed`, `extract:error`, `extract:empty`. Pages arrive decoded: the WARC reader picks the
charset (HTTP header, then `<meta>`, then UTF-8, then detection) and records it as `read__charset`.

The time limit counts the CPU time of the extraction worker, not wall time. datatrove's extractors
(and so FineWeb's `Trafilatura(timeout=1)`) give each page 1 s of *wall* time, so the same page is
kept on a quiet machine and dropped as a timeout on a busy one: with both cores of a 2-core
machine busy with another job, 4 of 2,000 real pages flipped to `extract:timeout` between two
identical runs (issue 14). A CPU-time limit does not move with the load (bench/determinism.py), and
a wall-clock backstop (`WALL_FACTOR` times the limit) still ends a page blocked on nothing.
"""

from __future__ import annotations

import gc
import signal
import time
from multiprocessing import Pipe, Process
from typing import ClassVar

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.extractors.base import ExtractorSandbox

from curate.core import processes
from curate.core.step import CurateStep, is_dropped, signal_key
from curate.io.readers import HTML_TYPES

WARMUP = "<html><body><p>warm up</p></body></html>"
WALL_FACTOR = 10  # wall-clock backstop: a page may take this many times its CPU limit in wall time
MIN_WALL = 5.0  # ... and never less than this (starting a worker on a loaded machine included)
POLL = 0.25  # seconds between checks that the worker is alive


class CpuTimeSandbox(ExtractorSandbox):
    """datatrove's extraction subprocess, with `timeout` in CPU seconds of the worker.

    Before each page the worker arms `ITIMER_PROF` (the process's user + system CPU time) and
    leaves `SIGPROF` at its default action, so a page over its CPU budget ends the worker even
    inside C code (lxml, resiliparse) where a Python handler would never run; the parent tells that
    death (exit by SIGPROF) from a crash and reports a `TimeoutError`, as datatrove's sandbox does
    for its wall-clock limit. The parent waits at most `wall_limit` seconds of wall time per page
    (and to start a worker) before killing it, so a worker that sleeps or blocks still ends.
    """

    def __init__(self, timeout: float, warmup_text: str = "", wall_limit: float | None = None):
        super().__init__(timeout=timeout, warmup_text=warmup_text)
        self.wall_limit = wall_limit if wall_limit is not None else max(timeout * WALL_FACTOR, MIN_WALL)

    def _worker(self, conn, extract_fn):
        processes.die_with_parent()  # killed with the task that started it, even by SIGKILL (issue 14)
        gc.freeze()  # the objects inherited from the parent are never collected here: no cyclic-GC walks over them
        signal.signal(signal.SIGPROF, signal.SIG_DFL)  # over the CPU budget: the process ends
        try:
            self.set_oom_score_adj(1000)  # the kernel's OOM killer takes this process first (Linux)
        except OSError:
            pass
        extract_fn(self.warmup_text)
        conn.send(None)  # ready
        while True:
            try:
                budget, text = conn.recv()
            except EOFError:
                break
            signal.setitimer(signal.ITIMER_PROF, budget)
            try:
                result = extract_fn(text)
            except Exception as error:  # the page's error, for the parent to raise; the worker goes on
                result = error
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
            try:
                conn.send(result)
            except Exception as error:  # an error that does not pickle
                conn.send(RuntimeError(f"{type(result).__name__}: {result} ({error})"))

    def _ensure_process(self, extract_fn):
        if self.process is not None and self.process.is_alive():
            return
        self._cleanup_process()
        self.parent_conn, self.child_conn = Pipe()
        self.process = Process(target=self._worker, args=(self.child_conn, extract_fn), daemon=True)
        self.process.start()
        self.child_conn.close()  # the worker holds the only write end: its death reads as EOF at once
        self.all_processes.append(self.process)
        self._wait("the extraction worker did not start")  # its `None`: warmed up and ready

    def process_document(self, text, extract_fn, timeout: float | None = None):
        """`extract_fn(text)` in the worker, with `timeout` CPU seconds (None: the sandbox's own)."""
        self._ensure_process(extract_fn)
        budget = self.timeout if timeout is None else timeout
        self.parent_conn.send((budget, text))
        wall = self.wall_limit if timeout is None else max(timeout * WALL_FACTOR, MIN_WALL)
        return self._wait("the page took longer than the wall-clock backstop", budget, wall)

    def _wait(self, backstop: str, budget: float | None = None, wall: float | None = None):
        """The worker's next message; TimeoutError if it used up its CPU `budget` or the `wall`-clock
        backstop passed (`backstop` says which wait), EOFError if it died otherwise."""
        budget, wall = budget or self.timeout, wall or self.wall_limit
        deadline = time.monotonic() + wall
        try:
            while True:
                if self.parent_conn.poll(max(0.0, min(POLL, deadline - time.monotonic()))):
                    result = self.parent_conn.recv()  # EOFError if the worker died
                    if isinstance(result, Exception):
                        raise result
                    return result
                if not self.process.is_alive():
                    raise EOFError("the extraction worker died")
                if time.monotonic() >= deadline:
                    raise TimeoutError(backstop)
        except EOFError:
            self.process.join(1.0)
            over_budget = self.process.exitcode == -signal.SIGPROF
            self._cleanup_process()
            if over_budget:
                raise TimeoutError(f"the page used more than {budget} s of CPU time") from None
            raise
        except TimeoutError:
            self._cleanup_process()
            raise


class HtmlExtract(CurateStep):
    """Base of the extraction stages: subclasses implement `extract_page(html) -> (text, signals)`.

    `extract_page` runs inside the sandbox; the signals it returns (a dict) are recorded on the
    document, `extractor` among them. A stage that does its work in parts, each under its own budget,
    overrides `extract_in_sandbox(html)` and sends each part to the sandbox with `sandboxed`.
    """

    namespace: ClassVar[str] = "extract"
    transient: ClassVar[tuple[str, ...]] = ("model", "sandbox")
    signals: ClassVar[dict[str, str]] = {"extractor": "string", "html_chars": "int64"}

    def __init__(self, timeout: float = 1.0, max_bytes: int = 10_000_000, emit_dropped: bool = False):
        """`timeout`: CPU seconds per page (see the module docstring; datatrove's 1 s is wall time)."""
        CurateStep.__init__(self, emit_dropped=emit_dropped)
        self.timeout = timeout
        self.max_bytes = max_bytes

    def extract_page(self, html: str) -> tuple[str, dict]:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Import and initialise everything a page can need, in this process before the sandbox forks from it:
        an import inside the sandbox would count against the first page's budget, and again after each restart."""
        self.extract_page(WARMUP)

    def in_sandbox(self, request: tuple[str, tuple]):
        """Run `request`, a method's name and its arguments: the sandbox process's one function."""
        name, args = request
        return getattr(self, name)(*args)

    def sandboxed(self, name: str, *args, timeout: float | None = None):
        """`self.name(*args)` in the sandbox, with `timeout` CPU seconds (None: the stage's): TimeoutError past
        them, EOFError if the process died, and the method's own exception if it raised one."""
        return self.sandbox.process_document((name, args), self.in_sandbox, timeout)

    def extract_in_sandbox(self, html: str) -> tuple[str, dict]:
        """The page's text and signals, from the sandbox: `extract_page` under one budget."""
        return self.sandboxed("extract_page", html)

    def passes_through(self, doc: Document) -> bool:
        """Dropped documents and records that are not HTTP responses (WET text, requests) pass as they are."""
        return is_dropped(doc) or doc.metadata.get(signal_key("read", "warc_type")) != "response"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.warm_up()  # import the libraries here, so the forked sandbox starts warm
        with CpuTimeSandbox(timeout=self.timeout, warmup_text=("extract_page", (WARMUP,))) as self.sandbox:
            yield from super().run(data, rank, world_size)

    def process(self, doc: Document) -> str | None:
        """Extract `doc` in place; the reason it has no text, or None."""
        content_type = doc.metadata.get(signal_key("read", "content_type"))
        if content_type not in HTML_TYPES:
            return "non_html"
        self.record(doc, "html_chars", len(doc.text))
        if doc.metadata.get(signal_key("read", "payload_bytes"), len(doc.text)) > self.max_bytes:
            return "too_large"
        try:
            text, signals = self.extract_in_sandbox(doc.text)
        except TimeoutError:
            return "timeout"
        except EOFError:  # the extraction subprocess died (e.g. out of memory)
            return "crashed"
        except Exception:
            return "error"
        self.record_all(doc, signals)
        if not text or not text.strip():
            return "empty"
        doc.text = text
        return None
