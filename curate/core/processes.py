"""Process hygiene: a run's helper processes end with it, and two runs never share an output folder.

`kill -9` of `curate run` used to leave its workers (datatrove's `LocalPipelineExecutor` runs
tasks in a `multiprocess` pool when workers > 1) and their extraction sandboxes running for
10-90 s, and a re-run started meanwhile lost documents to timeouts on the shared cores (issue 14).
A killed process runs no cleanup, so its children must notice for themselves:

- `die_with_parent()`, called first thing in every child curate starts, asks Linux to send the
  child SIGKILL when its parent dies (`prctl(PR_SET_PDEATHSIG)`, prctl(2)); elsewhere a daemon
  thread polls the parent's pid (`WATCH_INTERVAL`). The chain main -> forkserver -> pool worker
  -> extraction sandbox unwinds link by link: the forkserver exits when the main process's end of
  its pipe closes, and each child follows its parent.
- `die_with(pid)` also watches a process further up (the pool worker watches the main process,
  not only the forkserver that forked it).
- `RunLock` is a file in the output folder listing the pids of the run and its workers; a second
  run into the same folder is refused while any of them lives, and a lock whose processes are all
  gone (a killed run) is taken over.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL = 0.25  # seconds between checks of a watched pid where prctl is not available
LOCK_NAME = ".curate.lock"


class OutputInUse(RuntimeError):
    """Another live curate run holds the output folder's lock."""


def die_with_parent() -> None:
    """Have this process killed (SIGKILL) as soon as its parent dies; see the module docstring."""
    parent = os.getppid()
    if not _set_pdeathsig(signal.SIGKILL):
        _watch(parent)
    elif os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)


def die_with(pid: int) -> None:
    """`die_with_parent()`, and also end this process once `pid` (e.g. an ancestor) is gone."""
    die_with_parent()
    if pid != os.getppid():
        _watch(pid)


def _set_pdeathsig(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


_watched: set[tuple[int, int]] = set()  # (this process, watched pid): a forked child inherits the set, not the threads


def _watch(pid: int) -> None:
    """A daemon thread that kills this process once `pid` is gone (or, for the parent, once this
    process has been handed to another parent)."""
    if (os.getpid(), pid) in _watched:
        return
    _watched.add((os.getpid(), pid))
    parent = os.getppid()

    def gone() -> bool:
        return not alive(pid) or (pid == parent and os.getppid() != parent)

    def watchdog() -> None:
        while not gone():
            time.sleep(WATCH_INTERVAL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watchdog, name=f"curate-watch-{pid}", daemon=True).start()


def alive(pid: int) -> bool:
    """Whether `pid` is a running process (a zombie, dead but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    state = _stat(pid)
    return state is None or state[0] != "Z"


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) from /proc/<pid>/stat on Linux; None elsewhere or if unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rpartition(")")[2].split()  # the command name, in parentheses, may hold spaces
    return fields[0], fields[19]


def _identity(pid: int) -> str:
    """`pid start-time`: a pid reused by an unrelated process later does not match (Linux)."""
    state = _stat(pid)
    return f"{pid} {state[1] if state else '-'}"


class RunLock:
    """A lock file (`OUT/.curate.lock`) listing the pids of a run and of its worker processes.

    `acquire()` raises `OutputInUse` while any listed process lives, else writes this process's
    pid; `join()` adds the calling worker's pid; `release()` removes the file.
    Example: `with RunLock("out/demo"): ...`
    """

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / LOCK_NAME

    def holders(self) -> list[int]:
        """The live processes listed in the lock file (not this one)."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        live = []
        for line in lines:
            pid_text, _, start = line.partition(" ")
            if not pid_text.isdigit() or int(pid_text) == os.getpid():
                continue
            pid = int(pid_text)
            if alive(pid) and (start in ("", "-") or _identity(pid) == line.strip()):
                live.append(pid)
        return live

    def check(self) -> None:
        """Raise `OutputInUse` if a live process holds the lock."""
        live = self.holders()
        if live:
            raise OutputInUse(f"{self.path.parent} is in use by another curate run (pid "
                              f"{', '.join(map(str, live))}); wait for it to end or stop it, then run again")

    def acquire(self) -> RunLock:
        self.check()
        self._write("w")
        return self

    def join(self) -> None:
        """Add this (worker) process to the lock of the run that started it."""
        self._write("a")

    def _write(self, mode: str) -> None:
        try:
            with open(self.path, mode) as f:
                f.write(_identity(os.getpid()) + "\n")
        except OSError as error:  # a failed write names no file (a full disk): name the lock file
            if error.filename is not None:
                raise
            raise OSError(error.errno, error.strerror or str(error), str(self.path)) from error

    def release(self) -> None:
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
