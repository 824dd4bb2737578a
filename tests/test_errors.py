"""Every failure of the world outside the code is one `Error:` line naming the path, exit 1 (issue 14).

Each case runs the real `curate` command in a subprocess on the sample crawl and reads its
stderr whole: besides the `curate: running ...` banner and datatrove's warnings, exactly one
line, starting `Error:`, and no traceback; `--debug` shows the traceback instead. A path with an
apostrophe, quotes, spaces and non-ASCII letters works end to end: run, summary, stats, report.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from curate.core.config import load_recipe

REPO = Path(__file__).resolve().parents[1]
FINEWEB = str(REPO / "pipelines" / "fineweb.yaml")


def curate(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one error line of a failed command (asserting there is exactly one, and no traceback)."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith("curate: running") and "| WARNING  |" not in line]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def run(sample_crawl, output, *extra) -> subprocess.CompletedProcess:
    return curate("run", FINEWEB, "--input", sample_crawl, "--output", output, "--no-progress", *extra)


@pytest.fixture
def read_only(tmp_path):
    """A folder nobody may write in: mode 555, or for root (who ignores modes) the immutable attribute."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("running as root and cannot make a folder immutable (chattr +i)")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize("inside", [False, True], ids=["the output folder", "its parent"])
def test_a_read_only_output_folder(sample_crawl, read_only, inside):
    output = read_only / "out" if inside else read_only
    line = error_line(run(sample_crawl, output))
    assert str(output) in line


def test_a_full_disk(sample_crawl, tmp_path):
    """The decision file is a link to /dev/full: every write to it fails with ENOSPC, a real OSError."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    output = tmp_path / "out"
    (output / "decisions").mkdir(parents=True)
    (output / "decisions" / "00000.parquet").symlink_to("/dev/full")
    line = error_line(run(sample_crawl, output))
    assert "No space left on device" in line and str(output / "decisions" / "00000.parquet") in line


@pytest.mark.parametrize("workers", [1, 2])
def test_a_model_file_that_is_not_a_model(sample_crawl, tmp_path, workers):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"this is not a fastText model\n" * 100)
    line = error_line(run(sample_crawl, tmp_path / "out", f"stages.fasttext_lang.model={garbage}",
                          "--tasks", workers, "--workers", workers))
    assert str(garbage) in line and "fastText" in line


@pytest.mark.parametrize("override, named", [
    ("stages.9.x=1", "stages.9.x=1"),
    ("executor.tasks=abc", "executor.tasks"),
    ("stages.extract.timeout=[", "stages.extract.timeout"),
])
def test_a_bad_override(sample_crawl, tmp_path, override, named):
    line = error_line(run(sample_crawl, tmp_path / "out", override))
    assert named in line
    assert not (tmp_path / "out").exists()  # refused before any work


def test_debug_shows_the_traceback(sample_crawl, tmp_path):
    result = curate("--debug", "run", FINEWEB, "--input", sample_crawl, "--output", tmp_path / "out", "stages.9.x=1")
    assert result.returncode == 1 and "Traceback" in result.stderr and "RecipeError" in result.stderr


def test_a_path_with_any_character_works_end_to_end(sample_crawl, tmp_path):
    output = tmp_path / "it's a \"quoted\" run, ü 名"
    result = run(sample_crawl, output)
    assert result.returncode == 0, result.stderr
    assert "Summary: fineweb" in result.stdout and "Traceback" not in result.stderr
    stats = curate("stats", output, "--format", "json")
    assert stats.returncode == 0, stats.stderr
    assert '"funnel"' in stats.stdout
    query = curate("stats", output, "SELECT count(*) AS n FROM decisions", "--format", "csv")
    assert query.returncode == 0 and int(query.stdout.split()[-1]) > 0, query.stderr
    report = curate("report", output)
    assert report.returncode == 0, report.stderr
    assert (output / "report.html").is_file()


def test_stats_on_a_folder_that_is_not_a_run(tmp_path):
    line = error_line(curate("stats", tmp_path))
    assert str(tmp_path) in line


def test_s3_input_without_s3fs_names_the_extra_to_install(tmp_path):
    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed here: the missing-backend message cannot be shown")
    line = error_line(curate("run", FINEWEB, "--input", "s3://commoncrawl/crawl-data/x/", "--output",
                             tmp_path / "out", "--no-progress"))
    assert "s3fs" in line and "curate[s3]" in line


def test_hf_path_without_the_network_is_one_line(tmp_path):
    # offline here (only package registries are reachable); online, the made-up repo is an error too
    line = error_line(curate("run", FINEWEB, "--input", "hf://datasets/curate-test/no-such-repo", "--output",
                             tmp_path / "out", "--no-progress", timeout=120))
    assert line.startswith("Error: ")


# issue 16: the remaining one-line cases


@pytest.mark.parametrize("text, override, named, expected", [
    ("input: [x]\nstages:\n  - gopher_quality:\n      min_doc_words: many\n", None,
     "r.yaml:4: gopher_quality.min_doc_words", "expects a whole number (int) or null (None), got 'many' (a string)"),
    ("input: [x]\nstages:\n  - gopher_quality: {}\n", "stages.gopher_quality.max_avg_word_length=long",
     "override stages.gopher_quality.max_avg_word_length=long", "expects a number (float) or null (None)"),
    ("input: [x]\nstages:\n  - gopher_quality:\n      stop_words: the\n", None,
     "r.yaml:4: gopher_quality.stop_words", "expects a list of strings (str) or null (None)"),
])
def test_a_wrong_type_names_the_line_the_parameter_and_the_type_in_words(tmp_path, text, override, named, expected):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text)
    line = error_line(curate("run", recipe, *([override] if override else [])))
    assert named in line and expected in line, line
    assert "<class" not in line and "typing" not in line


@pytest.mark.parametrize("command", ["run", "mix"])
def test_invalid_yaml_is_one_line_naming_the_file_and_line(tmp_path, command):
    path = tmp_path / "f.yaml"
    path.write_text("name: x\noutput: out/x\nbad: [a, b\nseed: 1\n")
    line = error_line(curate(command, path))
    assert f"{path}:4: invalid YAML" in line and "unicode string" not in line


def test_reusing_an_output_folder_names_the_key_that_differs(sample_crawl, tmp_path):
    output = tmp_path / "out"
    assert run(sample_crawl, output).returncode == 0
    line = error_line(run(sample_crawl, output, "stages.gopher_quality.min_doc_words=100"))
    assert "different configuration" in line and str(output) in line
    assert "gopher_quality@1.min_doc_words: 50 before, 100 now" in line, line


def test_datatrove_log_lines_stay_out_unless_debug(sample_crawl, tmp_path):
    """Two tasks for one input file: datatrove warns "No files found ... for rank=1" and logs at
    INFO; by default stderr holds only curate's banner, with --debug datatrove's lines too."""
    args = ["run", FINEWEB, "--input", sample_crawl, "--tasks", 2, "--workers", 2, "--no-progress"]
    quiet = curate(*args, "--output", tmp_path / "a")
    assert quiet.returncode == 0, quiet.stderr
    stages = len(load_recipe(FINEWEB).stages)
    assert [line for line in quiet.stderr.splitlines() if line.strip()] == [
        f"curate: running fineweb (filter mode, {stages} stages, 2 task(s)) -> {tmp_path / 'a'}"], quiet.stderr
    loud = curate("--debug", *args, "--output", tmp_path / "b")
    assert loud.returncode == 0 and "No files found" in loud.stderr and "| INFO" in loud.stderr, loud.stderr
