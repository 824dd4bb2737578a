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


# ---- the one loader of run, mix and ablate files ---------------------------------------------

def loaders():
    from curate.ablation.run import load_config
    from curate.tools.mix import load_mix

    return {"run": load_recipe, "mix": load_mix, "ablate": load_config}


@pytest.mark.parametrize("kind", ["run", "mix", "ablate"])
def test_invalid_yaml_names_the_file_and_line_for_every_command(tmp_path, kind):
    if kind == "ablate":
        pytest.importorskip("torch")
    path = tmp_path / "f.yaml"
    path.write_text("name: x\noutput: out/x\nbad: [a, b\nseed: 1\n")
    with pytest.raises(ValueError, match=r"f\.yaml:4: invalid YAML: .*flow sequence") as error:
        loaders()[kind](path)
    assert "unicode string" not in str(error.value)


def test_a_variable_in_a_flow_list_is_explained(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: x\ninput: [${CRAWL:-data/}]\nstages: [gopher_quality]\n")
    with pytest.raises(RecipeError, match=r'r\.yaml:2: invalid YAML: .*must be quoted, \["\$\{VAR\}"\]'):
        load_recipe(path)
    path.write_text('name: x\ninput: ["${CRAWL:-data/}"]\nstages: [gopher_quality]\n')
    assert load_recipe(path).inputs == ["data/"]


@pytest.mark.parametrize("value, message", [
    ("${NOPE_NOT_SET}/x", r"r\.yaml:4: environment variable NOPE_NOT_SET is not set"),
    ("${CRAWL:data}", r"r\.yaml:4: cannot expand '\$\{CRAWL:data\}': write \$\{VAR\} or \$\{VAR:-default\}"),
    ("${CRAWL", r"r\.yaml:4: cannot expand"),
])
def test_a_bad_variable_names_its_line(tmp_path, value, message):
    path = tmp_path / "r.yaml"
    path.write_text(f"name: x\ninput:\n  - a\n  - {value}\nstages: [gopher_quality]\n")
    with pytest.raises(RecipeError, match=message):
        load_recipe(path)


def test_an_override_is_named_where_a_line_would_be():
    with pytest.raises(RecipeError, match=r"<recipe> \(override stages\.gopher_quality\.min_doc_words=many\): "
                                          r"gopher_quality\.min_doc_words expects"):
        load_recipe(text=GOOD, overrides=["stages.gopher_quality.min_doc_words=many"])
    with pytest.raises(RecipeError, match=r"override 'input=\[a': the value is not valid YAML"):
        load_recipe(text=GOOD, overrides=["input=[a"])


def test_load_yaml_keeps_the_line_of_every_key_and_item(tmp_path):
    from curate.core.config import load_yaml

    path = tmp_path / "f.yaml"
    path.write_text("a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\ne: [1, 2]\n")
    loaded = load_yaml(path, overrides=["e=[3]", "a.f=4"])
    assert loaded.data == {"a": {"b": 1, "c": ["x", {"d": 2}], "f": 4}, "e": [3]}
    assert [loaded.where("a", "b"), loaded.where("a", "c", 1, "d"), loaded.where("a", "c", 1, "zz")] == [
        f"{path}:2", f"{path}:5", f"{path}:5"]
    assert loaded.where("e", 1) == f"{path} (override e=[3])"  # the file's items under e are gone
    assert loaded.where("a", "f") == f"{path} (override a.f=4)" and loaded.where("nope") == str(path)


def test_mix_and_ablate_errors_name_the_line(tmp_path):
    from curate.tools.mix import MixError, load_mix

    path = tmp_path / "m.yaml"
    path.write_text("output: o\non_shortfall: panic\nsources:\n  web: {path: x, share: 1}\n")
    with pytest.raises(MixError, match=r"m\.yaml:2: on_shortfall must be one of"):
        load_mix(path)
    path.write_text("output: o\nsources:\n  web: {path: x}\n")
    with pytest.raises(MixError, match=r"m\.yaml:3: source 'web': give exactly one of"):
        load_mix(path)
    pytest.importorskip("torch")
    from curate.ablation.run import load_config

    path = tmp_path / "a.yaml"
    path.write_text("baseline: {input: [x]}\ntrain:\n  tokens: 10\n  layers: 2\n")
    with pytest.raises(RecipeError, match=r"a\.yaml:2: unknown train setting\(s\) \['layers'\]"):
        load_config(path)
