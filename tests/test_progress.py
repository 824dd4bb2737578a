"""Progress with an ETA on long commands, one bar per run summed over its workers, and --quiet (issue 16).

The bar is real tqdm output written to a buffer (or to the stderr of a real `curate` process with
`--progress`); the run's counts come from the real tap in real worker processes.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from datatrove.data import Document

from curate.core.progress import Bar, Console, shows_bars
from curate.pipelines.progress import ProgressTap, read_counts

REPO = Path(__file__).resolve().parents[1]
FINEWEB = str(REPO / "pipelines" / "fineweb.yaml")


def curate(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def frames(text: str) -> list[str]:
    """The successive states of tqdm bars (redrawn in place with carriage returns)."""
    return [f.strip() for f in text.replace("\r", "\n").splitlines() if f.strip()]


def test_a_bar_shows_counts_rate_and_eta_per_phase():
    out = io.StringIO()
    with Bar("mix", "doc", file=out, tick=0) as bar:
        for done in range(0, 101, 10):
            bar(done, 100, "counting tokens")
        bar(3, 4, "writing shards", "shard", note="3 of 4 written")
    shown = frames(out.getvalue())
    counting = [f for f in shown if f.startswith("mix: counting tokens")]
    assert counting and "100/100" in counting[-1] and "doc/s" in counting[-1]
    assert any("<" in f for f in counting)  # [elapsed<remaining]: the ETA
    writing = [f for f in shown if f.startswith("mix: writing shards")]
    assert writing and "3/4" in writing[-1] and "75%" in writing[-1] and "3 of 4 written" in writing[-1]


def test_a_disabled_bar_draws_nothing():
    out = io.StringIO()
    with Bar("mix", file=out, enabled=False) as bar:
        bar(5, 10, "reading")
    assert out.getvalue() == ""


@pytest.mark.parametrize("quiet, force, tty, shown", [
    (False, False, False, False),  # a pipe or a test's captured stderr: no bar
    (False, False, True, True),    # a terminal
    (False, True, False, True),    # --progress
    (True, True, True, False),     # --quiet wins
])
def test_when_a_bar_is_drawn(quiet, force, tty, shown):
    class Stream(io.StringIO):
        def isatty(self):
            return tty

    assert shows_bars(quiet, force, Stream()) is shown


def test_quiet_console_says_nothing(capsys):
    Console(quiet=True).say("curate: running x")
    Console().say("curate: running y")
    err = capsys.readouterr().err
    assert "running y" in err and "running x" not in err


def test_the_tap_counts_documents_and_bytes_read(tmp_path):
    crawl = tmp_path / "a.warc.gz"
    crawl.write_bytes(b"x" * 1000)
    other = tmp_path / "b.jsonl"
    other.write_bytes(b"y" * 300)
    docs = [Document(text="", id=str(i), metadata={"file_path": "a.warc.gz", "read__offset": 200 * i})
            for i in range(4)] + [Document(text="", id="b", metadata={"file_path": str(other)})]
    tap = ProgressTap(str(tmp_path / "progress"), [str(tmp_path)])
    stream = tap.run(iter(docs), rank=3)
    for _ in range(4):  # four WARC records read: the last one starts at byte 600
        next(stream)
    tap_file = tmp_path / "progress" / "00003.json"
    next(stream)  # the JSONL file starts: the WARC file is finished
    list(stream)
    counts = json.loads(tap_file.read_text())
    assert counts == {"docs": 5, "bytes": 1300, "finished": True}
    assert read_counts(tmp_path / "progress") == (5, 1300)


def test_run_draws_one_bar_over_its_workers(sample_crawl, tmp_path):
    """Two tasks in two workers: one bar (not a datatrove bar per worker), ending at every byte of
    the input, every document and every task; and none of datatrove's log lines."""
    result = curate("--progress", "run", FINEWEB, "--input", sample_crawl, "--output", tmp_path / "out",
                    "--tasks", 2, "--workers", 2)
    assert result.returncode == 0, result.stderr
    shown = frames(result.stderr)
    bars = [f for f in shown if "%|" in f]
    assert bars and all(f.startswith("fineweb: ") for f in bars), shown  # one bar, the run's
    size = f"{sample_crawl.stat().st_size / 1000:.0f}k"
    assert "100%" in bars[-1] and f"{size}/{size}" in bars[-1] and "43 docs, 2/2 tasks" in bars[-1], bars[-1]
    assert "B/s" in bars[-1]
    assert not [f for f in shown if "Document progress" in f or "| INFO" in f or "| WARNING" in f], shown
    assert "Summary: fineweb" in result.stdout


def test_without_a_terminal_or_with_quiet_there_is_no_bar(sample_crawl, tmp_path):
    plain = curate("run", FINEWEB, "--input", sample_crawl, "--output", tmp_path / "a")
    assert plain.returncode == 0 and "%|" not in plain.stderr, plain.stderr
    quiet = curate("--quiet", "--progress", "run", FINEWEB, "--input", sample_crawl, "--output", tmp_path / "b",
                   "--tasks", 2, "--workers", 2)
    assert quiet.returncode == 0
    assert quiet.stderr == "", quiet.stderr  # no banner, no bar, no log line
    assert "Summary: fineweb" in quiet.stdout  # the result stays


def test_mix_reports_each_phase(tmp_path):
    """The real mix with a recording callback: reading, counting tokens and writing, each to its total."""
    from curate.tools import mix

    for name in ("web", "books"):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"text": f"{name} document number {i} " * 5})
                                                        + "\n" for i in range(30)))
    (tmp_path / "mix.yaml").write_text(
        f"name: t\noutput: {tmp_path / 'out'}\ntokenizer: {{train: {{vocab_size: 300}}}}\nshard_docs: 10\n"
        f"sources:\n  web: {{path: {tmp_path / 'web.jsonl'}, share: 0.5}}\n"
        f"  books: {{path: {tmp_path / 'books.jsonl'}, share: 0.5}}\n")
    calls = []
    mix.mix(mix.load_mix(tmp_path / "mix.yaml"), progress=lambda *a, **k: calls.append(a))
    phases = {a[2]: a for a in calls if len(a) > 2}
    assert phases["counting tokens"][:2] == (60, 60)
    assert phases["reading"][1] == 2 and phases["writing shards"][1] >= 1


def test_eval_lang_reports_every_sample(tmp_path, lid_model):
    from curate.filters.fasttext_lang import FastTextLang
    from curate.tools import evaluate_lang

    for lang, line in (("en", "This is a plain English sentence."), ("de", "Das ist ein ganz einfacher Satz.")):
        (tmp_path / "sentences").mkdir(exist_ok=True)
        (tmp_path / "sentences" / f"{lang}.txt").write_text((line + "\n") * 3)
    calls = []
    evaluate_lang.evaluate(tmp_path, FastTextLang(model=lid_model, refine=None), progress=lambda *a: calls.append(a))
    assert calls[-1][:3] == (6, 6, "sentences")
