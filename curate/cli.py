"""The `curate` command: thin shells over curate's API, each with an example in its help.

Every command runs inside one error boundary (`curate.errors.Boundary`): a failure of the world outside the
code (a file that cannot be read or written, a full disk, a bad recipe, override or model file,
an output folder in use) ends the command with one line, `Error: <message naming the path>`, and
exit status 1; `curate --debug ...` shows the traceback instead. Long work draws one progress bar with
an ETA on stderr when it is a terminal (`--progress` forces it); `--quiet` keeps only results and errors.
"""

from __future__ import annotations

import json
import signal

import click

from curate.core import registry
from curate.core.config import RecipeError, load_recipe
from curate.core.progress import Console
from curate.core.sql import literal
from curate.errors import Boundary, console, query_failed, terminate
from curate.tools.display import emit, render_summary, table


@click.group(cls=Boundary)
@click.version_option(package_name="curate")
@click.option("--debug", is_flag=True, help="Show the traceback of an error, and third-party log lines.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or informational lines: results and errors only.")
@click.option("--progress", "force_progress", is_flag=True, help="Draw progress bars even when stderr is not a terminal.")
@click.pass_context
def main(ctx, debug, quiet, force_progress):
    """curate: turn raw web crawls into a clean, deduplicated pretraining corpus, with numbers.

    Example: curate run pipelines/fineweb.yaml --output out/demo
    """
    ctx.obj = Console(quiet=quiet, force_progress=force_progress, debug=debug)
    ctx.obj.configure_logging()


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
    from curate.pipelines import runner

    ui, extra = console(), list(overrides) + (["input=" + json.dumps(list(inputs))] if inputs else [])
    extra += [f"{key}={value}" for key, value in (("output", output), ("executor.tasks", tasks),
                                                  ("executor.workers", workers), ("mode", mode)) if value is not None]
    parsed = load_recipe(recipe, overrides=extra)
    ui.say(f"curate: running {parsed.name} ({parsed.mode} mode, {len(parsed.stages)} stages, "
           f"{parsed.executor.tasks} task(s)) -> {parsed.output}")
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        result = runner.run(parsed, overwrite=overwrite, log_level=ui.log_level,
                            progress=not no_progress and ui.bar(parsed.name, "B"))
    finally:
        signal.signal(signal.SIGTERM, previous)
    for message in result.messages:
        click.echo(message)
    if not result.submitted:
        click.echo(render_summary(result))


@main.command("list-stages")
@click.argument("name", required=False)
def list_stages(name):
    """List every registered stage with its version and first sentence; with NAME, one stage in full:
    its parameters (types, defaults), signals (which way keeps, the threshold parameter) and reasons.

    Example: curate list-stages gopher_quality
    """
    from curate.tools import stages

    if name is None:
        rows = [(spec.versioned, spec.kind, stages.summary(spec.load().__doc__ or "")) for spec in registry.STAGES]
        click.echo(table(["stage", "kind", "description"], rows))
        return
    info = stages.describe(registry.get(name))
    click.echo(f"{info.name} ({info.kind}): {info.summary}\n")
    click.echo(table(["parameter", "type", "default"], [(p.name, p.type, p.default) for p in info.parameters]))
    if info.signals:
        click.echo("\n" + table(["signal", "type", "keeps", "threshold", "reasons"],
                                 [(s.column, s.type, s.keep, s.threshold, ", ".join(r.partition(":")[2] for r in s.reasons))
                                  for s in info.signals]))
    click.echo("\nreasons: " + (", ".join(info.reasons) or "none (never drops)"))


@main.command("stats")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.argument("sql", required=False)
@click.option("--query", "name", type=click.Choice(["funnel", "reasons", "languages", "domains", "lengths", "signals"]),
              help="A named query instead of SQL.")
