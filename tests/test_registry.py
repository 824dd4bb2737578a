import inspect
import re

import pytest
import yaml

from curate.core import registry
from curate.core.config import load_recipe
from curate.pipelines.runner import build_stages


def test_unknown_stage_names_the_closest_valid_ones():
    with pytest.raises(registry.UnknownStage, match=r"did you mean 'gopher_quality'"):
        registry.get("gopher_qualty")


def test_bare_name_means_latest_version_and_versions_pin():
    assert registry.get("gopher_quality").versioned == "gopher_quality@1"
    assert registry.get("gopher_quality@1").name == "gopher_quality"
    with pytest.raises(registry.UnknownStage, match="available: gopher_quality@1"):
        registry.get("gopher_quality@9")


def test_every_stage_has_a_description_and_an_example():
    for spec in registry.STAGES:
        doc = inspect.getdoc(spec.load())
        assert doc and spec.description(), spec.name
        assert "Example:" in doc, f"{spec.name} has no Example: in its docstring"


@pytest.mark.parametrize("spec", [s for s in registry.STAGES if s.kind not in ("reader", "writer")], ids=lambda s: s.name)
def test_every_processing_stage_builds_from_its_documented_example(spec, tmp_path, lid_model, monkeypatch):
    monkeypatch.setenv("CURATE_MODEL_DIR", str(tmp_path))  # force the lookup past the env var
    example = re.search(r"Example: `(.+?)`", inspect.getdoc(spec.load()), re.S).group(1)
    stages = yaml.safe_load(example)
    recipe = load_recipe(text=yaml.safe_dump({"input": [str(tmp_path)], "stages": stages}))
    (step,) = build_stages(recipe)
    assert type(step) is spec.load()


def test_readers_and_writer_build_from_their_examples(tmp_path):
    from curate.io.readers import JsonlReader, ParquetReader, WarcReader
    from curate.io.writers import DecisionWriter, signal_columns

    readers = [WarcReader(str(tmp_path), glob_pattern="*.warc.gz"), JsonlReader(str(tmp_path), glob_pattern="*.jsonl"),
               ParquetReader(str(tmp_path), glob_pattern="*.parquet")]
    writer = DecisionWriter(str(tmp_path / "out"), signal_columns(readers))
    assert "read__content_type" in writer.signals
