"""`curate tokenize`: documents -> shuffled token shards in datatrove's and Megatron's formats (curate.tools.shards)."""

from __future__ import annotations

import click

from curate.errors import console
from curate.tools.display import table


@click.command("tokenize")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", required=True, help="Output folder: datatrove/, megatron/, documents.parquet, manifest.json.")
@click.option("--tokenizer", help="A tokenizer.json or a folder holding one (never downloaded); "
              "default: the one a `curate mix` output carries.")
@click.option("--eos-token", default="<|endoftext|>", show_default=True,
              help="Token appended after every document (must be in the tokenizer's vocabulary).")
@click.option("--format", "formats", multiple=True, type=click.Choice(["datatrove", "megatron"]),
              help="Formats to write (repeatable); default: both.")
@click.option("--shard-tokens", type=int, default=1_000_000_000, show_default=True,
              help="A shard ends before the document that would take it past N tokens.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the global shuffle of documents.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--source-column", default="source", show_default=True,
              help="Per-source token counts; documents without it count under their input's name.")
@click.option("--label-column", default="label", show_default=True,
              help="Per-label token counts in the manifest (e.g. a classify stage's label column).")
@click.option("--overwrite", is_flag=True, help="Replace shards already in OUTPUT.")
def tokenize_command(inputs, output, tokenizer, eos_token, formats, shard_tokens, seed, text_column, source_column,
                     label_column, overwrite):
    """Tokenize documents into globally shuffled shards a trainer reads, plus a manifest.

    INPUTS: a `curate mix` output, a run folder, JSONL or Parquet files or folders. Every document
    ends with the end-of-document token; the manifest counts tokens per source, label and shard.

    Example: curate tokenize out/mix --output out/tokens --shard-tokens 50000000
    """
    from curate.tools import shards

    ui = console()
    config = shards.TokenizeConfig(output=output, tokenizer=tokenizer or "", eos_token=eos_token, seed=seed,
                                   shard_tokens=shard_tokens, formats=tuple(formats) or shards.FORMATS,
                                   text_column=text_column, source_column=source_column, label_column=label_column)
    try:
        with ui.bar("tokenize", "doc") as bar:
            result = shards.tokenize_paths(list(inputs), config, overwrite=overwrite, progress=bar)
    except shards.TokenizeError as error:
        raise click.ClickException(str(error)) from None
    manifest = result.manifest
    if manifest["skipped_empty"]:
        ui.say(f"note: {manifest['skipped_empty']:,} document(s) without text skipped")
    rows = [(name, v["documents"], v["tokens"], round(v["tokens"] / result.tokens, 4))
            for name, v in manifest["sources"].items()]
    click.echo(table(["source", "documents", "tokens", "share"], rows))
    if set(manifest["labels"]) != {shards.NONE}:
        rows = [(name, v["documents"], v["tokens"], round(v["tokens"] / result.tokens, 4))
                for name, v in manifest["labels"].items()]
        click.echo("\n" + table([config.label_column, "documents", "tokens", "share"], rows))
    click.echo(f"\n{result.tokens:,} tokens (end-of-document tokens included) from {result.documents:,} documents "
               f"in {len(result.shards)} shard(s) of {', '.join(config.formats)} under {result.output}/; "
               f"manifest {result.output}/manifest.json")
