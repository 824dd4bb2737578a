"""The report's signal section: every declared signal of a run, by stage, with its rule.

Each stage the run declares signals for (readers, extraction, every stage of the recipe) is one
collapsible `<details>` group, in pipeline order; each signal present in the decision table gets
a figure (`div.signal#signal-<column>`):

* a numeric signal: a histogram of its values, stacked by the stage's own decision (kept, dropped
  by this signal's rule, dropped by another rule of the stage), with a dashed mark at the recipe's
  threshold and the dropped side shaded. The direction and the threshold are the declaration's
  (`curate.core.step.Signal`, read through `curate.tools.sweep.declarations`), never guessed;
* a signal with a rule also gets its threshold sweep: the share of documents, characters and, when
  the run counted them, tokens kept at each threshold, marked at the recipe's, and the figures at
  the recipe's threshold written under it. A two-sided rule sweeps each bound;
* a string, boolean or list signal: its ten commonest values.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import duckdb

from curate.tools import stats, sweep
from curate.tools.charts import BAD, COLORS, NEUTRAL, bars, esc, histogram, lines, num
from curate.tools.sweep import Declared

BINS = 20
SWEEP_POINTS = 21  # quantiles of the signal a sweep curve is drawn through (plus the recipe's thresholds)
TOP_VALUES = 10


def chart(key: str, title: str, svg: str, note: str = "") -> str:
    """A figure as wide as its chart (the caption and note wrap to it), so two sit side by side."""
    note = f"<p class='note'>{esc(note)}</p>" if note else ""
    width = re.match(r'<svg width="([\d.]+)"', svg).group(1)
    return (f'<figure class="chart" id="chart-{esc(key)}" style="width:{width}px"><figcaption>{esc(title)}</figcaption>'
            f"{svg}{note}</figure>")


def rule_text(d: Declared) -> str:
    """`keep >= 0.12 (recipe: line_punct_thr)`-style words for a declaration."""
    s = d.signal
    if s.keep is None:
        return "descriptive: no rule thresholds it"
    low, high = d.bounds
    params = s.threshold if isinstance(s.threshold, tuple) else (s.threshold,)
    where = f" (recipe parameter{'s' if len(params) > 1 else ''} {', '.join(p for p in params if p)})" if s.threshold else ""
    if s.keep == "within":
        text = f"keeps {num(low) if low is not None else '-inf'} <= value <= {num(high) if high is not None else 'inf'}"
    elif s.threshold is None:
        text = f"keeps {s.keep} values"
    else:
        bound = low if s.keep == "higher" else high
        text = (f"keeps value {'>=' if s.keep == 'higher' else '<='} {num(bound)}" if bound is not None
                else f"keeps {s.keep} values; the recipe switched this rule off")
    reasons = f"; drop reason{'s' if len(s.reasons) > 1 else ''} {', '.join(s.reasons)}" if s.reasons else ""
    exempt = "; languages written without spaces are exempt" if s.exempt_languages else ""
    return text + where + reasons + exempt


def _numeric(kind: str) -> bool:
    return kind in stats.NUMERIC or kind.startswith("DECIMAL")


def histogram_chart(con: duckdb.DuckDBPyConnection, d: Declared, present: dict[str, str]) -> str | None:
    col = d.column
    low, high, n = con.execute(f'SELECT min("{col}")::DOUBLE, max("{col}")::DOUBLE, count("{col}") '
                               "FROM decisions").fetchone()
    if not n:
        return None
    low, width, bins = bin_edges(low, high, d.bounds, integer=present[col] not in ("FLOAT", "DOUBLE", "REAL"))
    bin_sql = f'least(floor(("{col}" - {low!r}) / {width!r}), {bins - 1})::INT'
    reason = d.reason_column if d.reason_column in present else None
    namespace = d.namespace
    if reason:
        ours = ", ".join(f"'{namespace}:{r}'" for r in d.signal.reasons) or "NULL"
        group = (f'CASE WHEN "{reason}" IS NULL THEN 0 WHEN "{reason}" IN ({ours}) THEN 1 ELSE 2 END')
        names = ["kept by the stage", "dropped by this rule", "dropped by another rule"]
    else:
        group, names = "0", ["documents"]
    counts = con.execute(f'SELECT {bin_sql}, {group}, count(*) FROM decisions WHERE "{col}" IS NOT NULL '
                         "GROUP BY ALL").fetchall()
    series = {name: [0] * bins for name in names}
    for b, g, c in counts:
        series[names[g]][b] = c
    series = {name: v for k, (name, v) in enumerate(series.items()) if k == 0 or any(v)}
    lo, hi = d.bounds
    marks = [(b, f"{op} {num(b)}") for b, op in ((lo, "keep >="), (hi, "keep <=")) if b is not None]
    drop = ([(None, lo)] if lo is not None else []) + ([(hi, None)] if hi is not None else [])
    palette = {names[0]: COLORS[0], "dropped by this rule": BAD}
    svg = histogram(low, width, series, col, marks, drop, [palette.get(name, NEUTRAL) for name in series])
    return chart(f"signal-{col}", f"{col}: {n:,} records with a value", svg, rule_text(d))


def near(low: float, high: float, bounds: tuple) -> list[float]:
    """The recipe thresholds within half the data's range of it: drawn on the axis, not at its end."""
    span = high - low
    return [float(b) for b in bounds if b is not None and (low - span / 2 <= b <= high + span / 2 or not span)]


