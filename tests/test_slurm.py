"""The dedup recipe on datatrove's SlurmPipelineExecutor, up to the `sbatch` call (a dry run).

A stand-in `sbatch` on PATH records each launch script and its arguments and answers like
Slurm ("Submitted batch job N"); everything before it is datatrove's real launch code.
"""

import json
import os
import re
import stat

import pytest
from click.testing import CliRunner

from curate.cli import main
from tests.conftest import REPO

FAKE_SBATCH = """#!/bin/sh
n=$(ls "$SBATCH_LOG" | wc -l)
id=$((1000 + n))
mkdir -p "$SBATCH_LOG/$id"
for last in "$@"; do :; done
cp "$last" "$SBATCH_LOG/$id/script"
printf '%s\\n' "$@" > "$SBATCH_LOG/$id/args"
echo "Submitted batch job $id"
"""


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    bin_dir, log = tmp_path / "bin", tmp_path / "sbatch"
    bin_dir.mkdir()
    log.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(FAKE_SBATCH)
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_LOG", str(log))
    return log


def test_dedup_recipe_renders_chained_slurm_job_arrays(fake_slurm, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": str(i), "text": f"document number {i} " * 20}) + "\n" for i in range(8)))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "run", str(REPO / "pipelines" / "dedup.yaml"), "--input", str(docs), "--output", str(out), "--tasks", "4",
        "executor.type=slurm", "executor.slurm.partition=cpu", "executor.slurm.time=02:00:00",
        "executor.slurm.cpus_per_task=2",
    ])
    assert result.exit_code == 0, result.output
    assert "Submitted to Slurm" in result.output
    jobs = sorted(fake_slurm.iterdir(), key=lambda p: int(p.name))
    scripts = {job.name: (job / "script").read_text() for job in jobs}
    args = {job.name: (job / "args").read_text().split() for job in jobs}
    arrays = [job for job, text in scripts.items() if "launch_pickled_pipeline" in text]
    # two dedup stages x three pre-passes + the main pipeline, each followed by its stats-merge job
    assert len(arrays) == 7
    for job in arrays:
        text = scripts[job]
        assert text.startswith("#!/bin/bash")
        assert "#SBATCH --partition=cpu" in text and "#SBATCH --time=02:00:00" in text
        assert "#SBATCH --cpus-per-task=2" in text
        assert re.search(r"#SBATCH --array=0-(0|3)\n", text), text  # no %N throttle unless workers is set
    # every array after the first waits for the one before it
    for before, after in zip(arrays, arrays[1:]):
        assert f"--dependency=afterok:{before}" in args[after], (before, args[after])
    main_script = scripts[arrays[-1]]
    assert f"{out}/logs/executor.pik" in main_script and "#SBATCH --array=0-3" in main_script
    assert (out / "logs" / "launch_script.slurm").read_text() == main_script


def test_workers_throttles_the_slurm_array(fake_slurm, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "text": "one document"}\n')
    result = CliRunner().invoke(main, [
        "run", str(REPO / "pipelines" / "fineweb.yaml"), "--input", str(docs), "--output", str(tmp_path / "o"),
        "--tasks", "6", "--workers", "2", "executor.type=slurm", "executor.slurm.partition=cpu",
        "executor.slurm.time=01:00:00",
    ])
    assert result.exit_code == 0, result.output
    first = min(fake_slurm.iterdir(), key=lambda p: int(p.name))
    assert "#SBATCH --array=0-5%2" in (first / "script").read_text()
