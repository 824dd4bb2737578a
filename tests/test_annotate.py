"""`curate annotate` against a local OpenAI-compatible server that this test starts.

The server stands in for the user's endpoint (vLLM, llama.cpp, a hosted API), not for curate's
code: it answers `POST /v1/chat/completions` with a reply that ends "Educational score: N", N a
function of the document, and it counts the requests it gets per document. The bar: a run killed
midway (SIGKILL of the process) and run again sends no cached document again, and the ratings are
complete.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.commands.annotate import annotate_command
from curate.tools.annotate import (
    EXAMPLE_TEMPLATE,
    AnnotateConfig,
    AnnotateError,
    annotate,
    load_cache,
    parse_score,
    read_sample,
)
from tests.conftest import REPO

MARK = "The extract:\n"


def score_of(text: str) -> int:
    return len(text.split()) % 6


class Endpoint:
    """A chat-completions server in a thread: deterministic replies, request counts per document,
    `answer_limit` replies at most (later requests wait until `release()`), optional failures."""

    def __init__(self, answer_limit: int | None = None, delay: float = 0.0, fail_first: int = 0):
        self.seen: dict[str, int] = {}  # requests per document
        self.answered: list[str] = []  # documents answered, in order
        self.auth: set[str] = set()
        self.usage = [0, 0]
        self.inflight = self.max_inflight = 0
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.answer_limit, self.delay, self.fail_first = answer_limit, delay, fail_first
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                endpoint.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, request):
        body = json.loads(request.rfile.read(int(request.headers["Content-Length"])))
        prompt = body["messages"][0]["content"]
        text = prompt.split(MARK, 1)[1].rsplit(".\n\nAfter examining", 1)[0]
        with self.lock:
            self.auth.add(request.headers.get("Authorization", ""))
            if self.fail_first > 0:
                self.fail_first -= 1
                request.send_response(503)
                request.end_headers()
                return
            self.seen[text] = self.seen.get(text, 0) + 1
            wait = self.answer_limit is not None and len(self.answered) >= self.answer_limit
            if not wait:
                self.answered.append(text)
        if wait:
            self.gate.wait()
            return  # never answered: the client was killed meanwhile
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        time.sleep(self.delay)
        with self.lock:
            self.inflight -= 1
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": 7}
        with self.lock:
            self.usage[0] += usage["prompt_tokens"]
            self.usage[1] += usage["completion_tokens"]
        reply = {"choices": [{"message": {"role": "assistant", "content": f"It has some value. The format is "
                                          f"'Educational score: <points>'.\nEducational score: {score_of(text)}"}}],
                 "usage": usage, "model": body["model"]}
        data = json.dumps(reply).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def close(self):
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def docs_file(tmp_path):
    path = tmp_path / "docs.jsonl"
    words = "photosynthesis converts light energy into chemical energy stored in glucose molecules".split()
    lines = [json.dumps({"id": f"d{i}", "text": " ".join(words[: 1 + i % len(words)]) + f" (page {i})"})
             for i in range(40)]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(args, env=None):
    code = "from curate.commands.annotate import annotate_command; annotate_command()"
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killed_midway_and_rerun_sends_no_document_twice(tmp_path, docs_file):
    out = tmp_path / "ratings.parquet"
    args = [str(docs_file), "--base-url", "", "--model", "m", "--output", str(out), "--concurrency", "4"]
    first = Endpoint(answer_limit=15, delay=0.01)
    try:
        args[2] = first.url
        proc = run_cli(args)
        cache = tmp_path / "ratings.cache.jsonl"
        deadline = time.time() + 60
        while len(load_cache(cache)) < 15:  # every answered reply is on disk before the kill
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read() if proc.poll() else "timeout"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        first.close()
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    assert len(first.answered) == 15 and len(load_cache(cache)) == 15

    second = Endpoint()
    try:
        args[2] = second.url
        rerun = run_cli(args)
        output, _ = rerun.communicate(timeout=120)
    finally:
        second.close()
    assert rerun.returncode == 0, output
    texts = [json.loads(line)["text"] for line in docs_file.read_text().splitlines()]
    assert set(second.seen).isdisjoint(first.answered)  # no cached document is sent again
    assert max(second.seen.values()) == 1 and sorted(first.answered + second.answered) == sorted(texts)
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == 40 and all(r["score"] == score_of(r["text"]) for r in rows)
    assert [r["id"] for r in rows] == [f"d{i}" for i in range(40)]
    report = json.loads((tmp_path / "ratings.report.json").read_text())
    assert report["cached"] == 15 and report["sent"] == 25 and report["rated"] == 40


def test_concurrent_run_reports_usage_cost_and_sends_the_key(tmp_path, docs_file, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-test")
    server = Endpoint(delay=0.05)
    try:
        docs = read_sample([str(docs_file)], None)
        config = AnnotateConfig(base_url=server.url, model="m", output=str(tmp_path / "r.jsonl"), concurrency=8,
                                api_key_env="MY_KEY", price_in=2.0, price_out=10.0)
        report = annotate(docs, config)
    finally:
        server.close()
    assert server.auth == {"Bearer sk-test"}
    assert 1 < server.max_inflight <= 8  # requests overlapped, never more than --concurrency
    assert (report.tokens_in, report.tokens_out) == tuple(server.usage)
    assert report.cost == pytest.approx(server.usage[0] * 2 / 1e6 + server.usage[1] * 10 / 1e6)
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert {r["id"]: r["score"] for r in rows} == {d["id"]: score_of(d["text"]) for d in docs}
    assert sum(report.scores.values()) == 40 and report.docs_per_s > 0


def test_retries_transient_errors_and_keeps_failures_out_of_the_cache(tmp_path, docs_file):
    docs = read_sample([str(docs_file)], 5, seed=1)
    server = Endpoint(fail_first=2)
    try:
        report = annotate(docs, AnnotateConfig(base_url=server.url, model="m", output=str(tmp_path / "r.parquet"),
                                               concurrency=1, retries=3))
    finally:
        server.close()
    assert report.rated == 5 and report.failed == 0
    dead = AnnotateConfig(base_url="http://127.0.0.1:9/v1", model="m", output=str(tmp_path / "d.parquet"),
                          retries=1, timeout=2)
    report = annotate(docs, dead)
    assert report.failed == 5 and report.rated == 0 and load_cache(dead.cache_path) == {}


def test_sample_is_seeded_uniform_and_in_input_order(docs_file):
    a = read_sample([str(docs_file)], 10, seed=3)
    assert a == read_sample([str(docs_file)], 10, seed=3) != read_sample([str(docs_file)], 10, seed=4)
    ids = [int(d["id"][1:]) for d in a]
    assert ids == sorted(ids) and len(set(ids)) == 10 and max(ids) > 20


@pytest.mark.parametrize("reply, score", [
    ("Good.\nEducational score: 3", 3),
    ("Conclude with 'Educational score: <total points>'. Educational score:  4", 4),
    ("Educational score: 2\nOn reflection... Educational score: 1", 1),
    ("Educational score: 2.5", 2.5),
    ("I would give it four points.", None),
])
def test_parse_score(reply, score):
    assert parse_score(reply) == score


def test_shipped_template_is_fineweb_edus_prompt_with_a_text_slot():
    template = EXAMPLE_TEMPLATE.read_text()
    assert template.count("{text}") == 1 and "additive 5-point scoring system" in template
    assert template.rstrip().endswith('"Educational score:  <total points>"')


def test_cli_errors_are_one_line(tmp_path, docs_file):
    bad = tmp_path / "t.txt"
    bad.write_text("no slot here")
    run = CliRunner().invoke(annotate_command, [str(docs_file), "--base-url", "http://x/v1", "--model", "m",
                                                "--output", str(tmp_path / "r.parquet"), "--template", str(bad)])
    assert run.exit_code == 1 and "{text}" in run.output
    with pytest.raises(AnnotateError, match="parquet or .jsonl"):
        annotate([], AnnotateConfig(base_url="http://x", model="m", output=str(tmp_path / "r.csv")))


def test_ratings_are_graded_training_data_for_train_classifier(tmp_path, docs_file):
    """The contract with `curate train-classifier` (graded): its reader takes every rating as a grade."""
    from curate.tools.classifier_multi import LabelParams, load_labelled

    server = Endpoint()
    try:
        docs = read_sample([str(docs_file)], None)
        annotate(docs, AnnotateConfig(base_url=server.url, model="m", output=str(tmp_path / "r.parquet")))
    finally:
        server.close()
    data = load_labelled([str(tmp_path / "r.parquet")], LabelParams(label_field="score", kind="graded"))
    assert data.skipped == 0 and sorted(int(g[0]) for g in data.labels) == sorted(score_of(d["text"]) for d in docs)
