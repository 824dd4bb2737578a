"""`curate report OUT`: one self-contained `report.html` with every chart of a run.

The charts are inline SVG drawn in Python: the file loads nothing (no CDN, no script, no
font), so it opens offline, in a mail attachment, or years later. It shows the funnel, the
retention of each stage in documents, characters and (when the run counted them) tokens, drop
reasons, languages, domains, length histograms, every declared signal by stage with its rule's
direction, the recipe's threshold and a threshold sweep (`curate.tools.report_signals`), MinHash
cluster sizes (when a dedup stage ran), the decontamination report (`OUT/reports/
decontamination.parquet`) and, given an ablation run folder, its results (`results.parquet`),
summary with confidence intervals (`summary.parquet`) and loss curves (`curves.parquet`); each
part is skipped when its input is absent. The charts are `curate.tools.charts`', the kit the
ablation runner's own plots use too; ablation metrics get one chart each, on an axis zoomed to
the data, coloured by which way each metric improves.

Example:
    write_report("out/demo")                      # -> out/demo/report.html
    write_report("out/ann", ablation="out/ablate", path="ann.html")
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from curate.core.sql import files as sql_files
from curate.core.sql import literal
from curate.tools import stats, sweep
from curate.tools.charts import COLORS, bars, better, columns, dots, esc, grouped, intervals, lines, num, verdict
from curate.tools.report_signals import chart, signal_sections

NOT_METRICS = ("variant", "seed", "tokens", "train_seconds", "tokens_per_second")


def table_html(headers: list[str], rows: list[tuple], limit: int = 200) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(num(v))}</td>" for v in row) + "</tr>" for row in rows[:limit])
    more = f"<p class='note'>{len(rows) - limit:,} more rows not shown</p>" if len(rows) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _query(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> tuple[list[str], list[tuple]]:
    cursor = con.execute(sql, params or [])
    return [d[0] for d in cursor.description], cursor.fetchall()


def run_sections(out: Path, con: duckdb.DuckDBPyConnection) -> list[str]:
    parts = ["<h2>The run</h2>"]
    headers, funnel = stats.named(out, "funnel", con)
    parts.append(chart("funnel", "Documents into each stage", bars([r[0] for r in funnel], [r[1] for r in funnel])))
    parts.append(table_html(headers, funnel))
    reasons = con.execute(stats.reasons_sql(con, limit=1_000_000)).fetchall()
    if reasons:
        parts.append(chart("reasons", f"All {len(reasons)} drop reasons (dropped, and in annotate mode 'would drop')",
                           bars([f"{k}: {r}" for k, r, *_ in reasons], [r[2] for r in reasons])))
    _, rows = stats.named(out, "languages", con)
    series = {"kept": [r[2] for r in rows], "dropped": [r[1] - r[2] for r in rows]}
    parts.append(chart("languages", "Top languages: records kept and dropped", columns([r[0] for r in rows], series)))
    _, rows = stats.named(out, "domains", con)
    parts.append(chart("domains", "Top domains: records (kept %)",
                       bars([f"{r[0]} ({r[3]:.0f}% kept)" for r in rows], [r[1] for r in rows])))
    _, lengths = stats.named(out, "lengths", con)
    for unit in ("chars", "words"):
        rows = [r for r in lengths if r[0] == unit]
        if rows:
            labels = [num(r[1]) for r in rows]
            parts.append(chart(f"lengths-{unit}", f"Document length in {unit} (log2 bins)",
                               columns(labels, {"kept": [r[3] for r in rows], "dropped": [r[4] for r in rows]},
                                       f"{unit}, at least")))
    return parts


def retention_section(out: Path, con: duckdb.DuckDBPyConnection) -> list[str]:
    """What each filter keeps, in documents, characters and tokens (when the run counted them).

    A stage's population is the documents that reached it: in annotate mode every document with
    text (each stage judged alone), in filter mode those no earlier stage dropped.
    """
    cols = stats.columns(con)
    order = stats.stage_order(out)
    judged = [ns for ns in order if f"{ns}__reason" in cols]
    if not judged:
        return []
    tokens = sweep.token_column(con)
    measures = [("documents", "1"), ("characters", "coalesce(n_chars, 0)")]
    measures += [("tokens", f'coalesce("{tokens}", 0)')] if tokens else []
    rows, series = [], {name: [] for name, _ in measures}
    for ns in judged:
        later = ", ".join(f"'{s}'" for s in order[order.index(ns):])
        reached = f"(stage IS NULL OR stage IN ({later}))"
        aggs = [f"sum({e}) FILTER (WHERE {reached}), sum({e}) FILTER (WHERE {reached} AND \"{ns}__reason\" IS NULL)"
                for _, e in measures]
        values = con.execute(f"SELECT {', '.join(aggs)} FROM decisions").fetchone()
        row = [ns]
        for k, (name, _) in enumerate(measures):
            total, kept = values[2 * k] or 0, values[2 * k + 1] or 0
            pct = round(100 * kept / total, 2) if total else None
            row += [kept, pct]
            series[name].append(pct)
        rows.append(tuple(row))
    headers = ["stage"] + [h for name, _ in measures for h in (f"{name}_kept", f"pct_{name}")]
    note = ("Tokens counted by the run's n_tokens column." if tokens else
            "Tokens are not recorded in this run (no n_tokens column), so retention is shown in documents and "
            "characters only.")
    return ["<h2>Retention by stage</h2>",
            chart("retention", "Share each stage keeps of what reached it (annotate mode: each stage alone)",
                  grouped(judged, series), note),
            table_html(headers, rows)]


def dropped_examples(out: Path, con: duckdb.DuckDBPyConnection, per_reason: int = 2, chars: int = 400) -> list[str]:
    """A few dropped documents per reason from the run's dropped-text sample (OUT/dropped,
    `curate.io.samples`), each reason folded in a <details>; `curate inspect` shows more."""
    files = sorted((out / "dropped").glob("*.parquet"))
    if not files:
        return []
    rows = con.execute(f"SELECT reason, id, text, count(*) OVER (PARTITION BY reason) FROM read_parquet("
                       f"{sql_files(files)}) QUALIFY row_number() OVER (PARTITION BY reason ORDER BY id) <= ? "
                       "ORDER BY reason, id", [per_reason]).fetchall()
    parts, by_reason = [], {}
    for reason, doc_id, text, n in rows:
        by_reason.setdefault((reason, n), []).append((doc_id, text or ""))
    for (reason, n), docs in by_reason.items():
        # '=' as an entity too: raw HTML dropped at extraction must not even read as markup (`src=`)
        items = "".join(f"<p class='note'>{esc(doc_id)}</p><pre class='dropped'>"
                        f"{esc(text[:chars]).replace('=', '&#61;') or '(no text)'}"
                        f"{' ...' if len(text) > chars else ''}</pre>" for doc_id, text in docs)
        parts.append(f"<details class='dropped'><summary>{esc(reason)} ({len(docs)} of {n} sampled)</summary>"
                     f"{items}</details>")
    return ["<h2>Dropped documents, by reason</h2>",
            "<p class='note'>From the run's sample of dropped text (up to 20 per reason per task); "
            f"more with <code>curate inspect {esc(out)} --reason REASON</code>.</p>", *parts]


def dedup_sections(con: duckdb.DuckDBPyConnection) -> list[str]:
    parts = []
    for column in [c for c in stats.columns(con) if c.endswith("__cluster_size")]:
        stage = column.split("__")[0]
        id_column = f"{stage}__cluster_id"
        key = f'"{id_column}"' if id_column in stats.columns(con) else "id"
        rows = con.execute(f'SELECT "{column}", count(DISTINCT {key}) FROM decisions WHERE "{column}" > 1 '
                           f"GROUP BY 1 ORDER BY 1").fetchall()
        if rows:
            parts.append(chart(f"dedup-{stage}", f"{stage}: duplicate clusters by size",
                               columns([str(r[0]) for r in rows], {"clusters": [r[1] for r in rows]}, "cluster size")))
    return (["<h2>Deduplication</h2>"] + parts) if parts else []


def decontamination_section(con: duckdb.DuckDBPyConnection) -> list[str]:
    if "decontamination" not in {v for (v,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}:
        return []
    headers, rows = _query(con, "SELECT * FROM decontamination")
    return ["<h2>Decontamination</h2>", table_html(headers, rows)]


def _baseline(summary: list[dict]) -> str | None:
    """The variant every delta of which is exactly 0 with a zero-width interval: the baseline."""
    variants = {r["variant"] for r in summary}
    for variant in sorted(variants):
        rows = [r for r in summary if r["variant"] == variant]
        if all(r["delta"] == 0 and r["ci_low"] == 0 and r["ci_high"] == 0 for r in rows):
            return variant
    return None


def _verdict_color(row: dict | None, metric: str, baseline: str | None) -> str:
    """Blue for the baseline (or without a summary), else the difference's `verdict` colour."""
    if row is None or row["variant"] == baseline:
        return COLORS[0]
    return verdict(row["ci_low"], row["ci_high"], better(metric))


