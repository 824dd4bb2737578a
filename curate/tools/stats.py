"""DuckDB over a run's outputs: the decision table, the kept documents, and the run summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from curate.core.sql import files as sql_files
from curate.core.sql import identifier, literal


def connect(out: str | Path, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views over OUT's Parquet files.

    `decisions` and `documents` (every task's file), and one view per `OUT/reports/*.parquet`
    named after the file (`reports/decontamination.parquet` -> `decontamination`).
    """
    out = Path(out)
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads={int(threads)}")
    for view in ("decisions", "documents"):
        files = sorted((out / view).rglob("*.parquet"))  # documents/lang=xx/ when routed by language
        if not files:
            raise FileNotFoundError(f"{out / view} has no Parquet files: is {out} the output of `curate run`?")
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet({sql_files(files)}, "
                    "union_by_name=true, hive_partitioning=false)")
    for path in sorted((out / "reports").glob("*.parquet")):
        if path.stem.isidentifier() and path.stem not in ("decisions", "documents"):
            con.execute(f"CREATE VIEW {identifier(path.stem)} AS SELECT * FROM read_parquet({literal(path)})")
    return con


def columns(con: duckdb.DuckDBPyConnection, view: str = "decisions") -> dict[str, str]:
    """Column name -> DuckDB type of `view`."""
    return dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {view})").fetchall())


def stage_order(out: str | Path) -> list[str]:
    """Stage namespaces in pipeline order, from config.resolved.yaml."""
    path = Path(out) / "config.resolved.yaml"
    config = yaml.safe_load(path.read_text()) if path.is_file() else {}
    order = ["read", "extract"]
    for entry in config.get("stages", []):
        (name,) = entry
        base = name.partition("@")[0]
        namespace = "extract" if base.endswith("_extract") else base
        if namespace not in order:
            order.append(namespace)
    return order


@dataclass
class Funnel:
    """The run summary's view of `funnel_rows`: documents only, with every drop reason."""

    rows: list[tuple[str, int, int, int]]  # stage, in, dropped, out
    records: int
    kept: int
    reasons: list[tuple[str, int]]
    would_drop: list[tuple[str, int]]  # annotate mode: reason -> documents a filter would drop


