"""curate stats / sweep / report on a real annotate-mode run of the sample crawl, and the analysis on inline text."""

import json
import shutil

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from curate.cli import main
from curate.core.config import load_recipe
from curate.io.writers import ROW_GROUP, DecisionWriter
from curate.pipelines import runner
from curate.tools import analysis, stats, sweep


@pytest.fixture(scope="module")
def annotated(tmp_path_factory, sample_crawl, lid_model, shared):
    """Extraction, language, Gopher, C4 bad words, FineWeb and MinHash over the sample crawl, annotate mode."""
    out = tmp_path_factory.mktemp("stats") / "ann"
    recipe = {"name": "stats", "mode": "annotate", "input": [str(sample_crawl)], "output": str(out),
              "stages": [{"trafilatura_extract": {}}, {"fasttext_lang": {"model": lid_model, "languages": ["en"]}},
                         {"gopher_quality": {}},
                         {"c4_badwords": {"folder": str(shared / "blocklists" / "ldnoobw"),
                                          "fail_on_missing_language": False}},
                         {"fineweb_quality": {}}, {"minhash": {"min_similarity": 0.5}}]}
    runner.run(load_recipe(text=yaml.safe_dump(recipe)), progress=False)
    return out


def direct(out, where: str) -> tuple[int, int]:
    """Documents and characters of kept rows matching `where`, straight from the Parquet files."""
    return duckdb.sql(f"SELECT count(*), coalesce(sum(n_chars), 0) FROM '{out}/decisions/*.parquet' "
                      f"WHERE stage IS NULL AND ({where})").fetchall()[0]


def test_every_named_query_answers_and_the_funnel_adds_up(annotated):
    con = stats.connect(annotated)
    for name in stats.QUERIES:
        headers, rows = stats.named(annotated, name, con)
        assert rows, name
    _, funnel = stats.named(annotated, "funnel", con)
    assert [r[0] for r in funnel][:2] == ["read", "extract"] and "minhash" in [r[0] for r in funnel]
    kept, chars = duckdb.sql(f"SELECT count(*), sum(n_chars) FROM '{annotated}/documents/*.parquet'").fetchall()[0]
    assert funnel[-1][3] == kept and funnel[-1][6] == chars
    assert funnel[0][1] == duckdb.sql(f"SELECT count(*) FROM '{annotated}/decisions/*.parquet'").fetchall()[0][0]
    _, reasons = stats.named(annotated, "reasons", con)
    assert {"dropped", "would drop"} <= {r[0] for r in reasons}  # annotate mode: would-drop reasons too
    with pytest.raises(ValueError, match="named queries"):
        stats.named(annotated, "nope", con)


def test_the_run_summary_funnel_counts_what_the_decision_table_holds(annotated):
    f = stats.funnel(annotated)
    decisions = f"'{annotated}/decisions/*.parquet'"
    assert (f.records, f.kept) == duckdb.sql(f"SELECT count(*), count(*) FILTER (WHERE stage IS NULL) "
                                             f"FROM {decisions}").fetchall()[0]
    dropped = dict(duckdb.sql(f"SELECT stage, count(*) FROM {decisions} WHERE stage IS NOT NULL GROUP BY 1").fetchall())
    assert {stage: n for stage, _, n, _ in f.rows if n} == dropped
    assert all(docs_in - n == docs_out for _, docs_in, n, docs_out in f.rows)
    assert all(a[3] == b[1] for a, b in zip(f.rows, f.rows[1:]))  # each stage gets what the one before kept
    assert f.reasons == sorted(f.reasons, key=lambda r: (-r[1], r[0])) and f.would_drop