def metric_charts(con: duckdb.DuckDBPyConnection, results: Path, metric: str, summary: list[dict]) -> list[str]:
    """One metric: its value per variant on a zoomed axis, and its difference from the baseline."""
    rows = [r for r in summary if r["metric"] == metric]
    baseline = _baseline(summary)
    way = better(metric)
    if rows and rows[0].get("value") is not None:
        items = [(r["variant"], r["value"], r["value_ci_low"], r["value_ci_high"]) for r in rows]
        spread = "mean over seeds, 95% CI"
    else:
        items = con.execute(f'SELECT variant, avg("{metric}"), min("{metric}"), max("{metric}") FROM {literal(results)} '
                            "GROUP BY 1 ORDER BY 1").fetchall()
        spread = "mean over seeds, whiskers: range over seeds"
    by_variant = {r["variant"]: r for r in rows}
    base_value = next((v for name, v, *_ in items if name == baseline), None)
    parts = [chart(f"ablation-{metric}", f"{metric} by variant ({spread}; {way} is better)",
                   dots([i[0] for i in items], [i[1] for i in items], [i[2] for i in items], [i[3] for i in items],
                        f"{metric} ({way} is better)", [_verdict_color(by_variant.get(i[0]), metric, baseline)
                                                         for i in items], base_value),
                   "Green: better than the baseline, red: worse, grey: not separable (95% CI); blue: the baseline.")]
    deltas = [r for r in rows if r["variant"] != baseline]
    if deltas:
        parts.append(chart(f"ablation-delta-{metric}",
                           f"{metric}: difference from {baseline or 'the baseline'} (95% CI; {way} is better)",
                           intervals([r["variant"] for r in deltas], [r["delta"] for r in deltas],
                                     [r["ci_low"] for r in deltas], [r["ci_high"] for r in deltas], better=way,
                                     xlabel=f"delta {metric}")))
    return parts


