"""`curate annotate`: rate a sample of documents with a language model behind an OpenAI-compatible endpoint."""

from __future__ import annotations

import click

from curate.errors import console
from curate.tools.display import table


@click.command("annotate")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--base-url", required=True, help="The endpoint's base URL, e.g. http://localhost:8000/v1 "
              "(requests go to BASE_URL/chat/completions).")
@click.option("--model", required=True, help="Model name the endpoint serves.")
@click.option("--output", required=True, help="Ratings file: .parquet or .jsonl with id, text, score.")
@click.option("--template", type=click.Path(dir_okay=False), help="Prompt template with a {text} slot; "
              "default: FineWeb-Edu's additive 0-5 educational prompt.")
@click.option("--sample", type=int, help="Rate N documents drawn uniformly (seeded); default: all.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the sample.")
@click.option("--concurrency", type=int, default=8, show_default=True, help="Requests in parallel.")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable holding the API key (sent as a Bearer token when set).")
@click.option("--score-pattern", default=None, help="Regex whose group 1 is the score; default: "
              "FineWeb-Edu's 'Educational score: N'.")
@click.option("--max-chars", type=int, default=20_000, show_default=True, help="Cut each document to N characters.")
@click.option("--max-tokens", type=int, default=512, show_default=True, help="Reply length limit.")
@click.option("--cache", help="Reply cache (JSONL append log); default: beside the output. Reruns resume from it.")
@click.option("--price-in", type=float, help="Price per million prompt tokens, for the cost line.")
@click.option("--price-out", type=float, help="Price per million completion tokens.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--id-column", default="id", show_default=True)
def annotate_command(inputs, base_url, model, output, template, sample, seed, concurrency, api_key_env, score_pattern,
                     max_chars, max_tokens, cache, price_in, price_out, text_column, id_column):
    """Score documents with an LLM endpoint (vLLM, SGLang, llama.cpp, a hosted API); cached and resumable.

    INPUTS: a run folder, a `curate mix` output, JSONL or Parquet files or folders. Replies are
    cached by content hash, so a killed run, run again, sends only what is missing. The ratings
    (id, text, score) are graded training data for `curate train-labels --label-field score --kind graded`.

    Example: curate annotate out/demo --base-url http://localhost:8000/v1 --model Qwen/Qwen2.5-7B-Instruct
    --sample 2000 --output out/ratings.parquet --concurrency 32
    """
    from curate.tools import annotate

    config = annotate.AnnotateConfig(base_url=base_url, model=model, output=output, cache=cache,
                                     api_key_env=api_key_env, concurrency=concurrency, max_chars=max_chars,
                                     max_tokens=max_tokens, price_in=price_in, price_out=price_out)
    if template:
        config.template = template
    if score_pattern:
        config.score_pattern = score_pattern
    ui = console()
    try:
        with ui.bar("annotate", "doc") as bar:
            docs = annotate.read_sample(inputs, sample, seed=seed, text_column=text_column, id_column=id_column,
                                        progress=bar)
            ui.say(f"annotate: {len(docs):,} document(s) to rate with {model} at {base_url}")
            report = annotate.annotate(docs, config, progress=bar)
    except annotate.AnnotateError as error:
        raise click.ClickException(str(error)) from None
    click.echo(table(["documents", "rated", "from cache", "sent", "failed", "unparsed"],
                     [(report.documents, report.rated, report.cached, report.sent, report.failed, report.unparsed)]))
    click.echo(f"\nscores: {', '.join(f'{k}: {v}' for k, v in report.scores.items()) or 'none'}")
    cost = f", cost {report.cost:.4f}" if report.cost is not None else ""
    click.echo(f"{report.docs_per_s} docs/s over {report.seconds} s; tokens in {report.tokens_in:,}, "
               f"out {report.tokens_out:,}{cost}")
    if report.failed:
        ui.say(f"note: {report.failed} request(s) failed (first: {report.first_error}); run again to retry them")
    click.echo(f"ratings {output}")
    if report.failed and not report.rated:
        raise click.ClickException(f"every request failed: {report.first_error}")
