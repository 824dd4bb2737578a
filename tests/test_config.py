import pytest

from curate.core.config import RecipeError, load_recipe, resolved_params

GOOD = """\
name: t
input: [data/]
stages:
  - trafilatura_extract: {timeout: 2}
  - gopher_quality:
      min_doc_words: 20
"""


def test_a_good_recipe_loads_with_pinned_versions():
    recipe = load_recipe(text=GOOD)
    assert [s.name for s in recipe.stages] == ["trafilatura_extract@1", "gopher_quality@1"]
    assert recipe.executor.type == "local" and recipe.executor.tasks == 1
    assert recipe.output == "out/t"


def test_unknown_stage_fails_naming_line_and_closest(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(GOOD.replace("gopher_quality:", "gopher_qualit:"))
    with pytest.raises(RecipeError, match=r"r\.yaml:5: unknown stage 'gopher_qualit'; did you mean 'gopher_quality'"):
        load_recipe(path)


def test_mistyped_parameter_name_fails_naming_its_line(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(GOOD.replace("min_doc_words", "min_doc_word"))
    with pytest.raises(RecipeError, match=r"r\.yaml:6: .*no parameter 'min_doc_word' \(did you mean 'min_doc_words'\?\)"):
        load_recipe(path)


@pytest.mark.parametrize("value", ["'many'", "[1, 2]", "true"])
def test_parameter_of_the_wrong_type_fails(value):
    with pytest.raises(RecipeError, match="gopher_quality.min_doc_words expects"):
        load_recipe(text=GOOD.replace("min_doc_words: 20", f"min_doc_words: {value}"))


def test_null_disables_a_threshold_and_ints_are_accepted_for_floats():
    recipe = load_recipe(text=GOOD.replace("min_doc_words: 20", "min_doc_words: null\n      max_symbol_word_ratio: 1"))
    assert recipe.stages[1].params == {"min_doc_words": None, "max_symbol_word_ratio": 1}


def test_readers_and_writers_are_not_stages():
    with pytest.raises(RecipeError, match="is a reader"):
        load_recipe(text="input: [x]\nstages:\n  - warc_reader\n")


def test_a_stage_may_appear_once():
    with pytest.raises(RecipeError, match="appears twice"):
        load_recipe(text="stages:\n  - gopher_quality\n  - gopher_quality\n")


@pytest.mark.parametrize("bad, message", [
    ("mode: strict", "mode must be one of"),
    ("executor: {type: kubernetes}", "executor.type must be one of"),
    ("executor: {tasks: 0}", "executor.tasks must be a positive integer"),
    ("outputs: x", "unknown top-level key"),
    ("stages: []", "non-empty list"),
])
def test_bad_top_level_values(bad, message):
    text = GOOD + bad + "\n" if not bad.startswith("stages") else "input: [x]\n" + bad + "\n"
    with pytest.raises(RecipeError, match=message):
        load_recipe(text=text)


def test_overrides_set_nested_keys_and_stage_parameters():
    recipe = load_recipe(text=GOOD, overrides=["executor.tasks=4", "stages.gopher_quality.min_doc_words=7",
                                               "mode=annotate", 'input=["a", "b"]'])
    assert recipe.executor.tasks == 4
    assert recipe.stages[1].params["min_doc_words"] == 7
    assert recipe.mode == "annotate" and recipe.inputs == ["a", "b"]


def test_override_of_a_missing_stage_fails():
    with pytest.raises(RecipeError, match="no stage 'c4_quality'"):
        load_recipe(text=GOOD, overrides=["stages.c4_quality.x=1"])


def test_environment_variables_expand(monkeypatch, tmp_path):
    monkeypatch.setenv("CRAWL", "/data/cc")
    path = tmp_path / "r.yaml"
    path.write_text(GOOD.replace("[data/]", "\n  - ${CRAWL}/x\n  - ${NOPE:-fallback}\n  - ${RECIPE_DIR}/s"))
    assert load_recipe(path).inputs == ["/data/cc/x", "fallback", f"{tmp_path}/s"]
    path.write_text(GOOD.replace("[data/]", "\n  - ${NOPE}"))
    with pytest.raises(RecipeError, match="NOPE is not set"):
        load_recipe(path)


def test_resolved_params_include_defaults():
    recipe = load_recipe(text=GOOD)
    params = resolved_params(recipe.stages[1])
    assert params["min_doc_words"] == 20 and params["max_doc_words"] == 100_000 and params["mode"] == "filter"


def test_slurm_and_ray_map_onto_datatrove_executors(tmp_path):
    from datatrove.executor import SlurmPipelineExecutor

    from curate.pipelines.runner import build_executor

    recipe = load_recipe(text=GOOD + f"output: {tmp_path}/o\nexecutor:\n  type: slurm\n  tasks: 8\n"
                         "  slurm: {partition: cpu, time: '01:00:00', cpus_per_task: 2}\n")
    executor = build_executor(recipe, [])
    assert isinstance(executor, SlurmPipelineExecutor)
    assert executor.tasks == 8 and executor.partition == "cpu" and executor.cpus_per_task == 2
    with pytest.raises(RecipeError, match="needs executor.slurm.time"):
        build_executor(load_recipe(text=GOOD + "executor: {type: slurm, slurm: {partition: cpu}}\n"), [])