def bin_edges(low: float, high: float, bounds: tuple, integer: bool) -> tuple[float, float, int]:
    """(first edge, bin width, bins) covering the data and every recipe threshold near it (within
    half the data's range; a farther one is marked at the axis end). Integers get whole-number bins."""
    shown = near(low, high, bounds)
    low, high = min([low, *shown]), max([high, *shown])
    if high == low:
        low, high = low - 1, high + 1
    if integer and high - low < BINS:
        return math.floor(low), 1.0, int(math.floor(high) - math.floor(low)) + 1
    return low, (high - low) / BINS, BINS


def sweep_chart(con: duckdb.DuckDBPyConnection, out: Path, d: Declared, declared: dict) -> str | None:
    """Share kept (documents, characters, tokens if counted) against the threshold, marked at the recipe's."""
    col = d.column
    sides = [">=", "<="] if d.signal.keep == "within" else [sweep.OPERATOR[d.signal.keep]]
    qs = [i / (SWEEP_POINTS - 1) for i in range(SWEEP_POINTS)]
    (values,) = con.execute(f'SELECT quantile_cont("{col}", {qs})::DOUBLE[] FROM decisions WHERE stage IS NULL').fetchone()
    if not values or values[0] == values[-1]:
        return None
    points = sorted({float(f"{v:.6g}") for v in values} | set(near(values[0], values[-1], d.bounds)))
    series, dashed = {}, set()
    for op in sides:
        result = sweep.sweep(out, col, points, op, con=con, declared=declared)
        for k, measure in enumerate(result.headers[1::2]):
            name = f"% {measure}" + (f", keep {op} x" if len(sides) > 1 else "")
            series[name] = [(row[0], row[2 + 2 * k]) for row in result.rows]
            if op == "<=" and len(sides) > 1:
                dashed.add(name)
    lo, hi = d.bounds
    marks = [(b, f"recipe: {num(b)}") for b in (lo, hi) if b is not None]
    svg = lines(series, f"threshold on {col}", "% kept", y_range=(0, 100), marks=marks, dashed=dashed)
    return chart(f"sweep-{col}", f"{col}: kept at each threshold ({rule_text(d).split(' (')[0]})", svg,
                 at_recipe(con, d))


def at_recipe(con: duckdb.DuckDBPyConnection, d: Declared) -> str:
    """`At the recipe's threshold, of 36 documents: 83.33% of documents, 95.67% of characters kept; ...`"""
    if d.bounds == (None, None):
        return "The recipe sets no threshold for this rule."
    names, total, passed = sweep.at_bounds(con, d.column, d.bounds)
    shares = ", ".join(f"{100 * p / t:.2f}% of {name}" for name, t, p in zip(names, total, passed) if t)
    tokens = "" if "tokens" in names else "; tokens are not recorded in this run"
    return f"At the recipe's threshold, of {total[0]:,} documents: {shares} kept{tokens}."


