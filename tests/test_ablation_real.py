"""The real-text filter ablation (pipelines/realtext_annotate.yaml, pipelines/ablation_real_filters.yaml): the
converter reads every source of ../shared/data it names, and the whole chain (convert, train the classifier,
annotate, ablate) runs at a tiny scale with each `where:` variant training on exactly the documents DuckDB
picks from the decision table."""

import json

import duckdb
import pytest

from curate.ablation import realtext
from curate.core.config import load_recipe
from curate.pipelines import runner
from tests.conftest import REPO
from tests.test_recipes import TINY

pytestmark = pytest.mark.integration


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_blog_posts_are_cut_out_of_the_xml_whole_and_decoded(shared):
    posts = list(realtext.blog_posts(shared, every=1, limit=500))
    assert len(posts) == 500 and len({doc_id for doc_id, _, _ in posts}) == 500
    for _, text, meta in posts:
        assert "<post>" not in text and "</post>" not in text and "<date>" not in text
        assert len(text) >= realtext.MIN_CHARS and meta["source"] == "blog"
    every_5th = [doc_id for doc_id, _, _ in realtext.blog_posts(shared, every=5, limit=50)]
    assert len(every_5th) == 50 and set(every_5th) <= {doc_id for doc_id, _, _ in posts}


def test_the_human_labels_are_split_and_kept_out_of_the_web_text(shared, tmp_path):
    counts = realtext.build(tmp_path, shared, blog_limit=20, gold_limit=5, warc=False)
    assert counts["human/preferred.jsonl"] == 272 and counts["human/rejected.jsonl"] == 227  # DCLM's majority labels
    web_ids = {r["id"] for name in ("blogs", "wcxb", "cleaning") for r in read(tmp_path / "web" / f"{name}.jsonl")}
    assert not any(i.startswith("dclm_human/") for i in web_ids)
    assert {r["metadata"]["source"] for r in read(tmp_path / "web" / "cleaning.jsonl")} == {"cleaning"}


def test_the_real_filter_ablation_runs_tiny(shared, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from curate.ablation.run import load_config, run_ablation
    from curate.tools import classifier

    data = tmp_path / "realtext"
    counts = realtext.build(data, shared, blog_every=10, blog_limit=400, gold_limit=100)
    assert counts["web/warc.jsonl"] > 0  # extract@2 found text in the WARC samples
    assert {"dropped_benchmark", "dropped_heldout"} <= set(counts)
    classifier.train([str(data / "human" / "preferred.jsonl")], [str(data / "human" / "rejected.jsonl")],
                     str(data / "quality.bin"), classifier.TrainParams(chunk_words=200))
    monkeypatch.setenv("CURATE_SHARED_DATA", str(shared))
    monkeypatch.setenv("REALTEXT", str(data))
    recipe = load_recipe(REPO / "pipelines" / "realtext_annotate.yaml", overrides=["executor.tasks=1"])
    runner.run(recipe, progress=False)
    annotated = data / "ann"

    config = load_config(REPO / "pipelines" / "ablation_real_filters.yaml", TINY)
    result = run_ablation(config, output=tmp_path / "ablate", log=lambda message: None)
    run = json.loads((tmp_path / "ablate" / "run.json").read_text())
    names = [config["baseline"]["name"]] + [v["name"] for v in config["variants"]]
    assert sorted(run["manifest"]) == sorted(names)
    assert len({m["tokens"] for m in run["manifest"].values()}) == 1  # one token budget for every variant
    assert {r["variant"] for r in result["results"]} == set(names)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW decisions AS SELECT * FROM '{annotated}/decisions/*.parquet'")
    for entry in [config["baseline"]] + config["variants"]:
        if "where" not in entry:
            continue
        (count,), = con.execute(f"SELECT count(*) FROM decisions WHERE stage IS NULL AND ({entry['where']})").fetchall()
        # decontaminated by the converter (`decontaminate: false` here), so every selected document is available
        assert 0 < run["manifest"][entry["name"]]["docs_available"] == count, entry["name"]
    (english,), = con.execute("SELECT count(*) FROM decisions WHERE fasttext_lang__reason IS NULL").fetchall()
    top = run["manifest"]["classifier_top20"]
    # the top share is a share of the English documents (quantile_cont interpolates: one more at the cut)
    assert 0.2 * english - 1 <= top["docs_available"] <= 0.2 * english + 2
    assert run["manifest"]["human_preferred"]["docs_available"] <= 272


def test_the_converter_drops_documents_sharing_a_13_gram_with_the_held_out_text(shared):
    from curate.ablation import data

    clean = realtext.Decontaminator(shared)
    held = data.read_documents([shared / "clean_text" / "gutenberg", shared / "clean_text" / "wikitext-2"])[::10]
    passage = " ".join(held[3].split()[:40])  # a passage of a held-out document, inside a blog post
    (post,) = [p for _, p, _ in realtext.blog_posts(shared, limit=1)]
    records = [("a", post, {}), ("b", post + "\n\n" + passage, {})]
    assert [r[0] for r in clean(records)] == ["a"]
    assert clean.dropped == {"benchmark": 0, "heldout": 1}
