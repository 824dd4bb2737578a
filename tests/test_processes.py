"""Killing `curate run` ends every process it started, and a second run never races the first (issue 14).

The run is a real `curate run` of fineweb.yaml on the sample crawl with 2 tasks and 2 workers:
datatrove's multiprocess manager, forkserver and pool workers, and each worker's extraction
sandbox. Every process of the run is found by a marker in its environment (inherited by every
descendant, whoever adopts it after the main process dies).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from curate.core.processes import LOCK_NAME, OutputInUse, RunLock, alive

REPO = Path(__file__).resolve().parents[1]
GRACE = 2.0  # seconds after the kill by which no process of the run may be alive
MARKER = "CURATE_TEST_RUN"


def marked(tag: str) -> dict[int, int]:
    """pid -> parent pid of every live (not zombie) process whose environment holds MARKER=tag."""
    try:
        import psutil
    except ImportError:
        psutil = None
    needle = f"{MARKER}={tag}"
    found = {}
    if psutil is not None:
        for p in psutil.process_iter(["pid", "ppid", "status"]):
            try:
                if p.info["status"] != psutil.STATUS_ZOMBIE and p.environ().get(MARKER) == tag:
                    found[p.info["pid"]] = p.info["ppid"]
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs psutil or /proc to list processes")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state, ppid = (entry / "stat").read_text().rpartition(")")[2].split()[:2]
        except OSError:
            continue
        if needle.encode() in environ and state != "Z":
            found[int(entry.name)] = int(ppid)
    return found


def depth(pid: int, tree: dict[int, int], root: int) -> int:
    """How many generations below `root` the process `pid` is (0 if not below it)."""
    generations = 0
    while pid in tree and pid != root:
        pid, generations = tree[pid], generations + 1
    return generations if pid == root else 0


def describe(pids) -> str:
    out = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            command = "?"
        out.append(f"{pid}: {command[:160]}")
    return "; ".join(out)


def start_run(sample_crawl: Path, out: Path, tag: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ, **{MARKER: tag})
    return subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "run", str(REPO / "pipelines" / "fineweb.yaml"), "--input",
         str(sample_crawl), "--output", str(out), "--tasks", "2", "--workers", "2", "--no-progress"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log.open("w"))


def wait_for_workers(run: subprocess.Popen, tag: str, log: Path, timeout: float = 180) -> dict[int, int]:
    """The run's processes once an extraction sandbox exists (main -> forkserver -> worker -> sandbox)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert run.poll() is None, f"the run ended (exit {run.returncode}) before its workers were seen: {log.read_text()}"
        tree = marked(tag)
        if any(depth(pid, tree, run.pid) >= 3 for pid in tree):
            return tree
        time.sleep(0.05)
    pytest.fail(f"no extraction sandbox appeared within {timeout} s")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_killing_the_main_process_ends_every_process_of_the_run(sig, sample_crawl, tmp_path):
    tag = uuid.uuid4().hex
    log = tmp_path / "stderr.txt"
    run = start_run(sample_crawl, tmp_path / "out", tag, log)
    try:
        tree = wait_for_workers(run, tag, log)
        assert len(tree) >= 4, describe(tree)  # main, forkserver, a worker, its sandbox (at least)
        run.send_signal(sig)
        run.wait(timeout=30)
        deadline = time.monotonic() + GRACE
        while marked(tag) and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = marked(tag)
        assert not survivors, f"alive {GRACE} s after {sig.name}: {describe(survivors)}"
    finally:
        for pid in marked(tag):
            os.kill(pid, signal.SIGKILL)
        if run.poll() is None:
            run.kill()
            run.wait()


def holder(folder: Path) -> subprocess.Popen:
    """Another live process holding `folder`'s run lock (a curate run, as far as the lock can tell)."""
    code = ("import sys, time; from curate.core.processes import RunLock; RunLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); time.sleep(120)")
    process = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_run_into_a_folder_another_run_holds_is_refused_in_one_line(sample_crawl, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    other = holder(out)
    try:
        for extra in ([], ["--overwrite"]):  # --overwrite must not delete a live run's folder either
            result = subprocess.run(
                [sys.executable, "-m", "curate.cli", "run", str(REPO / "pipelines" / "fineweb.yaml"), "--input",
                 str(sample_crawl), "--output", str(out), "--no-progress", *extra],
                cwd=REPO, capture_output=True, text=True, timeout=120)
            errors = [line for line in result.stderr.splitlines() if not line.startswith("curate: running")]
            assert result.returncode == 1, result.stderr
            assert len(errors) == 1 and errors[0].startswith("Error:"), result.stderr
            assert str(out) in errors[0] and str(other.pid) in errors[0]
            assert (out / LOCK_NAME).is_file() and not (out / "decisions").exists()
    finally:
        other.kill()
        other.wait()


def test_the_lock_of_a_dead_run_is_taken_over(tmp_path):
    other = holder(tmp_path)
    with pytest.raises(OutputInUse, match=str(other.pid)):
        RunLock(tmp_path).acquire()
    other.kill()
    other.wait()
    assert not alive(other.pid)
    with RunLock(tmp_path) as lock:  # the killed run's lock file is still there, and stale
        assert lock.path.read_text().split()[0] == str(os.getpid())
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_worker_joins_the_lock_and_holds_it(tmp_path):
    code = ("import sys, time; from curate.core.processes import RunLock; RunLock(sys.argv[1]).join(); "
            "print('joined', flush=True); time.sleep(120)")
    lock = RunLock(tmp_path).acquire()
    worker = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "joined"
        lock.path.write_text(lock.path.read_text().replace(f"{os.getpid()} ", "999999999 "))  # the main run is gone
        with pytest.raises(OutputInUse, match=str(worker.pid)):  # ... but its worker lives on
            RunLock(tmp_path).acquire()
    finally:
        worker.kill()
        worker.wait()
