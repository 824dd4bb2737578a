"""Threshold sweeps over recorded signals: what a stricter or looser threshold would keep.

Every curate filter records its signals whether it keeps a document or not, so an annotate-mode
run (`--mode annotate`: every filter runs on every document, nothing is dropped) holds all it takes
to answer "what would `gopher_quality__n_stop_words >= 3` keep?" as one DuckDB scan, without
re-running anything. The population is the documents the run kept (in annotate mode: every record
with text); a filter-mode run gives retention among its own kept documents.

Which way keeps is declared by the stage next to the signal (`curate.core.step.Signal`), never
guessed from the data: medians of kept and dropped documents point the wrong way for a two-sided
rule such as Gopher's mean word length in [3, 10]. `declarations(out)` reads the run's stages and
their resolved parameters from OUT/config.resolved.yaml, so each signal also comes with the
recipe's threshold. A two-sided (`within`) signal is swept one bound at a time (`keep=">="` or
`"<="`); a descriptive one (no rule thresholds it) only with an explicit `keep`.

A document with no value for a signal (the stage did not compute it, or the ratio was undefined)
is kept: a threshold only removes what it can judge.

Example:
    sweep("out/ann", "fineweb_quality__line_punct_ratio", [0.12, 0.3, 0.5])   # keep >= (declared)
    sweep("out/ann", "gopher_quality__mean_word_length", [3, 4, 5], keep=">=")  # one bound of [3, 10]
    joint("out/ann", ["fineweb_quality__line_punct_ratio>=0.12", "gopher_repetition__dup_line_frac<=0.3"])
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from curate.core import registry
from curate.core.step import DeclaresSignals, Signal
from curate.tools import stats

CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<)\s*(-?[\d.eE+-]+)\s*$")
OPERATOR = {"higher": ">=", "lower": "<="}


@dataclass(frozen=True)
class Declared:
    """A signal column of a run as its stage declares it, with the recipe's keep range."""

    column: str
    stage: str  # the recipe's stage (`gopher_quality@1`); `read` for the readers; the namespace without a config
    namespace: str  # of the stage's reasons (`gopher_quality:too_few_words`)
    signal: Signal
    bounds: tuple[float | None, float | None] = (None, None)  # keep low <= value <= high; None: no bound

    @property
    def reason_column(self) -> str:
        """The stage's `<namespace>__reason` column (filters have one), whose reasons `signal.reasons` name."""
        return f"{self.namespace}__reason"


@dataclass
class Sweep:
    signal: str
    keep: str  # ">=" or "<="
    headers: list[str]
    rows: list[tuple]  # threshold, documents, pct_documents, characters, pct_characters[, tokens, pct_tokens]
    total: tuple  # documents, characters[, tokens] of the population
    recipe: float | None = None  # the recipe's threshold on this side, if it has one


def _stages(out: str | Path) -> list[tuple[registry.StageSpec, dict]]:
    """(spec, resolved parameters) of each stage of OUT's recipe, in order; without a
    config.resolved.yaml, every registered stage (latest version) without parameters."""
    path = Path(out) / "config.resolved.yaml"
    config = yaml.safe_load(path.read_text()) if path.is_file() else None
    if not config:
        latest = {spec.name: registry.get(spec.name) for spec in registry.STAGES if spec.kind != "reader"}
        return [(spec, {}) for spec in latest.values()]
    found = []
    for entry in config.get("stages") or []:
        for name, params in entry.items():
            try:
                found.append((registry.get(name), params or {}))
            except registry.UnknownStage:  # a stage this version of curate no longer has
                continue
    return found


def declarations(out: str | Path) -> dict[str, Declared]:
    """Every column the readers and OUT's stages declare (pipeline order) -> its `Declared`."""
    found: dict[str, Declared] = {}
    configured = (Path(out) / "config.resolved.yaml").is_file()
    for spec in registry.STAGES:
        if spec.kind == "reader":
            for column, signal in spec.load().declared().items():
                found.setdefault(column, Declared(column, "read", "read", signal))
    for spec, params in _stages(out):
        cls = spec.load()
        if not issubclass(cls, DeclaresSignals):
            continue
        stage = spec.versioned if configured else cls.namespace
        for column, signal in cls.declared().items():
            found.setdefault(column, Declared(column, stage, cls.namespace, signal, signal.bounds(params)))
    return found


def keep_for(declared: Declared | None, column: str) -> str:
    """The declared keep operator of `column` (`>=` or `<=`); a ValueError for a two-sided or descriptive one."""
    keep = declared.signal.keep if declared else None
    if keep in OPERATOR:
        return OPERATOR[keep]
    if keep == "within":
        low, high = declared.bounds
        raise ValueError(f"{column} keeps values within [{low}, {high}] (a two-sided rule): give keep '>=' to "
                         f"sweep the lower bound or '<=' to sweep the upper one")
    raise ValueError(f"{column} is descriptive (no rule thresholds it, so it declares no keep direction): "
                     f"give keep '>=' or '<='")


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
    raise ValueError(f"no numeric signal column {name!r}{_closest(name, numeric)}")


def _closest(name: str, numeric: list[str]) -> str:
    """`; did you mean X?` for the column whose full, dotted or short name is closest to `name`."""
    forms = {}
    for column in numeric:
        forms.update({column: column, column.replace("__", ".", 1): column, column.partition("__")[2] or column: column})
    found = difflib.get_close_matches(name, list(forms), n=1, cutoff=0.6)
    if found:
        return f"; did you mean {forms[found[0]]!r}?"
    return f"; numeric signals: {', '.join(numeric[:12])}{', ...' if len(numeric) > 12 else ''}"


def token_column(con: duckdb.DuckDBPyConnection) -> str | None:
    """A token count column if the run recorded one (`n_tokens` or `<stage>__n_tokens`)."""
    cols = stats.columns(con)
    return next((c for c in cols if c == "n_tokens" or c.endswith("__n_tokens")), None)


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
          con: duckdb.DuckDBPyConnection | None = None, declared: dict[str, Declared] | None = None) -> Sweep:
    """Retention (documents, characters, tokens if counted) at each threshold of `signal`, keeping
    the declared side (`keep` overrides it; a two-sided or descriptive signal needs it). Without
    `thresholds`: 11 quantiles of the signal and the recipe's threshold on that side."""
    con = con or stats.connect(out)
    column = resolve(con, signal)
    found = (declarations(out) if declared is None else declared).get(column)
    keep = keep or keep_for(found, column)
    if keep not in (">=", "<="):
        raise ValueError(f"keep must be '>=' or '<=', got {keep!r}")
    recipe = found.bounds[0 if keep == ">=" else 1] if found else None
    thresholds = sorted(thresholds) if thresholds else sorted(
        set(default_thresholds(con, column)) | ({float(recipe)} if recipe is not None else set()))
    names, total, passed = _retention(con, [predicate(column, keep, t) for t in thresholds])
    headers, rows = _with_shares(names, total, passed)
    return Sweep(column, keep, ["threshold", *headers], [(t, *r) for t, r in zip(thresholds, rows)], total, recipe)


def at_bounds(con: duckdb.DuckDBPyConnection, column: str, bounds: tuple) -> tuple[list[str], tuple, tuple]:
    """(measures, population totals, what the keep range `bounds` = (low, high) keeps): the retention
    at the recipe's threshold(s) of a signal."""
    parts = [predicate(column, op, b) for op, b in ((">=", bounds[0]), ("<=", bounds[1])) if b is not None]
    names, total, passed = _retention(con, [" AND ".join(parts) or "true"])
    return names, total, passed[0]


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