def test_stats_cli_named_queries_formats_and_report_views(annotated):
    run = CliRunner()
    result = run.invoke(main, ["stats", str(annotated)])
    assert result.exit_code == 0
    for title in ("# funnel", "# reasons", "# languages", "# domains", "# lengths", "chars_out"):
        assert title in result.output
    rows = json.loads(run.invoke(main, ["stats", str(annotated), "--query", "languages", "--format", "json"]).output)
    assert rows[0]["language"] == "en" and rows[0]["kept"] > 0
    csv_out = run.invoke(main, ["stats", str(annotated), "--query", "signals", "--format", "csv"]).output
    assert csv_out.startswith("signal,records,min,mean,p50,p90,max") and "minhash__cluster_size" in csv_out
    (annotated / "reports").mkdir(exist_ok=True)
    pq.write_table(pa.table({"benchmark": ["gsm8k", "mmlu"], "contaminated": [2, 0]}),
                   annotated / "reports" / "decontamination.parquet")
    result = run.invoke(main, ["stats", str(annotated), "SELECT sum(contaminated) AS n FROM decontamination",
                               "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.output) == [{"n": 2}]


@pytest.mark.parametrize("signal, keep, thresholds", [
    ("fineweb_quality__line_punct_ratio", ">=", [0.2, 0.5, 0.8]),
    ("gopher_quality__mean_word_length", "<=", [4.0, 4.5, 5.0]),
])
def test_sweep_equals_a_direct_duckdb_count_at_three_thresholds(annotated, signal, keep, thresholds):
    result = sweep.sweep(annotated, signal, thresholds, keep)
    total = direct(annotated, "true")
    assert result.total == total
    figures = []
    for threshold, docs, pct, chars, pct_chars in result.rows:
        expected = direct(annotated, f"{signal} IS NULL OR {signal} {keep} {threshold}")
        assert (docs, chars) == expected, threshold
        assert pct == round(100 * docs / total[0], 2) and pct_chars == round(100 * chars / total[1], 2)
        figures.append(docs)
    assert len(set(figures)) == 3, f"thresholds that do not discriminate: {figures}"


def test_joint_sweep_equals_a_direct_count_and_short_names_resolve(annotated):
    headers, rows, total = sweep.joint(annotated, ["line_punct_ratio>=0.5", "mean_word_length<=4.5"])
    both = direct(annotated, "(fineweb_quality__line_punct_ratio IS NULL OR fineweb_quality__line_punct_ratio >= 0.5) "
                             "AND (gopher_quality__mean_word_length IS NULL OR gopher_quality__mean_word_length <= 4.5)")
    assert rows[-1][0] == "together" and (rows[-1][2], rows[-1][4]) == both
    assert rows[0][2] >= rows[-1][2] and rows[1][2] >= rows[-1][2]
    with pytest.raises(ValueError, match="no numeric signal column"):
        sweep.sweep(annotated, "no_such_signal")
    with pytest.raises(ValueError, match="bad condition"):
        sweep.joint(annotated, ["line_punct_ratio=0.5"])
    result = CliRunner().invoke(main, ["sweep", str(annotated), "line_punct_ratio"])
    assert result.exit_code == 0 and "fineweb_quality__line_punct_ratio: keep >=" in result.output


def write_documents(out, texts: list[str], extra: dict | None = None) -> None:
    rows = {"id": [str(i) for i in range(len(texts))], "text": texts, "language": ["en"] * len(texts),
            "n_chars": [len(t) for t in texts], "stage": [None] * len(texts), **(extra or {})}
    for view in ("documents", "decisions"):
        (out / view).mkdir(parents=True)
        pq.write_table(pa.table(rows), out / view / "00000.parquet")


def test_analysis_counts_pronouns_identity_terms_and_toxicity_on_known_text(tmp_path):
    texts = ["He said his dog likes him. She smiled.",
             "They told them: we are Catholic and Jewish, not atheist. Our American friend agreed.",
             "A Native American and an African-American author; he is straight.",
             "Nothing here but damn words, shit."]
    write_documents(tmp_path, texts, {"tox__toxicity": [0.1, 0.2, 0.55, 0.95], "nsfw_words__matches": [0, None, 1, 4]})
    (tmp_path / "bad").write_text("damn\nshit\n")
    tables = analysis.analyze(tmp_path, badwords=tmp_path / "bad", threshold=0.5)
    pronouns = {r[0]: r[1:] for r in tables["pronouns"][1]}
    assert pronouns["he"][:3] == (2, 50.0, 4)  # he, his, him (doc 1) + he (doc 3)
    assert pronouns["she"][:3] == (1, 25.0, 1)
    assert pronouns["they (unspecified)"][:3] == (1, 25.0, 2)
    assert pronouns["he"][3] == round(100 * 4 / 7, 2)  # share of he/she/they mentions
    assert pronouns["any of he/she"][0] == 2
    identity = {(r[0], r[1]): r[2:] for r in tables["identity"][1]}
    assert identity[("religion", "(any term)")][:2] == (1, 25.0)
    assert identity[("religion", "catholic")][0] == 1
    assert identity[("race and ethnicity", "native american")][0] == 1
    assert identity[("race and ethnicity", "african-american")][0] == 1
    assert ("race and ethnicity", "african") not in identity  # a compound is its own term
    assert identity[("nationality", "(any term)")][0] == 2  # whole words: also the "American" of "Native American"
    toxicity = {(r[0], r[1]): r[2:] for r in tables["toxicity"][1]}
    assert toxicity[("tox__toxicity", ">= 0.5")] == (2, 50.0)
    assert toxicity[("badword matches (en)", "2")] == (1, 25.0)
    assert toxicity[("badword matches (en)", ">= 1")] == (1, 25.0)
    assert toxicity[("nsfw_words__matches", "0")] == (2, 50.0) and toxicity[("nsfw_words__matches", "3-5")] == (1, 25.0)
    assert toxicity[("nsfw_words__matches", ">= 1")] == (2, 50.0)
    assert tables["languages"][1] == [("en", 4, 100.0, sum(map(len, texts)), 100.0)]


def test_analysis_cli_on_the_real_run(annotated, shared):
    result = CliRunner().invoke(main, ["stats", str(annotated), "--analysis",
                                       "--badwords", str(shared / "blocklists" / "ldnoobw"), "--format", "json"])
    assert result.exit_code == 0, result.output
    tables = json.loads(result.output)
    assert set(tables) == {"pronouns", "identity", "toxicity", "languages"}
    assert any(r["source"] == "c4_badwords__badword" for r in tables["toxicity"])
    assert sum(r["documents"] for r in tables["languages"]) == duckdb.sql(
        f"SELECT count(*) FROM '{annotated}/documents/*.parquet'").fetchall()[0][0]


def test_parquet_is_written_in_100k_row_groups_with_column_statistics(annotated, tmp_path):
    assert ROW_GROUP >= 100_000 and DecisionWriter("x", {}).row_group_size == ROW_GROUP
    for path in list((annotated / "decisions").glob("*.parquet")) + list((annotated / "documents").glob("*.parquet")):
        meta = pq.ParquetFile(path).metadata
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        stats_ = meta.row_group(0).column(names.index("n_chars")).statistics
        assert stats_ is not None and stats_.has_min_max and stats_.min >= 0, path
    # a writer with small groups proves the setting reaches the file: 2,500 rows in groups of 1,000
    from datatrove.data import Document

    writer = DecisionWriter(str(tmp_path), {"x__score": "float64"}, row_group_size=1000)
    docs = [Document(text="a b" * (i % 7 + 1), id=str(i), metadata={"x__score": i / 10}) for i in range(2500)]
    list(writer.run(iter(docs)))
    meta = pq.ParquetFile(tmp_path / "decisions" / "00000.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1000, 1000, 500]
    score = meta.schema.names.index("x__score")
    assert meta.row_group(2).column(score).statistics.min == 200.0


def chromium():
    """Selenium driving the system Chromium and chromedriver (Debian's `chromium`, `chromium-driver`)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install selenium)")
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("no Chromium/chromedriver on PATH (apt-get install chromium chromium-driver; .ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))


def ablation_folder(path):
    """The files the ablation runner writes (results, summary, curves), with its column names."""
    path.mkdir()
    pq.write_table(pa.table({"variant": ["base", "base", "strict", "strict"], "seed": [0, 1, 0, 1],
                             "tokens": [10_000] * 4, "val_loss": [3.2, 3.25, 3.1, 3.12], "hellaswag": [0.3, 0.31, 0.33, 0.32]}),
                   path / "results.parquet")
    pq.write_table(pa.table({"variant": ["strict", "strict"], "metric": ["val_loss", "hellaswag"],
                             "delta": [-0.11, 0.02], "ci_low": [-0.16, -0.01], "ci_high": [-0.06, 0.05]}),
                   path / "summary.parquet")
    steps = [(v, s, k) for v in ("base", "strict") for s in (0, 1) for k in range(5)]
    pq.write_table(pa.table({"variant": [v for v, _, _ in steps], "seed": [s for _, s, _ in steps],
                             "step": [k for *_, k in steps], "tokens": [2000 * k for *_, k in steps],
                             "loss": [5.0 - 0.4 * k - 0.1 * (v == "strict") for v, _, k in steps]}),
                   path / "curves.parquet")
    return path


def test_report_renders_every_chart_and_every_declared_signal_in_headless_chromium(annotated, tmp_path):
    (annotated / "reports").mkdir(exist_ok=True)
    pq.write_table(pa.table({"benchmark": ["gsm8k", "mmlu"], "contaminated": [2, 0]}),
                   annotated / "reports" / "decontamination.parquet")
    path = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(annotated), "--ablation", str(ablation_folder(tmp_path / "abl")),
                                       "--output", str(path)])
    assert result.exit_code == 0, result.output
    page = path.read_text()
    assert "<script" not in page and "src=" not in page and "href=" not in page  # loads nothing
    assert "<h2>Decontamination</h2>" in page and "gsm8k" in page
    assert "Tokens are not recorded in this run" in page  # no n_tokens column: said, not estimated
    con = stats.connect(annotated)
    present = stats.columns(con)
    declared = [c for c in sweep.declarations(annotated) if c in present and not c.endswith("__reason")]
    with_values = {c for c in declared if con.execute(f'SELECT count("{c}") FROM decisions').fetchone()[0]}
    browser = chromium()
    try:
        browser.get(path.as_uri())
        browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        charts = browser.execute_script("""return [...document.querySelectorAll('figure.chart')].map(f => {
            const svg = f.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
            const marks = svg ? [...svg.querySelectorAll('rect.bar, path.line, circle.dot')] : [];
            const drawn = marks.filter(m => { const b = m.getBoundingClientRect(); return b.width > 0 || b.height > 0; });
            const cut = svg ? [...svg.querySelectorAll('text')].filter(t => { const b = t.getBoundingClientRect();
                return b.left < box.left - 1 || b.right > box.right + 1 || b.top < box.top - 1 || b.bottom > box.bottom + 1;
                }).map(t => t.textContent) : [];
            return [f.id, box.width, box.height, marks.length, drawn.length, cut]; });""")
        signals = browser.execute_script("""return Object.fromEntries([...document.querySelectorAll('div.signal')].map(
            d => [d.id, [d.getBoundingClientRect().height, d.querySelectorAll('figure.chart').length,
                         d.closest('details') ? d.closest('details').id : null]]));""")
        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1400, min(height + 100, 16000))
        browser.save_screenshot(str(tmp_path / "report.png"))
    finally:
        browser.quit()
    ids = {c[0] for c in charts}
    expected = {"chart-funnel", "chart-retention", "chart-reasons", "chart-languages", "chart-domains",
                "chart-lengths-chars", "chart-lengths-words", "chart-dedup-minhash", "chart-ablation-val_loss",
                "chart-ablation-hellaswag", "chart-ablation-delta-val_loss", "chart-ablation-curves",
                "chart-sweep-fineweb_quality__line_punct_ratio", "chart-sweep-gopher_quality__mean_word_length",
                "chart-signal-gopher_quality__mean_word_length", "chart-sweep-language_score"}
    assert expected <= ids, expected - ids
    for chart_id, width, height, marks, drawn, cut in charts:
        assert width > 0 and height > 0 and marks > 0 and drawn == marks, (chart_id, width, height, marks, drawn)
        assert cut == [], f"{chart_id}: labels cut off: {cut}"
    # every declared signal of the run, none left out: a figure each, grouped in its stage's <details>
    assert len(declared) > 24 and set(signals) == {f"signal-{c}" for c in declared}
    for column in declared:
        box_height, figures, group = signals[f"signal-{column}"]
        assert box_height > 0 and group and group.startswith("stage-"), column
        assert figures >= (1 if column in with_values else 0), column
    assert {f"chart-signal-{c}" for c in with_values} <= ids
    assert (tmp_path / "report.png").stat().st_size > 10_000
