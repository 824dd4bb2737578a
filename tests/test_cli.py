import json

import duckdb
import pytest
from click.testing import CliRunner

from curate.cli import main
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_is_documented_with_an_example(name):
    assert f"`curate {name}" in README, f"README does not document `curate {name}`"
    assert "Example:" in main.commands[name].help


def test_list_stages_prints_every_registered_stage():
    from curate.core import registry

    result = CliRunner().invoke(main, ["list-stages"])
    assert result.exit_code == 0
    for spec in registry.STAGES:
        assert spec.versioned in result.output


def test_a_bad_recipe_exits_1_with_the_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("input: [x]\nstages:\n  - gopher_qualty\n")
    result = CliRunner().invoke(main, ["run", str(recipe)])
    assert result.exit_code == 1
    assert "r.yaml:3: unknown stage 'gopher_qualty'; did you mean 'gopher_quality'" in result.output


def test_missing_input_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["run", str(REPO / "pipelines" / "fineweb.yaml"),
                                       "--input", str(tmp_path / "nope.warc.gz"), "--output", str(tmp_path / "o")])
    assert result.exit_code == 1 and "input not found" in result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory, sample_crawl, lid_model):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(main, ["run", str(REPO / "pipelines" / "fineweb.yaml"), "--output", str(out),
                                       "--no-progress", f"stages.fasttext_lang.model={lid_model}"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_the_demo_prints_the_summary(demo):
    out, output = demo
    for text in ("Summary: fineweb", "stage", "drop reason", "docs/s", "MB/s", f"{out}/decisions/", "SELECT"):
        assert text in output


def test_the_demo_shows_every_stage_doing_something(demo):
    out, _ = demo
    dropped = dict(duckdb.sql(f"SELECT stage, count(*) FROM '{out}/decisions/*.parquet' GROUP BY 1").fetchall())
    for stage in ("read", "extract", "fasttext_lang", "gopher_quality"):
        assert dropped.get(stage, 0) > 0, f"the sample crawl makes no {stage} drop: {dropped}"
    assert dropped[None] >= 10  # kept English articles
    reasons = {r for (r,) in duckdb.sql(f"SELECT DISTINCT reason FROM '{out}/decisions/*.parquet'").fetchall()}
    assert {"read:corrupt_record", "extract:non_html"} <= reasons


def test_the_demo_has_one_row_per_response_record_of_the_sample(demo):
    out, _ = demo
    manifest = json.loads((REPO / "pipelines" / "sample" / "manifest.json").read_text())
    responses = [r for r in manifest["records"] if r["warc_type"] == "response"]
    assert duckdb.sql(f"SELECT count(*) FROM '{out}/decisions/*.parquet'").fetchall()[0][0] == len(responses)


def test_stats_command_formats(demo):
    out, _ = demo
    runner = CliRunner()
    funnel = runner.invoke(main, ["stats", str(out)])
    assert funnel.exit_code == 0 and "gopher_quality" in funnel.output
    rows = runner.invoke(main, ["stats", str(out), "SELECT stage, count(*) AS n FROM decisions GROUP BY 1",
                                "--format", "json"])
    assert rows.exit_code == 0 and sum(r["n"] for r in json.loads(rows.output)) > 40
    bad = runner.invoke(main, ["stats", str(out), "SELECT nope FROM decisions"])
    assert bad.exit_code == 1 and "query failed" in bad.output


def test_list_stages_name_shows_parameters_signals_and_reasons():
    from curate.filters.gopher_quality import GopherQuality

    result = CliRunner().invoke(main, ["list-stages", "gopher_quality"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines() if line.strip()}
    assert rows["min_doc_words"][1:] == ["int", "|", "None", "50"]  # type and default, from the constructor
    assert rows["language"][1:] == ["str", "'auto'"]
    for column, signal in GopherQuality.declared().items():
        assert column in rows
        if signal.keep:
            assert rows[column][2] == signal.keep  # the declared direction
    assert rows["gopher_quality__n_stop_words"][3:] == ["min_stop_words", "too_few_stop_words"]
    reasons = next(line for line in result.output.splitlines() if line.startswith("reasons:"))
    for reason in ("too_few_words", "too_many_words", "too_many_hashes", "too_few_stop_words"):
        assert f"gopher_quality:{reason}" in reasons


@pytest.mark.parametrize("name, reason", [("extract", "extract:timeout"), ("url_filter", "url_filter:opt_out"),
                                          ("c4_quality", "c4_quality:lorem_ipsum"), ("minhash", "minhash:duplicate")])
def test_list_stages_name_finds_reasons_in_declarations_and_docstrings(name, reason):
    result = CliRunner().invoke(main, ["list-stages", name])
    assert result.exit_code == 0 and reason in result.output.splitlines()[-1]


def test_list_stages_name_unknown_is_one_line():
    result = CliRunner().invoke(main, ["list-stages", "gopher_qualty"])
    assert result.exit_code == 1 and "did you mean 'gopher_quality'" in result.output


def test_list_stages_shows_whole_first_sentences():
    from curate.tools.stages import summary

    assert summary("Cut (a. b. c.) here, e.g. not. There.") == "Cut (a. b. c.) here, e.g. not."
    result = CliRunner().invoke(main, ["list-stages"])
    minhash = next(line for line in result.output.splitlines() if line.startswith("minhash@1"))
    assert minhash.endswith("the one with the smallest order key (a hash of id and source file).")
    for line in result.output.splitlines()[2:]:
        assert line.rstrip().endswith((".", ")", "`")), line


def test_the_summary_shows_every_drop_reason(tmp_path, sample_crawl, lid_model):
    """Thresholds tightened until more than ten reasons drop documents: the summary lists each one."""
    out = tmp_path / "out"
    tight = ["stages.fasttext_lang.languages=[en,de,fr,es,it,pt,nl,ru,pl,ja,zh,ar,tr,sv,cs]",
             "stages.fasttext_lang.threshold=0.3", "stages.gopher_quality.min_doc_words=150",
             "stages.gopher_quality.max_avg_word_length=5.2", "stages.gopher_quality.min_stop_words=40",
             "stages.c4_quality.min_num_sentences=12", f"stages.fasttext_lang.model={lid_model}"]
    result = CliRunner().invoke(main, ["run", str(REPO / "pipelines" / "fineweb.yaml"), "--input", str(sample_crawl),
                                       "--output", str(out), "--no-progress", *tight])
    assert result.exit_code == 0, result.output
    reasons = dict(duckdb.sql(f"SELECT reason, count(*) FROM '{out}/decisions/*.parquet' WHERE reason IS NOT NULL "
                              "GROUP BY 1").fetchall())
    assert len(reasons) > 10, reasons  # more than the summary used to show
    lines = result.output.split("drop reason")[1].split("\n\n")[0].splitlines()[2:]
    assert {line.split()[0]: int(line.split()[1]) for line in lines} == reasons
