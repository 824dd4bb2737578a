"""The same output for any task count and any machine load (issue 14).

- dedup.yaml on real text with planted near-duplicates: 1 and 3 tasks give the same kept set and
  byte-identical decision tables (bench/determinism.py does 1, 2, 4 and 7 tasks on 12,000);
- extraction's time limit is CPU time of the worker: time the worker spends not running (as on a
  loaded machine) does not count, a page that spins is stopped, one that blocks hits the wall-clock
  backstop, and a crash is still a crash;
- fasttext_lang's `language_score` is the same in every process (lingua's last digits are not).
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from datatrove.data import Document

from curate.core.config import load_recipe
from curate.core.step import DROP_REASON, is_dropped
from curate.filters.extraction import WARMUP, CpuTimeSandbox, HtmlExtract
from curate.pipelines import runner
from tests.conftest import REPO


def dedup_run(inputs, output, tasks: int):
    recipe = load_recipe(REPO / "pipelines" / "dedup.yaml",
                         overrides=[f"input=['{inputs}']", f"output={output}", f"executor.tasks={tasks}"])
    runner.run(recipe, progress=False)


@pytest.mark.integration
def test_dedup_keeps_the_same_documents_and_writes_the_same_rows_for_1_and_3_tasks(shared, tmp_path):
    from bench.determinism import dedup_corpus, differing, digest, table, write_jsonl

    docs = dedup_corpus(2000)
    inputs = write_jsonl(docs, tmp_path / "in", files=7)
    dedup_run(inputs, tmp_path / "one", 1)
    dedup_run(inputs, tmp_path / "three", 3)
    one, three = table(tmp_path / "one", "decisions"), table(tmp_path / "three", "decisions")
    assert one.num_rows == three.num_rows == len(docs)
    duplicates = sum(r is not None for r in one["reason"].to_pylist())
    assert duplicates >= 250  # the planted copies are found (one base in four has 1-3 copies)
    assert differing(one, three) == 0 and digest(one) == digest(three)
    kept = [table(tmp_path / run, "documents") for run in ("one", "three")]
    assert kept[0]["id"].to_pylist() == kept[1]["id"].to_pylist()
    assert digest(kept[0]) == digest(kept[1])


def extract_test_page(html: str) -> str:
    """A stand-in extractor whose cost the page names: sleeps, spins or dies."""
    if "sleep" in html:
        time.sleep(float(html.split()[-1]))
    if "spin" in html:
        while True:
            pass
    if "die" in html:
        os.kill(os.getpid(), signal.SIGKILL)
    if "raise" in html:
        raise ValueError("the extractor failed on this page")
    return "text"


class StandInExtract(HtmlExtract):
    def extract_page(self, html: str) -> tuple[str, dict]:
        return extract_test_page(html), {"extractor": "test"}


def page(html: str) -> Document:
    return Document(text=html, id=html, metadata={"read__warc_type": "response", "read__content_type": "text/html"})


def outcomes(step, htmls: list[str]) -> list[str | None]:
    return [d.metadata.get(DROP_REASON) if is_dropped(d) else d.text for d in step.run(iter(map(page, htmls)))]


def test_time_the_worker_is_not_running_does_not_count_against_the_limit():
    # 1 s of wall time, no CPU: a wall-clock limit of 0.3 s (datatrove's) would call it a timeout
    assert outcomes(StandInExtract(timeout=0.3, emit_dropped=True), ["sleep 1.0"]) == ["text"]


def test_a_page_over_its_cpu_budget_is_a_timeout_and_the_next_page_is_extracted():
    start = time.monotonic()
    assert outcomes(StandInExtract(timeout=0.3, emit_dropped=True), ["spin", "ok"]) == ["extract:timeout", "text"]
    assert time.monotonic() - start < 0.3 + 3.0  # the budget, plus starting the worker twice


def test_a_crash_is_still_a_crash():
    assert outcomes(StandInExtract(timeout=0.3, emit_dropped=True), ["die", "ok"]) == ["extract:crashed", "text"]


def test_an_error_is_an_error_and_the_worker_goes_on():
    assert outcomes(StandInExtract(timeout=0.3, emit_dropped=True), ["raise", "ok"]) == ["extract:error", "text"]


def test_a_page_blocked_on_nothing_ends_at_the_wall_clock_backstop():
    with CpuTimeSandbox(timeout=0.3, warmup_text=WARMUP, wall_limit=1.0) as sandbox:
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="wall-clock"):
            sandbox.process_document("sleep 60", extract_test_page)
        assert time.monotonic() - start < 3.0
        assert sandbox.process_document("ok", extract_test_page) == "text"


SCORES = """
import json, sys
from curate.filters.fasttext_lang import FastTextLang
lang = FastTextLang(model=sys.argv[1])
found = [lang.identify(t) for t in json.loads(sys.argv[2])]
print(json.dumps([[f.language, f.score, f.scores, f.refined] for f in found]))
"""
# close languages and short texts: the second stage (lingua) decides most of these
TEXTS = ["Jeg har en hund og en katt som bor i huset mitt.", "Saya suka makan nasi goreng di pagi hari.",
         "Ovo je moja kuća i moj pas.", "Umuntu ngumuntu ngabantu.", "Ke a leboha haholo motswalle.",
         "Det er en fin dag i dag, og vi skal på tur.", "Kami pergi ke pasar untuk membeli sayur."]


def test_language_scores_are_the_same_in_every_process(lid_model):
    pytest.importorskip("lingua")
    runs = [json.loads(subprocess.run([sys.executable, "-c", SCORES, lid_model, json.dumps(TEXTS)], check=True,
                                      capture_output=True, text=True, cwd=REPO).stdout) for _ in range(3)]
    assert sum(r[3] for r in runs[0]) >= 3  # lingua decided several
    assert runs[0] == runs[1] == runs[2]
    assert all(round(r[1], 4) == r[1] for r in runs[0])
