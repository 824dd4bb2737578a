"""Every recipe in pipelines/ loads, and every one runs in some test at a small scale.

`curate run`, `curate mix` and `curate ablate` files share one loader (curate.core.config.load_yaml);
each is loaded here by its own command's loader. Recipes that another test already runs are listed
in RUN_ELSEWHERE with that test, and the pointer itself is checked; the two full-size ablation
recipes are run here with overrides that make them tiny.
"""

import json
from pathlib import Path

import duckdb
import pytest

from curate.core.config import load_recipe, load_yaml
from curate.pipelines import runner
from curate.tools.mix import load_mix
from tests.conftest import REPO

RECIPES = sorted((REPO / "pipelines").glob("*.yaml"))
# recipe -> (test file, test) that runs it
RUN_ELSEWHERE = {
    "fineweb.yaml": ("tests/test_cli.py", "test_the_demo_prints_the_summary"),  # on the sample crawl
    "dedup.yaml": ("tests/test_minhash_pipeline.py", "test_a_corpus_without_near_duplicates_runs_clean"),
    "decontaminate.yaml": ("tests/test_decontaminate.py", "test_recipe_runs_and_writes_the_report"),
    "mix_example.yaml": ("tests/test_mix.py", "test_the_example_mix_runs_on_the_shared_data"),
    "mix_by_label.yaml": ("tests/test_mix_labels.py", "test_the_annealing_example_runs"),
    "ablation_damage_tiny.yaml": ("tests/test_ablation.py", "test_ablation_tells_clean_text_from_planted_damage"),
    "ablation_damage_anneal_tiny.yaml": ("tests/test_ablation_anneal.py",
                                         "test_annealing_separates_every_damaged_variant_and_shares_one_base"),
    "realtext_annotate.yaml": ("tests/test_ablation_real.py", "test_the_real_filter_ablation_runs_tiny"),
    "ablation_real_filters.yaml": ("tests/test_ablation_real.py", "test_the_real_filter_ablation_runs_tiny"),
}
RUN_HERE = {"ablation_damage.yaml", "ablation_filters.yaml"}
# an ablation recipe at a small scale: 1 seed, a 2.5k-parameter model, 2,048 training tokens, 10 COPA items
TINY = ["seeds=[0]", "workers=1", "train.tokens=2048", "train.n_layer=1", "train.n_head=1", "train.n_embd=16",
        "train.block_size=32", "train.batch_size=4", "train.threads=1", "train.log_every=4",
        "tokenizer.vocab_size=300", "tokenizer.sample_docs=100", "heldout.every=50", "heldout.tokens=1024",
        "eval.tasks=[copa]", "eval.max_items=10", "eval.bootstrap=50"]


def command(path: Path) -> str:
    """Which command a recipe is for, told by its keys."""
    data = load_yaml(path).data
    found = [name for key, name in (("stages", "run"), ("sources", "mix"), ("baseline", "ablate")) if key in data]
    assert len(found) == 1, f"{path.name}: not a run, mix or ablate recipe (keys {sorted(data)})"
    return found[0]


def test_the_recipes_are_found():
    assert {p.name for p in RECIPES} >= set(RUN_ELSEWHERE) | RUN_HERE


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_recipe_loads(path):
    kind = command(path)
    if kind == "run":
        recipe = load_recipe(path)
        assert recipe.stages and all("@" in s.name for s in recipe.stages)
    elif kind == "mix":
        assert load_mix(path).sources
    else:
        pytest.importorskip("torch")
        from curate.ablation.run import load_config

        config = load_config(path)
        assert config["baseline"]["input"] and "${" not in json.dumps(config)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_recipe_is_run_by_a_test(path):
    if path.name in RUN_HERE:
        return
    assert path.name in RUN_ELSEWHERE, f"no test runs pipelines/{path.name}: run it here or name the test that does"
    file, test = RUN_ELSEWHERE[path.name]
    text = (REPO / file).read_text()
    assert f"def {test}(" in text, f"{file} has no {test}"
    assert f'"pipelines" / "{path.name}"' in text or f"pipelines/{path.name}" in text, f"{file} does not use {path.name}"


# ---- the ablation recipes no other test runs, made tiny ----------------------------------------

def ablate(name: str, out: Path) -> dict:
    from curate.ablation.run import load_config, run_ablation

    config = load_config(REPO / "pipelines" / name, TINY)
    result = run_ablation(config, output=out, log=lambda message: None)
    variants = [config["baseline"]["name"]] + [v["name"] for v in config["variants"]]
    run = json.loads((out / "run.json").read_text())
    assert sorted(run["manifest"]) == sorted(variants)
    assert len({m["tokens"] for m in run["manifest"].values()}) == 1  # one token budget for every variant
    assert sorted(r["variant"] for r in result["results"]) == sorted(variants)  # one seed each
    return run


@pytest.mark.integration
def test_ablation_damage_runs_tiny(shared, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("CURATE_SHARED_DATA", str(shared))
    run = ablate("ablation_damage.yaml", tmp_path / "damage")
    clean = run["manifest"]["clean"]
    assert run["manifest"]["duplicates"]["docs_available"] == clean["docs_available"]  # copies replace documents
    assert clean["decontamination"]["heldout"] > 0  # the held-out documents were taken out of training


@pytest.mark.integration
def test_ablation_filters_runs_tiny_on_an_annotated_sample_crawl(shared, lid_model, tmp_path, monkeypatch):
    """The README's filter ablation: an annotate-mode run of fineweb.yaml on the sample crawl, then
    every variant's `where:` picks exactly the documents DuckDB finds in its decision table."""
    pytest.importorskip("torch")
    from curate.ablation.run import load_config

    annotated = tmp_path / "ann"
    recipe = load_recipe(REPO / "pipelines" / "fineweb.yaml",
                         overrides=[f"output={annotated}", "mode=annotate", f"stages.fasttext_lang.model={lid_model}"])
    runner.run(recipe, progress=False)
    monkeypatch.setenv("CURATE_SHARED_DATA", str(shared))
    monkeypatch.setenv("ANNOTATED", str(annotated))
    run = ablate("ablation_filters.yaml", tmp_path / "filters")
    for variant in load_config(REPO / "pipelines" / "ablation_filters.yaml")["variants"]:
        if "where" not in variant:
            continue
        (count,), = duckdb.sql(f"SELECT count(*) FROM '{annotated}/decisions/*.parquet' WHERE stage IS NULL "
                               f"AND ({variant['where']})").fetchall()
        info = run["manifest"][variant["name"]]
        dropped = info["decontamination"]["benchmark"] + info["decontamination"]["heldout"]
        assert 0 < info["docs_available"] + dropped == count, variant["name"]


def test_the_readme_quotes_fineweb_yaml_as_it_is():
    readme = (REPO / "README.md").read_text()
    quoted = readme.split("`pipelines/fineweb.yaml`:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    assert quoted == (REPO / "pipelines" / "fineweb.yaml").read_text()