def ablation_sections(folder: Path) -> list[str]:
    parts = []
    con = duckdb.connect()
    results, summary_file, curves = (folder / "results.parquet", folder / "summary.parquet", folder / "curves.parquet")
    summary = []
    if summary_file.is_file():
        h, rows = _query(con, f"SELECT * FROM {literal(summary_file)} ORDER BY metric, variant")
        summary = [dict(zip(h, r)) for r in rows]
    if results.is_file():
        kinds = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {literal(results)})").fetchall()
        metrics = [c for c, kind in kinds if c not in NOT_METRICS and kind in stats.NUMERIC]
        means = ", ".join(f'avg("{m}") AS "{m}"' for m in metrics)
        h, rows = _query(con, f"SELECT variant, count(*) AS seeds, {means} FROM {literal(results)} GROUP BY 1 ORDER BY 1")
        parts.append("<h3>Results (mean over seeds)</h3>" + table_html(h, rows))
        parts.append("<h3>Each metric on its own axis</h3>")
        for metric in metrics:
            parts += metric_charts(con, results, metric, summary)
    if summary:
        parts.append("<h3>Difference from the baseline, with confidence intervals</h3>" + table_html(
            ["variant", "metric", "delta", "ci_low", "ci_high"],
            [(r["variant"], r["metric"], r["delta"], r["ci_low"], r["ci_high"]) for r in summary]))
    if curves.is_file():
        series: dict[str, list] = {}
        for variant, seed, tokens, loss in con.execute(
                f"SELECT variant, seed, tokens, loss FROM {literal(curves)} ORDER BY variant, seed, step").fetchall():
            series.setdefault(f"{variant} (seed {seed})", []).append((tokens, loss))
        if series:
            parts.append(chart("ablation-curves", "Training loss (axis zoomed to the data)",
                               lines(series, "tokens", "training loss (nats/token)", height=300)))
    return (["<h2>Ablation</h2>"] + parts) if parts else []


STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1360px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
figure.chart{display:inline-block;vertical-align:top;margin:8px 12px 16px 0}
figcaption{font-weight:600;margin-bottom:4px}svg text{font-size:11px;fill:#333}svg text.small{font-size:10px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}p.note{color:#666;font-size:12px;max-width:640px}
details.stage{margin:10px 0;border:1px solid #ddd;border-radius:4px;padding:4px 10px}
details.stage>summary{font-weight:600;font-size:15px;cursor:pointer;padding:4px 0}
div.signal{display:inline-block;vertical-align:top;border-top:1px solid #eee;margin-right:8px}
details.dropped{margin:6px 0}details.dropped>summary{cursor:pointer}
pre.dropped{white-space:pre-wrap;max-width:900px;background:#f8f8f8;padding:6px;font-size:12px}"""


def render(out: str | Path, ablation: str | Path | None = None) -> str:
    out = Path(out)
    con = stats.connect(out)
    (records,) = con.execute("SELECT count(*) FROM decisions").fetchone()
    (kept,) = con.execute("SELECT count(*) FROM documents").fetchone()
    body = [f"<h1>curate report: {esc(out.resolve().name)}</h1>",
            f"<p>{records:,} records in, {kept:,} kept. Source: <code>{esc(out.resolve())}</code></p>"]
    body += run_sections(out, con) + dropped_examples(out, con) + retention_section(out, con) + signal_sections(out, con)
    body += dedup_sections(con) + decontamination_section(con)
    if ablation is not None:
        body += ablation_sections(Path(ablation))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>curate report: {esc(out.name)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")


def write_report(out: str | Path, ablation: str | Path | None = None, path: str | Path | None = None) -> Path:
    """Render OUT's report and write it to `path` (default OUT/report.html)."""
    path = Path(path) if path else Path(out) / "report.html"
    path.write_text(render(out, ablation), encoding="utf-8")
    return path
