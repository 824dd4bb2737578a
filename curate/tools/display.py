"""Plain-text output shared by the CLI and the reports: tables, CSV/JSON, the run summary."""

from __future__ import annotations

import shlex
import sys

import click

from curate.core.sql import literal


def table(headers: list[str], rows: list[tuple]) -> str:
    """A plain-text table (right-aligned numbers), so output pastes anywhere."""
    cells = [[str(h) for h in headers]] + [["" if v is None else _fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(isinstance(row[i], (int, float)) for row in rows) and rows != [] for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def emit(tables: dict[str, tuple[list[str], list[tuple]]], fmt: str) -> None:
    """Print named tables as plain-text tables (titled), CSV (one block each) or one JSON object."""
    if fmt == "json":
        import json

        records = {title: [dict(zip(headers, row)) for row in rows] for title, (headers, rows) in tables.items()}
        click.echo(json.dumps(next(iter(records.values())) if len(records) == 1 else records, default=str, indent=1))
        return
    import csv

    for i, (title, (headers, rows)) in enumerate(tables.items()):
        if i:
            click.echo("")
        if title and len(tables) > 1:
            click.echo(f"# {title}")
        if fmt == "table":
            click.echo(table(headers, rows))
        else:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(headers)
            writer.writerows(rows)


def render_summary(result) -> str:
    from curate.tools import stats

    out = result.output
    f = stats.funnel(out)
    lines = ["", f"Summary: {result.recipe.name} ({result.recipe.mode} mode)", ""]
    lines.append(table(["stage", "in", "dropped", "out"], f.rows))
    lines.append("")
    if f.reasons:
        lines.append(table(["drop reason", "documents"], f.reasons))
        lines.append("")
    if f.would_drop:
        lines.append(table(["annotate: would drop", "documents"], f.would_drop))
        lines.append("")
    if result.did_work and result.seconds > 0:
        mb = result.input_bytes / 1e6
        lines.append(f"{f.records:,} records in, {f.kept:,} kept, in {result.seconds:.1f} s: "
                     f"{f.records / result.seconds:,.1f} docs/s, {mb / result.seconds:,.2f} MB/s "
                     f"({mb:,.1f} MB input, {result.tasks_run} task(s))")
    else:
        lines.append(f"{f.records:,} records in, {f.kept:,} kept")
    lines += [
        "",
        "Outputs:",
        f"  kept documents  {out}/documents/",
        f"  decision table  {out}/decisions/   (one row per input record)",
        f"  stats           {out}/stats.json",
        f"  config          {out}/config.resolved.yaml",
        f"  logs            {out}/logs/",
        "",
        "Ask the decision table (DuckDB SQL):",
        f"  curate stats {shlex.quote(str(out))} \"SELECT stage, reason, count(*) AS n FROM decisions GROUP BY ALL ORDER BY n DESC\"",
        "  or, in any DuckDB:",
        f"  SELECT stage, reason, count(*) AS n FROM {literal(f'{out}/decisions/*.parquet')} GROUP BY ALL ORDER BY n DESC;",
    ]
    return "\n".join(lines)
