"""DuckDB over a run's outputs: the decision table, the kept documents, and the run summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

REASONS_SQL = """SELECT stage, reason, count(*) AS documents
FROM decisions WHERE reason IS NOT NULL
GROUP BY stage, reason ORDER BY documents DESC"""


def connect(out: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views `decisions` and `documents` over OUT's Parquet files."""
    out = Path(out)
    con = duckdb.connect()
    for view in ("decisions", "documents"):
        files = sorted((out / view).glob("*.parquet"))
        if not files:
            raise FileNotFoundError(f"{out / view} has no Parquet files: is {out} the output of `curate run`?")
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet('{out / view}/*.parquet', union_by_name=true)")
    return con


def stage_order(out: str | Path) -> list[str]:
    """Stage namespaces in pipeline order, from config.resolved.yaml."""
    config = yaml.safe_load((Path(out) / "config.resolved.yaml").read_text())
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
    rows: list[tuple[str, int, int, int]]  # stage, in, dropped, out
    records: int
    kept: int
    reasons: list[tuple[str, int]]
    would_drop: list[tuple[str, int]]  # annotate mode: reason -> documents a filter would drop


def funnel(out: str | Path) -> Funnel:
    con = connect(out)
    records, kept = con.execute("SELECT count(*), count(*) FILTER (WHERE stage IS NULL) FROM decisions").fetchone()
    dropped = dict(con.execute("SELECT stage, count(*) FROM decisions WHERE stage IS NOT NULL GROUP BY stage").fetchall())
    rows, remaining = [], records
    order = stage_order(out)
    order += sorted(set(dropped) - set(order))
    for stage in order:
        n = dropped.get(stage, 0)
        rows.append((stage, remaining, n, remaining - n))
        remaining -= n
    reasons = con.execute("SELECT reason, count(*) FROM decisions WHERE reason IS NOT NULL "
                          "GROUP BY reason ORDER BY 2 DESC, 1 LIMIT 10").fetchall()
    columns = [c for (c,) in con.execute("SELECT column_name FROM (DESCRIBE decisions)").fetchall()]
    would = []
    for column in columns:
        if column.endswith("__reason"):
            would += con.execute(f'SELECT "{column}", count(*) FROM decisions WHERE "{column}" IS NOT NULL '
                                 f"AND stage IS NULL GROUP BY 1 ORDER BY 2 DESC").fetchall()
    return Funnel(rows, records, kept, reasons, would)


def query(out: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    con = connect(out)
    cursor = con.execute(sql)
    return [d[0] for d in cursor.description], cursor.fetchall()
