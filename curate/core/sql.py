"""Quoting for the SQL that curate builds around paths: a path may hold any character.

DuckDB reads a run's Parquet files by path, and a view (`CREATE VIEW decisions AS ...`) cannot
take query parameters, so paths are written into the SQL text as string literals. An output
folder named `it's` once ended a run in a traceback in its summary and broke `curate stats` and
`curate report` (issue 14); every path that goes into SQL goes through `literal` (or `files`).
Example: `f"SELECT * FROM read_parquet({literal(path)})"`.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike


def literal(value: str | PathLike) -> str:
    """A SQL string literal of `value` (standard SQL: a quote inside is doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def files(paths: Iterable[str | PathLike]) -> str:
    """A DuckDB list of string literals, for `read_parquet([...])` over files found by Python
    (so the folder's name is never read as a glob pattern)."""
    return "[" + ", ".join(literal(p) for p in paths) + "]"


def identifier(name: str) -> str:
    """A quoted SQL identifier (a column or view name; a double quote inside is doubled)."""
    return '"' + str(name).replace('"', '""') + '"'
