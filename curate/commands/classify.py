"""`curate train-labels`: a topic, format or graded-quality classifier from labelled documents,
reported against the majority class and a bag-of-words logistic regression (curate.tools.classifier_multi)."""

from __future__ import annotations

import sys

import click

from curate.errors import console
from curate.tools.display import table


@click.command("train-labels")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", required=True, help="Model file to write (.bin); MODEL.card.md and .json go beside it.")
@click.option("--label-field", default="label", show_default=True, help="The label field of the records "
              "(a string; for multilabel a list or comma-separated string; for graded an integer).")
@click.option("--text-field", default="text", show_default=True)
@click.option("--kind", type=click.Choice(["multiclass", "multilabel", "graded"]), default="multiclass",
              show_default=True, help="One label per document, several, or an integer grade (ordinal classes).")
@click.option("--test", "test", multiple=True, help="Held-out documents (repeatable); default: a seeded --holdout.")
@click.option("--holdout", type=float, default=0.2, show_default=True, help="Held-out fraction without --test.")
@click.option("--validation", type=float, default=0.15, show_default=True,
              help="Fraction of the training documents used to tune fastText and the baseline.")
@click.option("--no-tune", is_flag=True, help="Train fastText at --epoch/--lr/--word-ngrams/--dim/--dedup/--shape "
              "without tuning.")
@click.option("--folds", type=int, default=2, show_default=True,
              help="Random fit/validation splits each tuning trial is averaged over.")
@click.option("--dedup", is_flag=True, help="Untuned: each distinct word once per document (tuning tries both).")
@click.option("--shape", is_flag=True, help="Untuned: add document shape tokens (line counts, lengths, prices...; "
              "tuning tries both). The card records it and the classify stage applies it.")
@click.option("--epoch", type=int, default=10, show_default=True)
@click.option("--lr", type=float, default=0.5, show_default=True)
@click.option("--word-ngrams", type=int, default=2, show_default=True)
@click.option("--dim", type=int, default=32, show_default=True)
@click.option("--min-count-label", type=int, default=1, show_default=True, help="Drop labels with fewer training documents.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the splits, fastText and the baseline.")
def train_labels(inputs, output, label_field, text_field, kind, test, holdout, validation, no_tune, folds, dedup,
                 shape, epoch, lr, word_ngrams, dim, min_count_label, seed):
    """Train a multi-class, multi-label or graded (0-5) fastText classifier from JSONL/Parquet INPUTS.

    The card reports per-class precision/recall/F1, macro-F1, the confusion matrix (graded: Pearson,
    Spearman and F1 at each threshold) for fastText and, on the same split, for the majority class and
    a bag-of-words logistic regression, with documents scored per second.

    Example: curate train-labels pages.jsonl --label-field page_type --output out/format.bin
    """
    from curate.tools.classifier_multi import LabelParams
    from curate.tools.classifier_multi import train_labels as train

    params = LabelParams(label_field=label_field, text_field=text_field, kind=kind, holdout=holdout,
                         validation=validation, min_count_label=min_count_label, tune=not no_tune, seed=seed,
                         epoch=epoch, lr=lr, word_ngrams=word_ngrams, dim=dim, folds=folds, dedup=dedup,
                         shape=shape)
    ui = console()
    try:
        with ui.bar("train-labels") as bar:
            result = train(list(inputs), output, params, test=list(test) or None, log=ui.say, progress=bar)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    rows = [(name, m["macro_f1"], m["micro_f1"], (m.get("graded") or {}).get("spearman", "-"), m["docs_per_s"])
            for name, m in result.metrics.items()]
    click.echo(table(["model", "macro-F1", "micro-F1", "Spearman", "docs/s"], rows))
    click.echo(f"model: {result.model}\ncard: {result.card_md}", file=sys.stdout)
