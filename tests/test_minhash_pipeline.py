"""The dedup recipe end to end: task-count invariance, resume after a kill, annotate mode."""

import pytest
import yaml

from curate.core.config import load_recipe
from curate.filters.minhash.buckets import DedupBuckets
from curate.filters.minhash.signatures import MinhashSignatures
from tests.conftest import REPO
from tests.dedup_helpers import decisions, kept_ids, planted_corpus, random_bases, run_dedup, write_jsonl

# small buffer: several spilled runs; the thresholds are the correctness test's business
STAGES = [{"exact_dedup": {}}, {"minhash": {"buffer_records": 2000, "min_similarity": 0.7}}]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("in"), planted_corpus(random_bases(150)))


@pytest.fixture(scope="module")
def one_task(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "out"
    run_dedup(corpus, out, tasks=1, stages=STAGES)
    return out


def test_duplicates_are_dropped_with_what_they_duplicate(one_task):
    rows = decisions(one_task, "id, reason, exact_dedup__duplicate_of, minhash__duplicate_of, minhash__cluster_size")
    by_id = {r[0]: r for r in rows}
    assert len(rows) == 150 + 50 * 4
    # b0 has an exact copy (v0) and three near copies: one survivor, the others name it
    family = [by_id[i] for i in ("b0", "b0-v0", "b0-v1", "b0-v2", "b0-v3")]
    kept = [r for r in family if r[1] is None]
    assert len(kept) == 1
    exact = [r for r in family if r[1] == "exact_dedup:duplicate"]
    near = [r for r in family if r[1] == "minhash:duplicate"]
    assert len(exact) == 1 and exact[0][2] in ("b0", "b0-v0") and len(near) == 3
    # a near copy names a member of its family it was matched to (the kept one or another copy)
    family_ids = {r[0] for r in family if r[1] != "exact_dedup:duplicate"}
    assert all(r[3] in family_ids - {r[0]} and r[4] == 4 for r in near)
    assert any(r[3] == kept[0][0] for r in near)
    # the 2% edit-rate copies (J ~ 0.82) are caught with probability ~0.93 each: a few survive
    assert 150 <= len(kept_ids(one_task)) <= 156


def test_one_task_and_four_tasks_keep_the_same_documents(corpus, one_task, tmp_path):
    run_dedup(corpus, tmp_path / "four", tasks=4, workers=2, stages=STAGES)
    assert kept_ids(tmp_path / "four") == kept_ids(one_task)
    columns = "id, reason, minhash__cluster_id, minhash__cluster_size, minhash__duplicate_of, exact_dedup__duplicate_of"
    assert decisions(tmp_path / "four", columns) == decisions(one_task, columns)


@pytest.mark.parametrize("step,method", [(MinhashSignatures, "signatures"), (DedupBuckets, "run")])
def test_a_pass_killed_half_way_and_rerun_gives_the_identical_result(corpus, one_task, tmp_path, monkeypatch,
                                                                     step, method):
    original = getattr(step, method)
    calls = {"n": 0}

    def dies_on_the_third_call(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        result = original(self, *args, **kwargs)
        return list(result) if method == "run" else result

    monkeypatch.setattr(step, method, dies_on_the_third_call)
    recipe = STAGES
    with pytest.raises(BaseException, match="killed"):
        run_dedup(corpus, tmp_path / "out", tasks=4, stages=recipe)
    monkeypatch.setattr(step, method, original)
    run_dedup(corpus, tmp_path / "out", tasks=4, stages=recipe)
    assert kept_ids(tmp_path / "out") == kept_ids(one_task)
    assert decisions(tmp_path / "out", "id, reason, minhash__duplicate_of") == decisions(one_task, "id, reason, minhash__duplicate_of")


def test_annotate_mode_keeps_everything_and_records_clusters(corpus, tmp_path):
    run_dedup(corpus, tmp_path / "ann", mode="annotate", stages=[{"minhash": {"min_similarity": 0.7}}])
    rows = decisions(tmp_path / "ann", "id, reason, minhash__reason, minhash__kept, minhash__cluster_size")
    assert all(r[1] is None for r in rows)
    assert len(kept_ids(tmp_path / "ann")) == 350
    would_drop = [r for r in rows if r[2] == "minhash:duplicate"]
    assert 50 * 4 - 6 <= len(would_drop) <= 50 * 4 and all(r[3] is False and r[4] >= 2 for r in would_drop)


def test_the_dedup_recipe_loads_and_its_stages_build():
    recipe = load_recipe(REPO / "pipelines" / "dedup.yaml", overrides=["input=[/tmp]"])
    assert [s.name for s in recipe.stages] == ["exact_dedup@1", "minhash@1"]
    assert yaml.safe_load((REPO / "pipelines" / "dedup.yaml").read_text())["stages"][1]["minhash"]["bands"] == 14


def test_a_corpus_without_near_duplicates_runs_clean(tmp_path):
    """Exact copies only: exact_dedup removes them, so MinHash sees no duplicate pair at all."""
    import json

    from curate.core.config import load_recipe
    from curate.pipelines import runner
    from tests.conftest import REPO

    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(
        json.dumps({"id": str(i), "text": ("the same words in every copy of this page " if i % 3 == 0
                                            else f"a different text for document number {i} ") * 30}) + "\n"
        for i in range(30)))
    recipe = load_recipe(REPO / "pipelines" / "dedup.yaml",
                         overrides=[f"input=['{docs}']", f"output={tmp_path / 'out'}", "executor.tasks=2"])
    runner.run(recipe, progress=False)
    import duckdb

    rows = dict(duckdb.sql(f"SELECT coalesce(reason, 'kept'), count(*) FROM '{tmp_path}/out/decisions/*.parquet' "
                           "GROUP BY 1").fetchall())
    assert rows == {"kept": 21, "exact_dedup:duplicate": 9}


def test_a_crawl_is_read_and_extracted_once(sample_crawl, tmp_path):
    """The first dedup pass saves the extracted stream; the later passes and the main pipeline
    read it back instead of reading and extracting the crawl again; it is removed at the end."""
    import json

    out = tmp_path / "out"
    run_dedup(sample_crawl, out, tasks=2, mode="annotate",
              stages=[{"trafilatura_extract": {}}, {"exact_dedup": {}}, {"minhash": {}}])

    def steps(logs: str) -> set[str]:
        return {s["name"] for f in (out / "logs" / logs / "stats").glob("*.json") for s in json.loads(f.read_text())}

    assert any("Trafilatura" in name or "extract" in name for name in steps("exact_dedup_signatures"))
    for later in ("minhash_signatures", ""):
        names = steps(later)
        assert not any("Trafilatura" in name or "extract" in name or "WARC" in name for name in names), names
        assert any("stream reader" in name for name in names)
    assert len(decisions(out, "id")) == 43  # one row per record, as without dedup
    assert not any((out / "dedup").rglob("*.jsonl.gz"))
