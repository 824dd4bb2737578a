"""`curate report OUT`: one self-contained `report.html` with every chart of a run.

The charts are inline SVG drawn here, in Python: the file loads nothing (no CDN, no script, no
font), so it opens offline, in a mail attachment, or years later. It shows the funnel, drop
reasons, languages, domains, length and signal histograms, threshold-sweep curves, MinHash
cluster sizes (when a dedup stage ran), the decontamination report (`OUT/reports/
decontamination.parquet`) and, given an ablation run folder, its results (`results.parquet`),
summary with confidence intervals (`summary.parquet`) and loss curves (`curves.parquet`); each
part is skipped when its input is absent.

Example:
    write_report("out/demo")                      # -> out/demo/report.html
    write_report("out/ann", ablation="out/ablate", path="ann.html")
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import duckdb

from curate.tools import stats, sweep

COLORS = ["#3b6ea5", "#e07b39", "#4a9a5b", "#b8474a", "#7a5ea8", "#8c6d3f", "#c65fa0", "#6f6f6f"]
WIDTH = 640
MAX_SIGNALS = 24


def _esc(value) -> str:
    return html.escape(str(value))


def _num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def bars(labels: list, values: list[float], unit: str = "") -> str:
    """Horizontal bars, one per label, with the value written after each bar."""
    row, left, right = 22, 290, 90
    top = max((v for v in values if v is not None), default=0) or 1
    height = row * len(labels) + 10
    parts = [f'<svg width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img">']
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 5 + i * row
        w = max(1.0, (WIDTH - left - right) * (value or 0) / top)
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{_esc(str(label)[:44])}</text>'
                     f'<rect class="bar" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{COLORS[0]}">'
                     f'<title>{_esc(label)}: {_num(value)}{unit}</title></rect>'
                     f'<text x="{left + w + 4:.1f}" y="{y + 15}">{_num(value)}{unit}</text>')
    return "".join(parts) + "</svg>"


def columns(labels: list, series: dict[str, list[float]], xlabel: str = "") -> str:
    """Vertical stacked bars (a histogram when labels are bins), with a legend."""
    height, bottom, top_pad, left = 240, 46, 24, 50
    totals = [sum(s[i] or 0 for s in series.values()) for i in range(len(labels))]
    top = max(totals, default=0) or 1
    slot = (WIDTH - left - 10) / max(1, len(labels))
    parts = [f'<svg width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{WIDTH - 10}" y2="{height - bottom}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end">{_num(top)}</text>']
    for i, label in enumerate(labels):
        base = height - bottom
        for k, (name, values) in enumerate(series.items()):
            h = (height - bottom - top_pad) * (values[i] or 0) / top
            if h > 0:
                parts.append(f'<rect class="bar" x="{left + i * slot + 1:.1f}" y="{base - h:.1f}" '
                             f'width="{max(1.0, slot - 2):.1f}" height="{h:.1f}" fill="{COLORS[k % len(COLORS)]}">'
                             f'<title>{_esc(label)} {_esc(name)}: {_num(values[i])}</title></rect>')
            base -= h
        if len(labels) <= 12 or i % math.ceil(len(labels) / 12) == 0:
            parts.append(f'<text x="{left + (i + 0.5) * slot:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                         f'class="small">{_esc(label)}</text>')
    parts.append(f'<text x="{WIDTH / 2}" y="{height - 8}" text-anchor="middle" class="small">{_esc(xlabel)}</text>')
    parts += _legend(list(series), WIDTH - 160, 8) if len(series) > 1 else []
    return "".join(parts) + "</svg>"


def lines(series: dict[str, list[tuple[float, float]]], xlabel: str, ylabel: str, height: int = 240,
          y_range: tuple[float, float] | None = None) -> str:
    """One path per series over shared linear axes (y from the data, or `y_range`)."""
    left, bottom, top_pad, right = 60, 40, 14, 170 if len(series) > 1 else 16
    points = [p for s in series.values() for p in s if p[1] is not None]
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    y0, y1 = y_range or (y0, y1)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def sx(x):
        return left + (WIDTH - left - right) * (x - x0) / (x1 - x0)

    def sy(y):
        return height - bottom - (height - bottom - top_pad) * (y - y0) / (y1 - y0)

    parts = [f'<svg width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img">',
             f'<path d="M{left},{top_pad}V{height - bottom}H{WIDTH - right}" fill="none" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top_pad + 8}" text-anchor="end" class="small">{_num(y1)}</text>',
             f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end" class="small">{_num(y0)}</text>',
             f'<text x="{left}" y="{height - bottom + 14}" class="small">{_num(x0)}</text>',
             f'<text x="{WIDTH - right}" y="{height - bottom + 14}" text-anchor="end" class="small">{_num(x1)}</text>',
             f'<text x="{(left + WIDTH - right) / 2}" y="{height - 6}" text-anchor="middle" class="small">{_esc(xlabel)}</text>',
             f'<text x="12" y="{(height - bottom) / 2}" transform="rotate(-90 12 {(height - bottom) / 2})" '
             f'text-anchor="middle" class="small">{_esc(ylabel)}</text>']
    for k, (name, pts) in enumerate(series.items()):
        pts = [p for p in pts if p[1] is not None]
        d = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(pts))
        color = COLORS[k % len(COLORS)]
        parts.append(f'<path class="line" d="{d}" fill="none" stroke="{color}" stroke-width="2"><title>{_esc(name)}</title></path>')
        parts += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}"/>' for x, y in pts]
    parts += _legend(list(series), WIDTH - right + 8, top_pad) if len(series) > 1 else []
    return "".join(parts) + "</svg>"


def intervals(labels: list[str], deltas: list[float], lows: list[float], highs: list[float]) -> str:
    """Bars of a difference from the baseline with confidence-interval whiskers, around a zero line."""
    row, left, right = 24, 260, 20
    lo, hi = min(min(lows), 0), max(max(highs), 0)
    hi = hi if hi > lo else lo + 1
    height = row * len(labels) + 20

    def sx(v):
        return left + (WIDTH - left - right) * (v - lo) / (hi - lo)

    parts = [f'<svg width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img">',
             f'<line x1="{sx(0):.1f}" y1="0" x2="{sx(0):.1f}" y2="{height}" stroke="#999"/>']
    for i, (label, d, a, b) in enumerate(zip(labels, deltas, lows, highs)):
        y = 6 + i * row
        x, w = min(sx(0), sx(d)), max(1.0, abs(sx(d) - sx(0)))
        color = COLORS[2] if a > 0 else COLORS[3] if b < 0 else COLORS[7]
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{_esc(label[:40])}</text>'
                     f'<rect class="bar" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" fill="{color}">'
                     f'<title>{_esc(label)}: {d:+.4g} [{a:+.4g}, {b:+.4g}]</title></rect>'
                     f'<path class="line" d="M{sx(a):.1f},{y + 9}H{sx(b):.1f}" stroke="#222" stroke-width="1.5"/>')
    return "".join(parts) + "</svg>"


def _legend(names: list[str], x: float, y: float) -> list[str]:
    return [f'<rect x="{x}" y="{y + i * 16}" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
            f'<text x="{x + 14}" y="{y + i * 16 + 9}" class="small">{_esc(str(n)[:22])}</text>'
            for i, n in enumerate(names)]


def chart(key: str, title: str, svg: str, note: str = "") -> str:
    note = f"<p class='note'>{_esc(note)}</p>" if note else ""
    return f'<figure class="chart" id="chart-{_esc(key)}"><figcaption>{_esc(title)}</figcaption>{svg}{note}</figure>'


def table_html(headers: list[str], rows: list[tuple], limit: int = 200) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_esc(_num(v))}</td>" for v in row) + "</tr>" for row in rows[:limit])
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
    _, reasons = stats.named(out, "reasons", con)
    if reasons:
        parts.append(chart("reasons", "Drop reasons (dropped, and in annotate mode 'would drop')",
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
            labels = [_num(r[1]) for r in rows]
            parts.append(chart(f"lengths-{unit}", f"Document length in {unit} (log2 bins)",
                               columns(labels, {"kept": [r[3] for r in rows], "dropped": [r[4] for r in rows]},
                                       f"{unit}, at least")))
    return parts


def signal_sections(out: Path, con: duckdb.DuckDBPyConnection) -> list[str]:
    """A histogram of each filter signal over the kept documents, and its retention curve."""
    cols = stats.columns(con)
    signals = [c for c in stats.signal_columns(con) if not c.startswith(("read__", "extract__"))][:MAX_SIGNALS]
    histograms, curves = [], {}
    for column in signals:
        low, high, n = con.execute(f'SELECT min("{column}")::DOUBLE, max("{column}")::DOUBLE, count("{column}") '
                                   f"FROM decisions WHERE stage IS NULL").fetchone()
        if not n:
            continue
        width = (high - low) / 20 or 1
        counts = dict(con.execute(f'SELECT least(floor(("{column}" - {low!r}) / {width!r}), 19)::INT, count(*) '
                                  f'FROM decisions WHERE stage IS NULL AND "{column}" IS NOT NULL GROUP BY 1').fetchall())
        labels = [f"{low + i * width:.3g}" for i in range(20)]
        histograms.append(chart(f"signal-{column}", column, columns(labels, {"documents": [counts.get(i, 0) for i in range(20)]})))
        if column.split("__")[0] + "__reason" in cols and high > low:
            s = sweep.sweep(out, column, con=con)
            curves[column] = (s.keep, [(r[0], r[2]) for r in s.rows])
    parts = []
    if curves:
        parts.append("<h2>Threshold sweeps</h2><p>Share of documents kept if the threshold were set at x "
                     "(keep direction inferred from the stage's decisions; `curate sweep` for the figures).</p>")
        for column, (keep, points) in curves.items():
            parts.append(chart(f"sweep-{column}", f"{column} (keep {keep} x)", lines({column: points}, column, "% documents kept", y_range=(0, 100))))
    if histograms:
        parts.append("<h2>Signal histograms (kept documents)</h2>")
        parts += histograms
    return parts


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


def ablation_sections(folder: Path) -> list[str]:
    parts = []
    con = duckdb.connect()
    results, summary, curves = (folder / "results.parquet", folder / "summary.parquet", folder / "curves.parquet")
    if results.is_file():
        kinds = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{results}')").fetchall()
        metrics = [c for c, kind in kinds if c not in ("variant", "seed", "tokens") and kind in stats.NUMERIC]
        means = ", ".join(f'avg("{m}") AS "{m}"' for m in metrics)
        h, rows = _query(con, f"SELECT variant, count(*) AS seeds, {means} FROM '{results}' GROUP BY 1 ORDER BY 1")
        parts.append("<h3>Results (mean over seeds)</h3>" + table_html(h, rows))
        if metrics:
            parts.append(chart(f"ablation-{metrics[0]}", f"{metrics[0]} by variant (mean over seeds)",
                               bars([r[0] for r in rows], [r[2] for r in rows])))
    if summary.is_file():
        rows = con.execute(f"SELECT variant, metric, delta, ci_low, ci_high FROM '{summary}' ORDER BY metric, variant").fetchall()
        if rows:
            parts.append("<h3>Difference from the baseline, with confidence intervals</h3>" + table_html(
                ["variant", "metric", "delta", "ci_low", "ci_high"], rows))
            parts.append(chart("ablation-summary", "delta with confidence interval",
                               intervals([f"{v} / {m}" for v, m, *_ in rows], [r[2] for r in rows],
                                         [r[3] for r in rows], [r[4] for r in rows])))
    if curves.is_file():
        series: dict[str, list] = {}
        for variant, seed, tokens, loss in con.execute(
                f"SELECT variant, seed, tokens, loss FROM '{curves}' ORDER BY variant, seed, step").fetchall():
            series.setdefault(f"{variant} (seed {seed})", []).append((tokens, loss))
        if series:
            parts.append(chart("ablation-curves", "Training loss", lines(series, "tokens", "loss", height=300)))
    return (["<h2>Ablation</h2>"] + parts) if parts else []


STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1360px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
figure.chart{display:inline-block;vertical-align:top;margin:8px 12px 16px 0}
figcaption{font-weight:600;margin-bottom:4px}svg text{font-size:11px;fill:#333}svg text.small{font-size:10px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}p.note{color:#666;font-size:12px}"""


def render(out: str | Path, ablation: str | Path | None = None) -> str:
    out = Path(out)
    con = stats.connect(out)
    (records,) = con.execute("SELECT count(*) FROM decisions").fetchone()
    (kept,) = con.execute("SELECT count(*) FROM documents").fetchone()
    body = [f"<h1>curate report: {_esc(out.resolve().name)}</h1>",
            f"<p>{records:,} records in, {kept:,} kept. Source: <code>{_esc(out.resolve())}</code></p>"]
    body += run_sections(out, con) + signal_sections(out, con) + dedup_sections(con) + decontamination_section(con)
    if ablation is not None:
        body += ablation_sections(Path(ablation))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>curate report: {_esc(out.name)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")


def write_report(out: str | Path, ablation: str | Path | None = None, path: str | Path | None = None) -> Path:
    """Render OUT's report and write it to `path` (default OUT/report.html)."""
    path = Path(path) if path else Path(out) / "report.html"
    path.write_text(render(out, ablation), encoding="utf-8")
    return path
