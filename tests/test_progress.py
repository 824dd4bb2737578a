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


# ---- annotate, tokenize and train-labels: the same Console as the rest -------------------------------

def bars_of(stderr: str, name: str, phase: str) -> list[str]:
    return [f for f in frames(stderr) if f.startswith(f"{name}: {phase}")]


def test_annotate_draws_reading_and_annotating_and_quiet_is_silent(tmp_path):
    """The real command against a local chat-completions server (tests/test_annotate.py's): every
    request counted to the total of documents to send; a rerun from the cache sends none."""
    from tests.test_annotate import Endpoint

    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"d{i}", "text": f"page {i} about light " * (1 + i % 4)}) + "\n"
                            for i in range(30)))
    server = Endpoint(delay=0.01)
    try:
        args = ["annotate", docs, "--base-url", server.url, "--model", "m", "--concurrency", 4]
        shown = curate("--progress", *args, "--output", tmp_path / "a.parquet")
        again = curate("--progress", *args, "--output", tmp_path / "a.parquet")
        quiet = curate("--quiet", "--progress", *args, "--output", tmp_path / "b.parquet")
    finally:
        server.close()
    assert shown.returncode == 0, shown.stderr
    reading, sending = bars_of(shown.stderr, "annotate", "reading"), bars_of(shown.stderr, "annotate", "annotating")
    assert reading and "30doc" in reading[-1], reading  # JSONL: counted, no total
    assert sending and "30/30" in sending[-1] and "100%" in sending[-1] and "doc/s" in sending[-1], sending
    assert "0 from cache" in sending[-1] and "annotate: 30 document(s) to rate with m" in shown.stderr
    assert again.returncode == 0 and "30 from cache" in bars_of(again.stderr, "annotate", "annotating")[-1]
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert "ratings" in quiet.stdout and len(server.answered) == 60  # a, then b; the rerun of a sent nothing


def labelled_tokenizer(tmp_path) -> tuple[Path, list[dict]]:
    from curate.tools.tokenizer import train_tokenizer

    rows = [{"id": f"d{i}", "text": " ".join(["alpha beta", "gamma delta epsilon", "zeta"][i % 3] for _ in range(i % 9 + 1)),
             "source": ["web", "books"][i % 2]} for i in range(120)]
    train_tokenizer([r["text"] for r in rows], vocab_size=300, output=tmp_path / "tokenizer.json")
    return tmp_path / "tokenizer.json", rows


def test_tokenize_reports_both_passes_over_every_document(tmp_path):
    """JSONL input: the tokenizing pass has no total; the writing pass counts each document once,
    across shards, to the total."""
    from curate.tools.shards import TokenizeConfig, tokenize_paths

    tokenizer, rows = labelled_tokenizer(tmp_path)
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    calls = []
    result = tokenize_paths([str(tmp_path / "docs.jsonl")], TokenizeConfig(
        output=str(tmp_path / "t"), tokenizer=str(tokenizer), shard_tokens=200, batch_size=50),
        progress=lambda *a: calls.append(a))
    assert len(result.shards) > 2
    tokenizing = [a for a in calls if a[2] == "tokenizing"]
    assert [a[0] for a in tokenizing] == [0, 50, 100, 120] and {a[1] for a in tokenizing} == {None}
    writing = [a[0] for a in calls if a[2] == "writing shards"]
    assert writing == sorted(writing) and writing[-1] == 120 and {a[1] for a in calls if a[2] == "writing shards"} == {120}


def test_tokenize_draws_its_bar_with_a_parquet_total_and_quiet_is_silent(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tokenizer, rows = labelled_tokenizer(tmp_path)
    pq.write_table(pa.Table.from_pylist(rows + [{"id": "empty", "text": " ", "source": "web"}]), tmp_path / "d.parquet")
    args = ["tokenize", tmp_path / "d.parquet", "--tokenizer", tokenizer, "--shard-tokens", 500]
    shown = curate("--progress", *args, "--output", tmp_path / "a")
    assert shown.returncode == 0, shown.stderr
    tokenizing = bars_of(shown.stderr, "tokenize", "tokenizing")
    assert tokenizing and "121/121" in tokenizing[-1] and "100%" in tokenizing[-1], tokenizing  # from the footer
    writing = bars_of(shown.stderr, "tokenize", "writing shards")
    assert writing and "120/120" in writing[-1] and "doc/s" in writing[-1], writing
    assert "note: 1 document(s) without text skipped" in shown.stderr
    quiet = curate("--quiet", "--progress", *args, "--output", tmp_path / "b")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert "120 documents" in quiet.stdout


@pytest.fixture(scope="module")
def reuters(shared, tmp_path_factory):
    from tests.labelled_data import topic_files

    return topic_files(shared, tmp_path_factory.mktemp("reuters"), train=20, test=8)


def test_train_labels_counts_every_tuning_trial(reuters, tmp_path):
    """The tuning total is known before the first trial and is the number of fits made: the first
    parameter's values, then the others' but the one already tried."""
    from curate.tools.classifier_multi import LabelParams, train_labels, trial_count

    params = LabelParams(label_field="topic", epoch=5, dim=16, grid={"lr": (0.25, 1.0), "dim": (16, 32)})
    assert trial_count(params) == 3
    calls = []
    result = train_labels([str(reuters[0])], str(tmp_path / "t.bin"), params, test=[str(reuters[1])],
                          progress=lambda *a: calls.append(a))
    tuning = [a[:2] for a in calls if a[2] == "tuning"]
    trials = [n for n in result.tuning if "validation macro-F1" in n and n.startswith("epoch")]
    assert tuning == [(0, 3), (1, 3), (2, 3), (3, 3)] and len(trials) == 3
    assert [a[2] for a in calls if a[2] != "tuning"][0:2] == ["reading", "reading held-out"]
    assert [a[:2] for a in calls if a[2] == "logistic regression"][-1] == (4, 4)


def test_train_labels_draws_its_phases_and_quiet_is_silent(reuters, tmp_path):
    args = ["train-labels", reuters[0], "--test", reuters[1], "--label-field", "topic", "--no-tune", "--epoch", 10]
    shown = curate("--progress", *args, "--output", tmp_path / "a.bin")
    assert shown.returncode == 0, shown.stderr
    reading = bars_of(shown.stderr, "train-labels", "reading")
    assert reading and "1/1" in reading[-1] and "100%" in reading[-1], reading
    assert bars_of(shown.stderr, "train-labels", "training fastText")
    fits = bars_of(shown.stderr, "train-labels", "logistic regression")
    assert fits and "4/4" in fits[-1], fits
    assert "reading: " in shown.stderr and "held-out documents" in shown.stderr  # the log line, via the console
    quiet = curate("--quiet", "--progress", *args, "--output", tmp_path / "b.bin")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert "bow_logreg" in quiet.stdout