def values_chart(con: duckdb.DuckDBPyConnection, d: Declared, kind: str) -> str | None:
    """The commonest values of a string, boolean or list signal (list elements counted one by one)."""
    col = d.column
    source = f'SELECT unnest("{col}") AS v FROM decisions' if kind.endswith("[]") else f'SELECT "{col}" AS v FROM decisions'
    rows = con.execute(f"SELECT v::VARCHAR, count(*) FROM ({source}) WHERE v IS NOT NULL "
                       f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP_VALUES + 1}").fetchall()
    if not rows:
        return None
    more = " (the commonest ten)" if len(rows) > TOP_VALUES else ""
    rows = rows[:TOP_VALUES]
    return chart(f"signal-{col}", f"{col}: records per value{more}",
                 bars([r[0] for r in rows], [r[1] for r in rows]), rule_text(d))


def list_is_numeric(kind: str) -> bool:
    return kind.endswith("[]") and _numeric(kind[:-2])


def signal_figure(con, out: Path, d: Declared, kind: str, present: dict, declared: dict) -> str:
    charts = []
    if _numeric(kind):
        charts.append(histogram_chart(con, d, present))
        if d.signal.keep in sweep.OPERATOR or d.signal.keep == "within":
            charts.append(sweep_chart(con, out, d, declared))
    elif not list_is_numeric(kind):
        charts.append(values_chart(con, d, kind))
    else:
        charts.append(_list_histogram(con, d))
    charts = [c for c in charts if c]
    body = "".join(charts) or f"<p class='note'>{esc(d.column)}: no record has a value in this run.</p>"
    return f'<div class="signal" id="signal-{esc(d.column)}">{body}</div>'


def _list_histogram(con, d: Declared) -> str | None:
    rows = con.execute(f'SELECT v FROM (SELECT unnest("{d.column}")::DOUBLE AS v FROM decisions) WHERE v IS NOT NULL').fetchall()
    if not rows:
        return None
    values = [v for (v,) in rows]
    low, high = min(values), max(values)
    width = (high - low) / BINS or 1.0
    counts = [0] * BINS
    for v in values:
        counts[min(int((v - low) / width), BINS - 1)] += 1
    return chart(f"signal-{d.column}", f"{d.column}: every element of the lists",
                 histogram(low, width, {"elements": counts}, d.column), rule_text(d))


def signal_sections(out: Path, con: duckdb.DuckDBPyConnection, declared: dict[str, Declared] | None = None) -> list[str]:
    """Every declared signal of the run (not the `__reason` columns, which the reasons chart shows), by stage."""
    declared = sweep.declarations(out) if declared is None else declared
    present = stats.columns(con)
    groups: dict[str, list[Declared]] = {}
    for d in declared.values():
        if d.column in present and not d.column.endswith("__reason"):
            groups.setdefault(d.stage, []).append(d)
    parts = ["<h2>Signals, by stage</h2><p>Every signal the run's stages declare. A rule's direction and "
             "threshold are the stage's own declaration and the recipe's resolved parameters; the shaded side of "
             "a dashed mark is what the rule drops. Histograms cover every record with a value; sweeps, the "
             "documents the run kept (in annotate mode, every document with text). <code>curate sweep</code> "
             "prints the figures.</p>"]
    for stage, items in groups.items():
        ruled = sum(1 for d in items if d.signal.keep)
        figures = "".join(signal_figure(con, out, d, present[d.column], present, declared) for d in items)
        summary = f"{stage}: {len(items)} signal{'s' if len(items) != 1 else ''}, {ruled} with a rule"
        slug = esc(stage.partition("@")[0])
        parts.append(f'<details class="stage" id="stage-{slug}"{" open" if ruled else ""}>'
                     f"<summary>{esc(summary)}</summary>{figures}</details>")
    return parts