def funnel(out: str | Path) -> Funnel:
    """The documents columns of `funnel_rows`, every drop reason (commonest first: the summary shows
    them all, issue 16), and in annotate mode the reasons filters would drop kept documents for."""
    con = connect(out)
    _, rows = funnel_rows(con, out)
    records, kept = rows[0][1], rows[-1][3]  # the first stage sees every record; what leaves the last is kept
    reasons = con.execute("SELECT reason, count(*) FROM decisions WHERE reason IS NOT NULL "
                          "GROUP BY reason ORDER BY 2 DESC, 1").fetchall()
    would = []
    for column in columns(con):
        if column.endswith("__reason"):
            would += con.execute(f'SELECT "{column}", count(*) FROM decisions WHERE "{column}" IS NOT NULL '
                                 f"AND stage IS NULL GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    return Funnel([row[:4] for row in rows], records, kept, reasons, would)


def query(out: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    con = connect(out)
    cursor = con.execute(sql)
    return [d[0] for d in cursor.description], cursor.fetchall()


# Named queries (`curate stats OUT --query NAME`): each one scan of the decision table, so they stay
# interactive on millions of rows (bench/stats.py: 1,000,000 rows, one core).
NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
           "FLOAT", "DOUBLE", "REAL"}
NO_TEXT = ("read", "extract")  # stages that drop records before there is extracted text to measure


def signal_columns(con: duckdb.DuckDBPyConnection, view: str = "decisions") -> list[str]:
    """The numeric `<stage>__<signal>` columns of `view`."""
    return [c for c, kind in columns(con, view).items()
            if "__" in c and (kind in NUMERIC or kind.startswith("DECIMAL"))]


def funnel_rows(con: duckdb.DuckDBPyConnection, out: str | Path) -> tuple[list[str], list[tuple]]:
    """Documents and characters in, dropped and out of each stage, in pipeline order: the one funnel
    query (`curate stats --query funnel`, the report's funnel, and `funnel()` for the run summary).

    Characters are those of the extracted text (`n_chars`), so they start after extraction.
    Stages the recipe does not name (none, normally) follow its own, sorted.
    """
    per_stage = {stage: (n, chars or 0) for stage, n, chars in
                 con.execute("SELECT stage, count(*), sum(n_chars) FROM decisions GROUP BY stage").fetchall()}
    docs = sum(n for n, _ in per_stage.values())
    chars = sum(c for _, c in per_stage.values())
    order = stage_order(out)
    order += sorted(set(per_stage) - set(order) - {None})
    rows = []
    for stage in order:
        n, c = per_stage.get(stage, (0, 0))
        if stage in NO_TEXT:
            rows.append((stage, docs, n, docs - n, None, None, chars if stage == "extract" else None))
        else:
            rows.append((stage, docs, n, docs - n, chars, c, chars - c))
            chars -= c
        docs -= n
    return ["stage", "docs_in", "docs_dropped", "docs_out", "chars_in", "chars_dropped", "chars_out"], rows


def reasons_sql(con: duckdb.DuckDBPyConnection, limit: int = 20) -> str:
    """Drop reasons, and in annotate mode the reasons filters would drop kept documents for."""
    parts = ["SELECT 'dropped' AS kind, reason, count(*) AS documents, sum(n_chars) AS characters "
             "FROM decisions WHERE reason IS NOT NULL GROUP BY ALL"]
    for column in columns(con):
        if column.endswith("__reason"):
            parts.append(f"SELECT 'would drop', \"{column}\", count(*), sum(n_chars) FROM decisions "
                         f"WHERE stage IS NULL AND \"{column}\" IS NOT NULL GROUP BY ALL")
    return (f"SELECT kind, reason, documents, round(100.0 * documents / (SELECT count(*) FROM decisions), 2) "
            f"AS pct_records, characters FROM ({' UNION ALL '.join(parts)}) "
            f"ORDER BY documents DESC, reason LIMIT {limit}")


def group_sql(column: str, limit: int = 20) -> str:
    return (f"SELECT coalesce({column}, '(none)') AS {column}, count(*) AS records, "
            f"count(*) FILTER (WHERE stage IS NULL) AS kept, "
            f"round(100.0 * count(*) FILTER (WHERE stage IS NULL) / count(*), 1) AS pct_kept, "
            f"coalesce(sum(n_chars) FILTER (WHERE stage IS NULL), 0) AS kept_chars, "
            f"round(avg(language_score), 3) AS mean_language_score "
            f"FROM decisions GROUP BY 1 ORDER BY records DESC, 1 LIMIT {limit}")


LENGTHS_SQL = """SELECT unit, CAST(pow(2, bin) AS BIGINT) AS at_least, CAST(pow(2, bin + 1) AS BIGINT) AS below,
  count(*) FILTER (WHERE stage IS NULL) AS kept, count(*) FILTER (WHERE stage IS NOT NULL) AS dropped
FROM (SELECT stage, UNNEST(['chars', 'words']) AS unit,
             UNNEST([floor(log2(greatest(n_chars, 1))), floor(log2(greatest(n_words, 1)))]) AS bin
      FROM decisions WHERE n_chars IS NOT NULL)
GROUP BY ALL ORDER BY unit, at_least"""


QUANTILE_SAMPLE = 50_000  # rows (about) that the signal quantiles are computed on


def signals_rows(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple]]:
    """Per numeric signal: how many records have it, min, mean, median, p90, max.

    Count, min, mean and max are exact, in one scan of all the columns. The median and p90 are
    exact on tables up to QUANTILE_SAMPLE rows and computed on a system sample of about that many
    rows above (DuckDB's t-digest `approx_quantile` costs more than the whole scan on wide tables).
    """
    signals = signal_columns(con)
    if not signals:
        return ["signal"], []
    aggs = [f'count("{c}"), min("{c}")::DOUBLE, avg("{c}")::DOUBLE, max("{c}")::DOUBLE' for c in signals]
    values = con.execute(f"SELECT count(*), {', '.join(aggs)} FROM decisions").fetchone()
    total, values = values[0], values[1:]
    sample = "" if total <= QUANTILE_SAMPLE else f" USING SAMPLE {100 * QUANTILE_SAMPLE / total:.4f}% (system, 7)"
    qs = con.execute("SELECT " + ", ".join(f'quantile_cont("{c}", [0.5, 0.9])::DOUBLE[]' for c in signals)
                     + f" FROM decisions{sample}").fetchone()
    rows = []
    for i, column in enumerate(signals):
        n, low, mean, high = values[4 * i: 4 * i + 4]
        rows.append((column, n, low, mean, *(qs[i] or [None, None]), high))
    return ["signal", "records", "min", "mean", "p50", "p90", "max"], rows


QUERIES = ("funnel", "reasons", "languages", "domains", "lengths", "signals")


def named(out: str | Path, name: str, con: duckdb.DuckDBPyConnection | None = None) -> tuple[list[str], list[tuple]]:
    """Run the named query `name` (one of QUERIES) over OUT; returns headers and rows."""
    con = con or connect(out)
    if name == "funnel":
        return funnel_rows(con, out)
    if name == "signals":
        return signals_rows(con)
    sql = {"reasons": lambda: reasons_sql(con), "languages": lambda: group_sql("language"),
           "domains": lambda: group_sql("domain"), "lengths": lambda: LENGTHS_SQL}.get(name)
    if sql is None:
        raise ValueError(f"unknown query {name!r}; named queries: {', '.join(QUERIES)}")
    cursor = con.execute(sql())
    return [d[0] for d in cursor.description], cursor.fetchall()
