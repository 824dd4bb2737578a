"""`--overwrite` replaces only an empty folder or a curate run, never anything else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from curate.core.config import RecipeError
from curate.pipelines.runner import RUN_MARKER, check_replaceable

REPO = Path(__file__).resolve().parents[1]
CURATE = [sys.executable, "-m", "curate"]


def curate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CURATE, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_overwrite_refuses_a_folder_holding_a_foreign_file(tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "thesis.tex").write_text("\\chapter{Years of work}")
    done = curate("run", str(REPO / "pipelines" / "fineweb.yaml"), "--output", str(folder), "--overwrite",
                  "--no-progress", cwd=tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "thesis.tex" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert (folder / "thesis.tex").read_text() == "\\chapter{Years of work}"


def test_overwrite_replaces_a_curate_run(tmp_path):
    out = tmp_path / "run"
    first = curate("run", str(REPO / "pipelines" / "fineweb.yaml"), "--output", str(out), "--no-progress",
                   cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (out / "stale.txt").write_text("left by an earlier run")
    again = curate("run", str(REPO / "pipelines" / "fineweb.yaml"), "--output", str(out), "--overwrite",
                   "--no-progress", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (out / RUN_MARKER).exists() and not (out / "stale.txt").exists()


@pytest.mark.parametrize("entries, allowed", [([], True), ([RUN_MARKER, "logs"], True), (["notes.md"], False),
                                              (["documents", "decisions"], False)])
def test_what_counts_as_replaceable(tmp_path, entries, allowed):
    for name in entries:
        (tmp_path / name).write_text("x")
    if allowed:
        check_replaceable(tmp_path)
    else:
        with pytest.raises(RecipeError, match="refused"):
            check_replaceable(tmp_path)
