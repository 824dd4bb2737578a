"""End-to-end runs of real recipes on the real files in ../shared/data (integration)."""

import shutil
from pathlib import Path

import duckdb
import pytest
from warcio.archiveiterator import ArchiveIterator

from curate.core.config import RecipeError, load_recipe
from curate.pipelines import runner
from curate.tools import stats
from tests.conftest import REPO

FINEWEB = REPO / "pipelines" / "fineweb.yaml"
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc.gz", ".wet.gz", ".wat.gz")
pytestmark = pytest.mark.integration


def run_recipe(inputs, output, *overrides, lid=None):
    extra = [f"input={list(map(str, inputs))}", f"output={output}", *overrides]
    if lid:
        extra.append(f"stages.fasttext_lang.model={lid}")
    recipe = load_recipe(FINEWEB, overrides=extra)
    return runner.run(recipe, progress=False)


def warc_files(shared: Path) -> list[Path]:
    return sorted(p for p in (shared / "warc").rglob("*") if p.name.endswith(WARC_SUFFIXES))


def warcio_count(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(r.rec_type in ("response", "conversion") for r in ArchiveIterator(f, arc2warc=True))


def test_one_decision_row_per_response_record_for_every_real_crawl_file(shared, lid_model, tmp_path):
    files = warc_files(shared)
    assert len(files) >= 12, "expected the WARC/ARC/WET files of shared/data/warc"
    for i, path in enumerate(files):
        out = tmp_path / f"o{i}"
        run_recipe([path], out, lid=lid_model)
        rows = duckdb.sql(f"SELECT count(*), count(DISTINCT id) FROM '{out}/decisions/*.parquet'").fetchall()[0]
        expected = warcio_count(path)
        assert rows == (expected, expected), f"{path.name}: {rows[0]} rows, warcio counts {expected}"
        kept = duckdb.sql(f"SELECT count(*) FROM '{out}/documents/*.parquet'").fetchall()[0][0]
        assert kept == duckdb.sql(f"SELECT count(*) FROM '{out}/decisions/*.parquet' WHERE stage IS NULL").fetchall()[0][0]
        assert (out / "stats.json").is_file() and (out / "config.resolved.yaml").is_file()


@pytest.fixture(scope="module")
def cc_run(shared, lid_model, tmp_path_factory):
    """One filter-mode and one annotate-mode run over several real crawl files."""
    inputs = tmp_path_factory.mktemp("in")
    for name in ("resiliparse/CC-MAIN-2020-34_excerpt_warcfile.warc.gz", "dolma/sample-0000.warc.gz",
                 "dolma/sample-0001.warc.gz", "pywb/iana.warc.gz", "ukwa/IAH-urls-wget.warc.gz"):
        shutil.copy(shared / "warc" / name, inputs / Path(name).name)
    base = tmp_path_factory.mktemp("runs")
    run_recipe([inputs], base / "filter", lid=lid_model)
    run_recipe([inputs], base / "annotate", "mode=annotate", lid=lid_model)
    return inputs, base


def test_duckdb_answers_drops_per_stage_and_reason(cc_run):
    _, base = cc_run
    con = stats.connect(base / "filter")
    drops = con.execute("SELECT stage, reason, count(*) FROM decisions WHERE stage IS NOT NULL "
                        "GROUP BY ALL ORDER BY 3 DESC").fetchall()
    stages = {stage for stage, _, _ in drops}
    assert {"extract", "fasttext_lang", "gopher_quality"} <= stages
    assert all(reason.startswith(stage + ":") for stage, reason, _ in drops)
    total = con.execute("SELECT count(*) FROM decisions").fetchall()[0][0]
    kept = con.execute("SELECT count(*) FROM documents").fetchall()[0][0]
    assert total == kept + sum(n for _, _, n in drops)


def test_duckdb_answers_mean_language_score_per_language(cc_run):
    _, base = cc_run
    rows = stats.query(base / "annotate", "SELECT language, avg(language_score) AS s, count(*) AS n "
                                          "FROM decisions WHERE language IS NOT NULL GROUP BY 1 ORDER BY n DESC")[1]
    languages = {lang: (score, n) for lang, score, n in rows}
    assert {"en", "zh"} <= set(languages)
    assert all(0 < score <= 1 for score, _ in languages.values())


def test_annotate_keeps_everything_and_records_the_reasons_filter_mode_drops_on(cc_run):
    _, base = cc_run
    con = duckdb.connect()
    order = [s for s in stats.stage_order(base / "annotate") if s not in ("read", "extract")]
    columns = [c for (c,) in con.execute(
        f"SELECT column_name FROM (DESCRIBE SELECT * FROM '{base}/annotate/decisions/*.parquet')").fetchall()]
    reason_columns = [f"{s}__reason" for s in order if f"{s}__reason" in columns]
    assert len(reason_columns) >= 5  # every filter of the recipe records its would-be reason
    filt = {r[0]: r[1:] for r in con.execute(
        f"SELECT id, stage, reason FROM '{base}/filter/decisions/*.parquet'").fetchall()}
    ann = {r[0]: r[1:] for r in con.execute(
        f"SELECT id, stage, reason, {', '.join(reason_columns)} FROM '{base}/annotate/decisions/*.parquet'").fetchall()}
    assert filt.keys() == ann.keys()
    n_checked = 0
    for doc_id, (stage, reason) in filt.items():
        a_stage, a_reason, *would = ann[doc_id]
        if stage in ("read", "extract"):  # no text to annotate: dropped in both modes
            assert (a_stage, a_reason) == (stage, reason)
            continue
        assert a_stage is None and a_reason is None  # annotate drops nothing
        first = next((r for r in would if r is not None), None)  # first filter that would drop, in order
        assert first == reason, doc_id
        n_checked += 1
    assert n_checked > 20
    annotated_docs = con.execute(f"SELECT count(*) FROM '{base}/annotate/documents/*.parquet'").fetchall()[0][0]
    assert annotated_docs == sum(1 for s, _ in filt.values() if s not in ("read", "extract"))


def test_a_finished_recipe_does_no_work_and_says_so(cc_run, lid_model):
    inputs, base = cc_run
    before = sorted(p.stat().st_mtime_ns for p in (base / "filter").rglob("*.parquet"))
    result = run_recipe([inputs], base / "filter", lid=lid_model)
    assert not result.did_work and "Nothing to do" in result.messages[0]
    assert sorted(p.stat().st_mtime_ns for p in (base / "filter").rglob("*.parquet")) == before


def test_changing_the_config_of_a_finished_output_is_refused(cc_run, lid_model):
    inputs, base = cc_run
    with pytest.raises(RecipeError, match="different configuration"):
        run_recipe([inputs], base / "filter", "stages.gopher_quality.min_doc_words=10", lid=lid_model)


def test_four_tasks_and_one_task_keep_the_same_ids(cc_run, lid_model, tmp_path):
    inputs, base = cc_run
    run_recipe([inputs], tmp_path / "t4", "executor.tasks=4", "executor.workers=2", lid=lid_model)
    assert len(list((tmp_path / "t4" / "logs" / "completions").iterdir())) == 4
    ids = {}
    for name, out in (("one", base / "filter"), ("four", tmp_path / "t4")):
        ids[name] = {r[0] for r in duckdb.sql(f"SELECT id FROM '{out}/documents/*.parquet'").fetchall()}
    assert ids["one"] == ids["four"] and len(ids["one"]) > 10


def test_a_killed_task_is_rerun_without_losing_or_duplicating(cc_run, lid_model, tmp_path):
    inputs, base = cc_run
    out = tmp_path / "resume"
    run_recipe([inputs], out, "executor.tasks=3", lid=lid_model)
    # simulate a run killed during task 1: no completion marker, a half-written output file
    (out / "logs" / "completions" / "00001").unlink()
    (out / "documents" / "00001.parquet").write_bytes(b"PAR1 truncated")
    result = run_recipe([inputs], out, "executor.tasks=3", lid=lid_model)
    assert result.did_work and result.tasks_run == 1
    all_ids = duckdb.sql(f"SELECT id FROM '{out}/decisions/*.parquet'").fetchall()
    assert len(all_ids) == len(set(all_ids))
    kept = {r[0] for r in duckdb.sql(f"SELECT id FROM '{out}/documents/*.parquet'").fetchall()}
    assert kept == {r[0] for r in duckdb.sql(f"SELECT id FROM '{base}/filter/documents/*.parquet'").fetchall()}


def test_parquet_row_groups_hold_whole_files_when_small(cc_run):
    import pyarrow.parquet as pq

    _, base = cc_run
    for path in (base / "filter" / "decisions").glob("*.parquet"):
        meta = pq.ParquetFile(path).metadata
        assert meta.num_row_groups <= 1


def test_jsonl_and_parquet_documents_run_too(shared, lid_model, tmp_path):
    src = shared / "warc" / "dolma" / "cc_en_head-0091.jsonl.gz"
    run_recipe([src], tmp_path / "j", lid=lid_model)
    n = duckdb.sql(f"SELECT count(*) FROM '{tmp_path}/j/decisions/*.parquet'").fetchall()[0][0]
    assert n == 10
    run_recipe([tmp_path / "j" / "documents"], tmp_path / "p", lid=lid_model)
    kept_j = duckdb.sql(f"SELECT count(*) FROM '{tmp_path}/j/documents/*.parquet'").fetchall()[0][0]
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path}/p/decisions/*.parquet'").fetchall()[0][0] == kept_j
