"""`curate eval-extract`: word-F1, precision, recall and speed of extractors per gold set (curate.tools.evaluate_extract)."""

from __future__ import annotations

import json

import click

from curate.errors import console
from curate.tools.display import table


@click.command("eval-extract")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--extractor", "extractors", multiple=True,
              help="Registered extraction stage (repeatable); the first is the default one. "
                   "Default: extract, resiliparse_extract, trafilatura_extract.")
@click.option("--snippets", type=click.Path(exists=True, file_okay=False),
              help="Folder with trafilatura's evaldata.json and its HTML (files or a tar archive).")
@click.option("--limit", type=int, help="At most N pages of each set, spread over the ids.")
@click.option("--quick", is_flag=True, help="--limit 40: under a minute.")
@click.option("--timeout", type=float, help="Seconds per page for curate's stages (default: each stage's).")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs of every extractor over each set, in turn; each one's lowest CPU time counts.")
def eval_extract(paths, extractors, snippets, limit, quick, timeout, repeat):
    """Word-F1 (WCXB's definition), snippet accuracy and docs/s per core of extractors, per gold set.

    Each PATH is a gold set in WCXB layout (ground-truth/ID.json, html/ID.html[.gz]), a folder or a
    .tar.xz, or an archive of several (the cleaning sets). datatrove's Trafilatura step and plain
    trafilatura run on the same pages as peers. One table per set: all pages, the held-out split (odd
    page numbers, never used for tuning), the per-page oracle of every extractor run, and the pages each
    extractor lost to a timeout, a crash or an error (they score 0: a figure they pull down is about
    time or robustness, not extraction). The last
    line is one JSON object: the first set's figures, and every set's under `sets`.

    Example: curate eval-extract ../shared/data/html_gold/wcxb_dev/wcxb_dev.tar.xz
    ../shared/data/html_gold/cleaning_sets/cleaning_sets.tar.xz --quick
    """
    import os

    from curate.tools import evaluate_extract

    try:
        ui = console()
        with ui.bar("eval-extract") as bar:
            summary = evaluate_extract.evaluate(
                paths, extractors or evaluate_extract.DEFAULT_EXTRACTORS, snippets=snippets,
                limit=40 if quick and not limit else limit, timeout=timeout, log=ui.say, progress=bar,
                repeat=repeat)
    except (FileNotFoundError, ValueError, KeyError) as error:
        raise click.ClickException(str(error)) from None
    for set_name, figures in summary["sets"].items():
        click.echo(f"\n{set_name} ({figures['pages']} pages; oracle {figures['oracle'].get('all')}, "
                   f"held-out {figures['oracle'].get('heldout')})")
        click.echo(table(["extractor", "F1", "F1 held-out", "precision", "recall", "docs/s/core", "lost (held-out)"],
                         [(name, r["f1"], r["f1_heldout"], r["precision"], r["recall"], r["docs_per_s"],
                           f"{r['lost']['all']} ({r['lost']['heldout']})") for name, r in figures["extractors"].items()]))
        published = {name: r["published"] for name, r in figures["extractors"].items() if "published" in r}
        if published:
            n = next(iter(published.values()))["pages_with_comments"]
            click.echo(f"against the gold as published, readers' comments included ({n} gold files hold them after "
                       "the set's marker; the article alone is scored above):")
            click.echo(table(["extractor", "F1", "F1 held-out"], [(name, r["f1"], r["f1_heldout"])
                                                                  for name, r in published.items()]))
    click.echo(f"\n{summary['default']} by page type, first set:")
    types = [t for t in summary["extractors"][summary["default"]]["by_type"]]
    click.echo(table(["extractor", *types], [(name, *(r["by_type"].get(t) for t in types))
                                             for name, r in summary["extractors"].items()]))
    click.echo(f"load average {os.getloadavg()[0]:.1f}")
    click.echo(json.dumps(summary))
