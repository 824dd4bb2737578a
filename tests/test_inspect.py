"""`curate inspect` and the dropped-text sample, on a filter-mode run of the demo recipe."""

import random
import re
from collections import Counter

import duckdb
import pytest
from click.testing import CliRunner
from datatrove.data import Document

from curate.cli import main
from curate.core.step import mark_dropped
from curate.io.samples import DroppedSample, Reservoir
from curate.tools.inspect import find
from tests.conftest import REPO

REASON = "gopher_repetition:dup_para_frac"  # one document of the sample crawl


@pytest.fixture(scope="module")
def demo(tmp_path_factory, sample_crawl):
    out = tmp_path_factory.mktemp("inspect") / "demo"
    result = CliRunner().invoke(main, ["run", str(REPO / "pipelines" / "fineweb.yaml"), "--input", str(sample_crawl),
                                       "--output", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


def sql(out, query):
    return duckdb.sql(query.replace("DECISIONS", f"'{out}/decisions/*.parquet'")
                      .replace("DROPPED", f"'{out}/dropped/*.parquet'")).fetchall()


def headers(output: str) -> list[str]:
    return re.findall(r"^\[\d+\] (\S+)$", output, re.M)


def test_the_sample_holds_every_reason_up_to_its_bound(demo):
    dropped = dict(sql(demo, "SELECT reason, count(*) FROM DECISIONS WHERE reason IS NOT NULL AND stage <> 'read' GROUP BY 1"))
    sampled = dict(sql(demo, "SELECT reason, count(*) FROM DROPPED GROUP BY 1"))
    assert REASON in dropped
    assert sampled == {reason: min(n, 20) for reason, n in dropped.items()}
    # the sampled ids are dropped documents of that reason
    assert sql(demo, "SELECT count(*) FROM DROPPED s JOIN DECISIONS d USING (id) WHERE d.reason = s.reason")[0][0] \
        == sum(sampled.values())


def test_inspect_shows_dropped_text_for_a_reason(demo):
    result = CliRunner().invoke(main, ["inspect", str(demo), "--reason", REASON, "-n", "5"])
    assert result.exit_code == 0, result.output
    (doc_id, text), = sql(demo, f"SELECT id, text FROM DROPPED WHERE reason = '{REASON}'")
    assert headers(result.output) == [doc_id]
    assert f"dropped by gopher_repetition: {REASON}" in result.output
    assert "dup_para_frac=" in result.output  # the stage's signals
    shown = " ".join(line[6:] for line in result.output.splitlines() if line.startswith("    | "))
    first_words = text.split()[:12]
    assert " ".join(w for w in shown.split() if w != "⏎").startswith(" ".join(first_words))


def test_kept_and_where_and_n(demo):
    kept = sql(demo, "SELECT count(*) FROM DECISIONS WHERE reason IS NULL")[0][0]
    found = find(demo, kept=True, n=100)
    assert found.matching == kept == len(found.documents) > 2
    assert all(d.stage is None and d.text for d in found.documents)

    where = sql(demo, "SELECT count(*) FROM DECISIONS WHERE reason IS NULL AND n_words >= 600")[0][0]
    result = CliRunner().invoke(main, ["inspect", str(demo), "--kept", "--where", "n_words >= 600", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert len(headers(result.output)) == min(2, where) and f"of {where} matching" in result.output
    words = [int(n) for n in re.findall(r"n_words=(\d+)", result.output)]
    assert words and all(n >= 600 for n in words)


def test_stage_shows_its_documents_with_text_first(demo):
    found = find(demo, stage="fasttext_lang", n=3)
    assert found.matching == sql(demo, "SELECT count(*) FROM DECISIONS WHERE stage = 'fasttext_lang'")[0][0]
    assert [d.stage for d in found.documents] == ["fasttext_lang"] * 3
    assert all(d.text and "top_labels" in d.signals for d in found.documents)


def test_a_bad_where_is_one_error_line(demo):
    result = CliRunner().invoke(main, ["inspect", str(demo), "--where", "no_such_column > 1"])
    assert result.exit_code == 1 and result.output.startswith("Error: query failed")
    assert len(result.output.strip().splitlines()) == 1


def test_reservoir_is_uniform_and_seeded():
    counts = Counter()
    for seed in range(3000):
        reservoir = Reservoir(3, random.Random(seed))
        for item in range(10):
            reservoir.offer(item)
        counts.update(reservoir.items)
    assert all(abs(counts[i] - 900) < 100 for i in range(10)), counts  # each kept with probability 3/10
    again = [Reservoir(3, random.Random(7)) for _ in range(2)]
    for reservoir in again:
        for item in range(50):
            reservoir.offer(item)
    assert again[0].items == again[1].items


def test_dropped_sample_bounds_each_reason_and_passes_everything_on(tmp_path):
    docs = [Document(text=f"text {i}", id=str(i)) for i in range(30)]
    for i, doc in enumerate(docs[:25]):
        mark_dropped(doc, "s", f"s:{'a' if i % 5 else 'b'}")  # 20 of reason a, 5 of b
    step = DroppedSample(str(tmp_path), per_reason=4)
    assert [d.id for d in step.run(iter(docs), rank=3)] == [d.id for d in docs]
    rows = duckdb.sql(f"SELECT reason, count(*) FROM '{tmp_path}/dropped/00003.parquet' GROUP BY 1").fetchall()
    assert dict(rows) == {"s:a": 4, "s:b": 4}


def test_report_shows_a_few_dropped_documents_per_reason(demo, tmp_path):
    from html import escape

    from curate.tools.report import render

    page = render(demo)
    sampled = sql(demo, "SELECT reason, count(*) FROM DROPPED GROUP BY 1")
    assert "<h2>Dropped documents, by reason</h2>" in page
    for reason, n in sampled:
        assert f"<summary>{escape(reason)} ({min(n, 2)} of {n} sampled)</summary>" in page
    (text,) = sql(demo, f"SELECT text FROM DROPPED WHERE reason = '{REASON}'")[0]
    assert escape(text[:100], quote=True).replace("=", "&#61;") in page
