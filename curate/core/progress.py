"""Progress with a rate and an ETA for long work, and the console settings of the CLI (issue 16).

A long-running tool takes `progress=None`: a callable `progress(done, total=None, phase=None,
unit=None, note=None)` that it calls from its natural loop (files read, documents scored, runs
trained). The tool knows nothing of terminals; the CLI hands it a `Bar`, which draws one tqdm bar
on stderr per phase (`mix: counting tokens  40%|████      | 4,000/10,000 doc [00:03<00:04, 1,180 doc/s]`),
only when stderr is a terminal or `curate --progress` forces it, and never under `--quiet`; tests
and pipes see nothing. A ticker redraws it every second, so the elapsed time moves during a phase
with no loop to report from (a fastText fit, a tokenizer trained in Rust).

`Console` is what the global options decide: `--quiet` (no bar, no informational stderr lines;
results on stdout and errors stay), `--progress` (a bar even when stderr is not a terminal), and
`--debug` (third-party log lines, datatrove's INFO included, which are otherwise cut to errors).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

Progress = Callable[..., None]  # progress(done, total=None, phase=None, unit=None, note=None)

QUIET_LOG_LEVEL = "ERROR"  # third-party (loguru) lines on the console by default; OUT/logs keeps them all
DEBUG_LOG_LEVEL = "DEBUG"


class Bar:
    """A `Progress` that draws a tqdm bar on `file` (stderr), one per phase; a no-op when disabled.

    `unit="B"` scales to kB/MB/GB; `note` is shown after the rate (e.g. "1,234 docs, 2/4 tasks")."""

    def __init__(self, name: str, unit: str = "it", enabled: bool = True, file=None, tick: float = 1.0):
        self.name, self.unit, self.enabled, self.tick = name, unit, enabled, tick
        self.file = file
        self.phase: str | None = None
        self._bar = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __call__(self, done: float, total: float | None = None, phase: str | None = None, unit: str | None = None,
                 note: str | None = None) -> None:
        if not self.enabled:
            return
        done = round(done, 2) if isinstance(done, float) else done  # fractions of a run: 2.35/10 run
        with self._lock:
            if self._bar is None or phase != self.phase:
                self._open(phase, total, unit or self.unit, done)
            bar = self._bar
            if total is not None and total != bar.total:
                bar.total = total
            if note is not None:
                bar.set_postfix_str(note, refresh=False)
            if done >= bar.n:
                bar.update(done - bar.n)  # tqdm redraws at most every mininterval
            else:
                bar.n = done
                bar.refresh()

    def _open(self, phase: str | None, total, unit: str, initial) -> None:
        from tqdm import tqdm

        self._close_bar()
        self.phase = phase
        self._bar = tqdm(desc=f"{self.name}: {phase}" if phase else self.name, total=total, initial=initial,
                         unit=unit, unit_scale=unit == "B", unit_divisor=1000, file=self.file or sys.stderr,
                         dynamic_ncols=True, mininterval=0.5, leave=True, smoothing=0.1,
                         # a phase with nothing to count (one call into fastText): its time so far
                         bar_format="{desc} [{elapsed}]" if total is None and not initial else None)
        if self._ticker is None and self.tick:
            self._ticker = threading.Thread(target=self._tick, name="curate-progress", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                if self._bar is not None:
                    self._bar.refresh()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def write(self, message: str) -> None:
        """A line on stderr above the bar (the bar is redrawn below it)."""
        from tqdm import tqdm

        tqdm.write(message, file=self.file or sys.stderr)

    def close(self, keep: bool = True) -> None:
        """Stop drawing; `keep=False` clears the bar's line (a failure: the `Error:` line stands alone)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            if self._bar is not None and not keep:
                self._bar.leave = False
            self._close_bar()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, kind, *exc) -> None:
        self.close(keep=kind is None)


def shows_bars(quiet: bool, force: bool, stream=None) -> bool:
    """Whether a bar is drawn: never under --quiet; with --progress always; else on a terminal only."""
    if quiet:
        return False
    stream = stream or sys.stderr
    return force or bool(getattr(stream, "isatty", lambda: False)())


@dataclass
class Console:
    """The global `--quiet`, `--progress` and `--debug` of the CLI, for its commands."""

    quiet: bool = False
    force_progress: bool = False
    debug: bool = False

    def bar(self, name: str, unit: str = "it") -> Bar:
        return Bar(name, unit, enabled=shows_bars(self.quiet, self.force_progress))

    def say(self, message: str) -> None:
        """An informational line on stderr (what runs, what was written); silent under --quiet."""
        if not self.quiet:
            from tqdm import tqdm

            tqdm.write(message, file=sys.stderr)  # above a bar, if one is drawn

    @property
    def log_level(self) -> str:
        return DEBUG_LOG_LEVEL if self.debug else QUIET_LOG_LEVEL

    def configure_logging(self) -> None:
        """Third-party log lines (datatrove's loguru logger: INFO lines, "No files found ... for
        rank=1" warnings) on stderr at ERROR, or all of them with --debug."""
        import datatrove.utils.logging  # noqa: F401  its import installs an INFO handler: import it before replacing it
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level=self.log_level, format="{time:HH:mm:ss} | {level: <8} | {message}")