@click.option("--analysis", is_flag=True, help="Pronouns, identity terms, toxicity and languages of the kept documents.")
@click.option("--badwords", type=click.Path(exists=True), help="--analysis: an LDNOOBW-style list (file or folder) to count.")
@click.option("--badwords-language", default="en", show_default=True, help="--analysis: the list to read from a folder.")
@click.option("--threshold", type=float, default=0.5, show_default=True,
              help="--analysis: toxicity score (or bad-word count) at or above which a document counts as toxic.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
def stats_command(out, sql, name, analysis, badwords, badwords_language, threshold, fmt):
    """Query a run's outputs with DuckDB: views `decisions`, `documents` and one per OUT/reports/*.parquet.

    With no SQL, prints the funnel (documents and characters per stage), drop reasons, languages,
    domains and length histograms. --query NAME prints one of them (or `signals`);
    --analysis prints the Llama-2-style analysis of the kept documents.

    Example: curate stats out/demo "SELECT language, avg(language_score) FROM decisions GROUP BY 1"
    """
    from curate.tools import stats

    try:
        if analysis:
            from curate.tools import analysis as analysis_module

            tables = analysis_module.analyze(out, badwords=badwords, threshold=threshold,
                                             badwords_language=badwords_language)
        elif sql is not None:
            tables = {"": stats.query(out, sql)}
        else:
            names = [name] if name else ["funnel", "reasons", "languages", "domains", "lengths"]
            con = stats.connect(out)
            tables = {n: stats.named(out, n, con) for n in names}
            from pathlib import Path

            for path in [] if name else sorted((Path(out) / "reports").glob("*.parquet")):  # e.g. decontamination
                cursor = con.execute(f"SELECT * FROM read_parquet({literal(path)})")
                tables[path.stem] = ([d[0] for d in cursor.description], cursor.fetchall())
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:  # DuckDB's own message names the problem
        raise click.ClickException(f"query failed: {error}") from None
    emit(tables, fmt)


@main.command("sweep")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.argument("signals", nargs=-1, required=True)
@click.option("--thresholds", help="Comma-separated thresholds; default: 11 quantiles of the signal.")
@click.option("--keep", type=click.Choice([">=", "<="]), help="Keep documents with signal >= or <= the threshold; "
              "default: the direction the stage declares; a two-sided or descriptive signal needs it.")
@click.option("--joint", is_flag=True, help="SIGNALS are conditions (SIGNAL>=X, SIGNAL<=Y): each alone, then together.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
def sweep_command(out, signals, thresholds, keep, joint, fmt):
    """Retention (documents, characters, tokens if counted) against a threshold on a recorded signal.

    SIGNAL is a signal column (`<stage>__<signal>`, or its unique short form) of an annotate-mode
    run; nothing is re-run. With --joint, give conditions and see their combined effect.

    Example: curate sweep out/ann gopher_quality__mean_word_length --thresholds 3,3.5,4 --keep ">="

    Example: curate sweep out/ann --joint 'line_punct_ratio>=0.12' 'dup_line_frac<=0.3'
    """
    from curate.tools import sweep

    try:
        if joint:
            headers, rows, total = sweep.joint(out, list(signals))
            title = f"joint effect on {total[0]:,} documents"
        else:
            if len(signals) != 1:
                raise click.ClickException("give one SIGNAL (or --joint with conditions)")
            values = [float(v) for v in thresholds.split(",")] if thresholds else None
            result = sweep.sweep(out, signals[0], values, keep)
            headers, rows = result.headers, [(f"{r[0]:g}", *r[1:]) for r in result.rows]
            title = f"{result.signal}: keep {result.keep} threshold, of {result.total[0]:,} documents"
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    if fmt == "table":
        click.echo(title)
    emit({title: (headers, rows)} if fmt != "table" else {"": (headers, rows)}, fmt)


@main.command("report")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--ablation", type=click.Path(exists=True, file_okay=False),
              help="An ablation run folder (results.parquet, summary.parquet, curves.parquet) to add.")
@click.option("--output", "path", type=click.Path(dir_okay=False), help="Where to write; default OUT/report.html.")
def report_command(out, ablation, path):
    """Write a self-contained HTML report of a run (inline SVG charts; no network needed to view it).

    Example: curate report out/demo && open out/demo/report.html
    """
    from curate.tools import report

    try:
        written = report.write_report(out, ablation=ablation, path=path)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {written}")


@main.command("mix")
@click.argument("mix_file", metavar="MIX.yaml", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1)
@click.option("--output", help="Output folder; replaces the mix file's.")
@click.option("--seed", type=int, help="Seed for document choice and shuffling; replaces the mix file's.")
@click.option("--overwrite", is_flag=True, help="Replace a mix already in OUTPUT.")
def mix_command(mix_file, overrides, output, seed, overwrite):
    """Mix sources by token shares into shuffled Parquet shards plus a manifest.

    OVERRIDES are key.sub=value pairs, e.g. budget=1000000 or sources.web.share=0.5.

    Example: curate mix pipelines/mix_example.yaml --output out/mix budget=20000
    """
    from curate.tools import mix

    ui, extra = console(), list(overrides) + [f"{k}={v}" for k, v in (("output", output), ("seed", seed)) if v is not None]
    try:
        with ui.bar("mix") as bar:
            result = mix.mix(mix.load_mix(mix_file, extra), overwrite=overwrite, progress=bar)
    except (mix.MixError, FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    for message in result.messages:
        ui.say(f"note: {message}")
    rows = [(r.source, r.documents, r.tokens, round(r.epochs, 3), round(r.requested_share, 4),
             round(r.achieved_share, 4)) for r in result.reports]
    click.echo(table(["source", "documents", "tokens", "epochs", "requested share", "achieved share"], rows))
    click.echo(f"\n{result.tokens:,} tokens ({result.tokenizer}) in {len(result.shards)} shard(s): "
               f"{result.output}/shards/, manifest {result.output}/manifest.json")


@main.command("ablate")
@click.argument("config", metavar="ABLATION.yaml", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1)
@click.option("--output", help="Run folder; replaces the config's. Rerunning into it resumes a killed sweep.")
def ablate_command(config, overrides, output):
    """Train small decoders on equal token budgets per variant x seed; rank variants against the baseline.

    OVERRIDES are key.sub=value pairs, e.g. train.tokens=2000000 or seeds=[0,1,2,3,4].

    Example: curate ablate pipelines/ablation_damage_tiny.yaml --output out/ablate
    """
    from curate.ablation.run import load_config, run_ablation

    ui = console()
    try:
        with ui.bar("ablate") as bar:
            run_ablation(load_config(config, list(overrides)), output=output, log=ui.say, progress=bar)
    except (RecipeError, FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None


@main.command("train-classifier")
@click.option("--positive", "positive", multiple=True, help="Positive (good) documents: JSONL, Parquet, .txt, or a folder of them (repeatable).")
@click.option("--negative", "negative", multiple=True, help="Negative documents, same formats (repeatable).")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="YAML with `positive:` and `negative:` lists (paths relative to it) and any option below.")
@click.option("--output", required=True, help="Model file to write (.bin; .ftz with --quantize); the card goes beside it.")
@click.option("--chunk-words", type=int, help="Cut documents into pieces of about N words (books, long pages).")
@click.option("--holdout", type=float, default=0.1, show_default=True, help="Held-out fraction per class.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the balancing, the split and fastText.")
@click.option("--epoch", type=int, default=5, show_default=True)
@click.option("--lr", type=float, default=0.1, show_default=True)
@click.option("--dim", type=int, help="Embedding size; default: 32 up to 1M training tokens, 64 up to 100M, else 100.")
@click.option("--bucket", type=int, help="Hash buckets for bigrams (model size: (words + bucket) x dim x 4 bytes); "
              "default: scaled to the training tokens, the model within 10 MB.")
@click.option("--max-per-class", type=int, help="Down-sample each class to at most N documents.")
@click.option("--label", default="hq", show_default=True, help="Positive label (the stage's `label`).")
@click.option("--no-balance", is_flag=True, help="Keep every document instead of down-sampling the larger class.")
@click.option("--quantize/--no-quantize", default=None, help="Quantize the model (fastText .ftz, much smaller); "
              "default: only if it would be over 10 MB.")
def train_classifier(positive, negative, config, output, chunk_words, holdout, seed, epoch, lr, dim, bucket,
                     max_per_class, label, no_balance, quantize):
    """Train a fastText quality classifier (DCLM's recipe), report it on held-out data, write a card.

    Example: curate train-classifier --positive books/ --negative crawl.parquet --output out/quality.bin --chunk-words 300
    """
    from curate.tools import classifier

    options = dict(chunk_words=chunk_words, holdout=holdout, seed=seed, epoch=epoch, lr=lr, dim=dim, bucket=bucket,
                   max_per_class=max_per_class, label=label, balance=not no_balance, quantize=quantize)
    try:
        positive, negative, options = classifier.with_config(config, list(positive), list(negative), options)
        if not positive or not negative:
            raise click.UsageError("give at least one --positive and one --negative input (or --config)")
        ui = console()
        with ui.bar("train-classifier") as bar:
            result = classifier.train(positive, negative, output, classifier.TrainParams(**options), log=ui.say,
                                      progress=bar)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    c, m = result.counts, result.metrics
    click.echo(table(["class", "read", "train", "held out"],
                     [("positive", c["positive_read"], c["positive_train"], c["positive_heldout"]),
                      ("negative", c["negative_read"], c["negative_train"], c["negative_heldout"])]))
    if m:
        click.echo(f"held-out AUC {m['auc']:.4f}, precision {m['precision']:.4f}, recall {m['recall']:.4f} "
                   f"at p >= {m['threshold']}; AUC of length alone {m['length_only_auc']:.4f}")
    click.echo(f"model {result.model} ({result.model_bytes / 2**20:.2f} MB; dim {result.params['dim']}, "
               f"bucket {result.params['bucket']:,}{', quantized' if result.params['quantize'] else ''}), "
               f"card {result.card_md} and {result.card_json} ({result.seconds} s)")


@main.command("decontam-index")
@click.argument("bench_dirs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Index file to write (.npz).")
@click.option("-n", "n", type=int, default=13, show_default=True, help="Words per n-gram.")
@click.option("--min-words", type=int, default=8, show_default=True,
              help="Items shorter than n words but at least this long are indexed whole; shorter ones are left out.")
@click.option("--max-items", type=int, default=10, show_default=True,
              help="An n-gram found in more than this many items is no evidence and is left out.")
@click.option("--fields", multiple=True, help="FORMAT=field,... (fields: context, question, choices, answer), repeatable.")
def decontam_index(bench_dirs, output, n, min_words, max_items, fields):
    """Build the benchmark n-gram index that the `decontaminate` stage reads (its `index:`).

    BENCH_DIRS are folders or files of benchmarks: GSM8K and HellaSwag JSONL, HumanEval JSONL.gz,
    TruthfulQA CSV/JSON, MMLU CSV (also inside .tar.xz), llm-foundry ICL JSONL.

    Example: curate decontam-index ../shared/data/benchmarks --output out/bench-13.npz --fields gsm8k=question
    """
    from curate.filters.decontaminate import index as decontam

    try:
        with console().bar("decontam-index") as bar:
            index = decontam.NGramIndex.build(list(bench_dirs), n=n, fields=decontam.parse_fields(fields),
                                              min_words=min_words, max_items=max_items, progress=bar)
        index.save(output)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    s = index.stats
    click.echo(table(["benchmark", "items"], decontam.summary(index)))
    for skipped in s["skipped_files"]:
        click.echo(f"skipped {skipped}")
    click.echo(f"{s['items']:,} items from {s['files']} files ({s['corrupt_records']} corrupt records skipped): "
               f"{s['keys']:,} keys, {s['too_short']:,} items under {min_words} words left out, "
               f"{s['frequent_keys_dropped']:,} n-grams in more than {max_items} items left out; "
               f"{s['seconds']} s -> {output}")


@main.command("eval-lang")
@click.argument("path", type=click.Path(exists=True))
@click.option("--model", type=click.Path(exists=True, dir_okay=False), help="A fastText LID model; default lid.176.")
@click.option("--refine", type=click.Choice(["lingua", "none"]), default="lingua", show_default=True,
              help="Second stage for close languages and languages fastText has no label for.")
@click.option("--limit", type=int, help="At most N samples per language and kind (a quick run).")
@click.option("--lines", type=click.Choice(["all", "tune", "holdout"]), default="all", show_default=True,
              help="tune: even lines; holdout: odd lines (thresholds are tuned on one half, reported on the other).")
def eval_lang(path, model, refine, limit, lines):
    """Accuracy and macro-F1 of `fasttext_lang` over test data laid out like lingua's.

    PATH holds sentences/xx.txt, word-pairs/xx.txt and single-words/xx.txt (a folder or a .tar.xz).
    The last line is one JSON object with the overall figures.

    Example: curate eval-lang ../shared/data/multilingual/lingua_language-testdata.tar.xz --limit 100
    """
    from curate.filters.fasttext_lang import FastTextLang
    from curate.tools import evaluate_lang

    try:
        step = FastTextLang(model=model, refine=None if refine == "none" else refine)
        with console().bar("eval-lang") as bar:
            report = evaluate_lang.evaluate(path, step, limit=limit, lines=lines, progress=bar)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    kinds = list(report["results"])
    headers = ["language", "supported"] + [f"{kind} {m}" for kind in kinds for m in ("acc", "F1")]
    click.echo(table(headers, evaluate_lang.table_rows(report)))
    for kind, result in report["results"].items():
        top = ", ".join(f"{t}->{p} {n}" for (t, p), n in result.confusions.most_common(8))
        click.echo(f"{kind}: top confusions {top}")
    click.echo(json.dumps(evaluate_lang.summary(report)))


@main.command("inspect")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--reason", help="Documents dropped (or, in annotate mode, that would be dropped) for this reason.")
@click.option("--stage", help="Documents this stage dropped (or would drop); shows its signals.")
@click.option("--where", "where", metavar="SQL", help="A DuckDB condition on the decision table's columns.")
@click.option("--kept", is_flag=True, help="Only kept documents.")
@click.option("-n", "n", type=int, default=5, show_default=True, help="How many documents to show.")
@click.option("--chars", type=int, default=500, show_default=True, help="Characters of text to show per document.")
def inspect_command(out, reason, stage, where, kept, n, chars):
    """Show documents of a run with their decision, reason, signals and the start of their text.

    Kept documents' text comes from OUT/documents; in filter mode a seeded sample of 20 dropped
    documents per reason per task is kept in OUT/dropped, and those come first.

    Example: curate inspect out/demo --reason gopher_quality:too_few_stop_words -n 5

    Example: curate inspect out/demo --kept --where "n_words < 200"
    """
    from curate.tools import inspect as inspect_tool

    try:
        found = inspect_tool.find(out, reason=reason, stage=stage, where=where, kept=kept, n=n)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:  # DuckDB's own message names the problem (a bad --where)
        raise query_failed(error) from None
    click.echo(inspect_tool.render(found, chars=chars))


def _register_commands() -> None:
    """The commands that live in curate/commands/, one module per command."""
    from curate.commands.annotate import annotate_command
    from curate.commands.classify import train_labels
    from curate.commands.eval_extract import eval_extract
    from curate.commands.tokenize import tokenize_command

    for command in (annotate_command, eval_extract, train_labels, tokenize_command):
        main.add_command(command)


_register_commands()

if __name__ == "__main__":
    main()
