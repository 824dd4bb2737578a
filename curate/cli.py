"""The `curate` command: thin shells over curate's API, each with an example in its help."""

from __future__ import annotations

import sys

import click

from curate import registry
from curate.config import RecipeError, load_recipe


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


@click.group()
@click.version_option(package_name="curate")
def main():
    """curate: turn raw web crawls into a clean, deduplicated pretraining corpus, with numbers.

    Example: curate run pipelines/fineweb.yaml --output out/demo
    """


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1)
@click.option("--input", "inputs", multiple=True, help="Input file or folder (repeatable); replaces the recipe's.")
@click.option("--output", help="Output folder; replaces the recipe's.")
@click.option("--tasks", type=int, help="Number of datatrove tasks (input files are sharded across them).")
@click.option("--workers", type=int, help="Tasks run at the same time.")
@click.option("--mode", type=click.Choice(["filter", "annotate"]), help="filter drops; annotate records and keeps all.")
@click.option("--overwrite", is_flag=True, help="Delete OUTPUT first and run from scratch.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def run(recipe, overrides, inputs, output, tasks, workers, mode, overwrite, no_progress):
    """Run RECIPE (a YAML pipeline) with datatrove and print a summary.

    OVERRIDES are key.sub=value pairs, e.g. executor.tasks=4 or
    stages.gopher_quality.min_doc_words=100.

    Example: curate run pipelines/fineweb.yaml --input crawl/ --output out/cc --tasks 4 --workers 2
    """
    from curate import runner

    extra = list(overrides)
    if inputs:
        extra.append("input=" + _yaml_list(inputs))
    for key, value in (("output", output), ("executor.tasks", tasks), ("executor.workers", workers), ("mode", mode)):
        if value is not None:
            extra.append(f"{key}={value}")
    try:
        parsed = load_recipe(recipe, overrides=extra)
        click.echo(f"curate: running {parsed.name} ({parsed.mode} mode, {len(parsed.stages)} stages, "
                   f"{parsed.executor.tasks} task(s)) -> {parsed.output}", err=True)
        result = runner.run(parsed, overwrite=overwrite, progress=not no_progress)
    except (RecipeError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from None
    for message in result.messages:
        click.echo(message)
    if not result.submitted:
        click.echo(render_summary(result))


def _yaml_list(values) -> str:
    import json

    return json.dumps(list(values))


def render_summary(result) -> str:
    from curate import stats

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
        f"  curate stats {out} \"SELECT stage, reason, count(*) AS n FROM decisions GROUP BY ALL ORDER BY n DESC\"",
        "  or, in any DuckDB:",
        f"  SELECT stage, reason, count(*) AS n FROM '{out}/decisions/*.parquet' GROUP BY ALL ORDER BY n DESC;",
    ]
    return "\n".join(lines)


@main.command("list-stages")
def list_stages():
    """List every registered stage with its version and a one-line description.

    Example: curate list-stages
    """
    rows = [(spec.versioned, spec.kind, spec.description()) for spec in registry.STAGES]
    click.echo(table(["stage", "kind", "description"], rows))


@main.command("stats")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.argument("sql", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
def stats_command(out, sql, fmt):
    """Query a run's outputs with DuckDB: views `decisions` and `documents`.

    With no SQL, prints the funnel and the top drop reasons.

    Example: curate stats out/demo "SELECT language, avg(language_score) FROM decisions GROUP BY 1"
    """
    from curate import stats

    try:
        if sql is None:
            f = stats.funnel(out)
            click.echo(table(["stage", "in", "dropped", "out"], f.rows))
            click.echo("")
            click.echo(table(["drop reason", "documents"], f.reasons))
            return
        headers, rows = stats.query(out, sql)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:  # DuckDB's own message names the problem
        raise click.ClickException(f"query failed: {error}") from None
    if fmt == "table":
        click.echo(table(headers, rows))
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(headers)
        writer.writerows(rows)
    else:
        import json

        click.echo(json.dumps([dict(zip(headers, row)) for row in rows], default=str, indent=1))


if __name__ == "__main__":
    main()
