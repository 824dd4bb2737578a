"""Threshold sweeps over recorded signals: what a stricter or looser threshold would keep.

Every curate filter records its signals whether it keeps a document or not, so an annotate-mode
run (`--mode annotate`: every filter runs on every document, nothing is dropped) holds all it takes
to answer "what would `gopher_quality__mean_word_length >= 4` keep?" as one DuckDB scan, without
re-running anything. The population is the documents the run kept (in annotate mode: every record
with text); a filter-mode run gives retention among its own kept documents.

A document with no value for a signal (the stage did not compute it, or the ratio was undefined)
is kept: a threshold only removes what it can judge.

Example:
    sweep("out/ann", "gopher_quality__mean_word_length", [3, 4, 5])
    joint("out/ann", ["fineweb_quality__line_punct_ratio>=0.12", "gopher_repetition__dup_line_frac<=0.3"])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from curate.tools import stats

CONDITION = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(>=|<=|>|<)\s*(-?[\d.eE+-]+)\s*$")


@dataclass
class Sweep:
    signal: str
    keep: str  # ">=" or "<="
    headers: list[str]
    rows: list[tuple]  # threshold, documents, pct_documents, characters, pct_characters[, tokens, pct_tokens]
    total: tuple  # documents, characters[, tokens] of the population


def resolve(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The full `<stage>__<signal>` column for `name`, which may be a short form (`mean_word_length`)."""
    numeric = stats.signal_columns(con) + [c for c in ("language_score", "n_chars", "n_words") if c in stats.columns(con)]
    if name in numeric:
        return name
    matches = [c for c in numeric if c.endswith("__" + name) or c.replace("__", ".") == name]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ValueError(f"signal {name!r} is ambiguous: {', '.join(matches)}")
    close = [c for c in numeric if name.lower() in c.lower()]
    hint = (f"; did you mean {', '.join(close[:5])}?" if close else
            f"; numeric signals: {', '.join(numeric[:12])}{', ...' if len(numeric) > 12 else ''}")
    raise ValueError(f"no numeric signal column {name!r}{hint}")


def token_column(con: duckdb.DuckDBPyConnection) -> str | None:
    """A token count column if the run recorded one (`n_tokens` or `<stage>__n_tokens`)."""
    cols = stats.columns(con)
    return next((c for c in cols if c == "n_tokens" or c.endswith("__n_tokens")), None)


def infer_keep(con: duckdb.DuckDBPyConnection, column: str) -> str:
    """`>=` if documents the stage would drop have lower values than those it keeps, else `<=`.

    Uses the stage's `<stage>__reason` column; without one (or without drops), `>=`.
    """
    reason = column.split("__")[0] + "__reason"
    if "__" not in column or reason not in stats.columns(con):
        return ">="
    kept, dropped = con.execute(
        f'SELECT median("{column}") FILTER (WHERE "{reason}" IS NULL), '
        f'median("{column}") FILTER (WHERE "{reason}" IS NOT NULL) FROM decisions WHERE stage IS NULL').fetchone()
    if kept is None or dropped is None:
        return ">="
    return ">=" if dropped < kept else "<="


def default_thresholds(con: duckdb.DuckDBPyConnection, column: str, steps: int = 10) -> list[float]:
    """`steps` thresholds at evenly spaced quantiles of the signal over the population."""
    qs = [i / steps for i in range(steps + 1)]
    (values,) = con.execute(f'SELECT quantile_cont("{column}", {qs}) FROM decisions WHERE stage IS NULL').fetchone()
    return sorted({float(f"{v:.4g}") for v in values or []})


def _measures(con) -> list[tuple[str, str]]:
    measures = [("documents", "1"), ("characters", "coalesce(n_chars, 0)")]
    tokens = token_column(con)
    if tokens:
        measures.append(("tokens", f'coalesce("{tokens}", 0)'))
    return measures


def _retention(con, predicates: list[str]) -> tuple[list[str], tuple, list[tuple]]:
    """One scan: the population totals and, per predicate, what passes it."""
    measures = _measures(con)
    aggs = [f"sum({expr})" for _, expr in measures]
    for predicate in predicates:
        aggs += [f"coalesce(sum({expr}) FILTER (WHERE {predicate}), 0)" for _, expr in measures]
    values = con.execute(f"SELECT {', '.join(aggs)} FROM decisions WHERE stage IS NULL").fetchone()
    k = len(measures)
    total = tuple(int(v or 0) for v in values[:k])
    passed = [tuple(int(v) for v in values[k * (i + 1): k * (i + 2)]) for i in range(len(predicates))]
    return [name for name, _ in measures], total, passed


def _with_shares(names, total, passed) -> tuple[list[str], list[tuple]]:
    headers = [h for name in names for h in (name, f"pct_{name}")]
    rows = [tuple(x for v, t in zip(p, total) for x in (v, round(100.0 * v / t, 2) if t else None)) for p in passed]
    return headers, rows


def predicate(column: str, op: str, threshold: float) -> str:
    return f'("{column}" IS NULL OR "{column}" {op} {float(threshold)!r})'


def sweep(out: str | Path, signal: str, thresholds: list[float] | None = None, keep: str | None = None,
          con: duckdb.DuckDBPyConnection | None = None) -> Sweep:
    """Retention (documents, characters, tokens if counted) at each threshold of `signal`."""
    con = con or stats.connect(out)
    column = resolve(con, signal)
    keep = keep or infer_keep(con, column)
    if keep not in (">=", "<="):
        raise ValueError(f"keep must be '>=' or '<=', got {keep!r}")
    thresholds = sorted(thresholds) if thresholds else default_thresholds(con, column)
    names, total, passed = _retention(con, [predicate(column, keep, t) for t in thresholds])
    headers, rows = _with_shares(names, total, passed)
    return Sweep(column, keep, ["threshold", *headers], [(t, *r) for t, r in zip(thresholds, rows)], total)


def parse_condition(con: duckdb.DuckDBPyConnection, text: str) -> tuple[str, str, float]:
    match = CONDITION.match(text)
    if not match:
        raise ValueError(f"bad condition {text!r}: expected SIGNAL>=VALUE or SIGNAL<=VALUE (also > and <)")
    name, op, value = match.groups()
    return resolve(con, name), op, float(value)


def joint(out: str | Path, conditions: list[str], con: duckdb.DuckDBPyConnection | None = None
          ) -> tuple[list[str], list[tuple], tuple]:
    """Each condition alone, then all of them together (cumulatively, in the order given)."""
    con = con or stats.connect(out)
    parsed = [parse_condition(con, c) for c in conditions]
    alone = [predicate(*p) for p in parsed]
    together = [" AND ".join(alone[: i + 1]) for i in range(len(alone))]
    names, total, passed = _retention(con, alone + together)
    headers, shares = _with_shares(names, total, passed)
    labels = [f"{c} {op} {v:g}" for c, op, v in parsed]
    rows = [("alone", label, *r) for label, r in zip(labels, shares[: len(alone)])]
    rows += [("together", label, *r) for label, r in zip(labels, shares[len(alone):])]
    return ["scope", "condition", *headers], rows, total
