"""Ratings from a language model: `curate annotate` scores a sample of documents through an
OpenAI-compatible endpoint, to train a graded classifier on (FineWeb-Edu's distillation).

FineWeb-Edu (Penedo et al. 2024, "The FineWeb Datasets", section 3.4) had Llama-3-70B-Instruct
rate 450k FineWeb pages for educational value on an additive 0-5 scale, then trained a small
regressor on those ratings to score the whole corpus. This module is the rating half, against any
server that speaks `POST /v1/chat/completions` (vLLM, SGLang, llama.cpp's server, a hosted API):
nothing is downloaded, the endpoint is the user's.

- The prompt is a template file whose `{text}` is replaced by the document (cut to `max_chars`);
  the example shipped, `data/fineweb_edu_prompt.txt`, is FineWeb-Edu's annotation prompt as
  published with its classifier (huggingface.co/HuggingFaceFW/fineweb-edu-classifier,
  utils/prompt.txt; Apache-2.0), with its `<EXAMPLE>` slot written `{text}`.
- The score is the last match of `score_pattern` in the reply (FineWeb-Edu's
  "Educational score: N"); a reply without one counts as unparsed and gets no row.
- Requests run on a thread pool of `concurrency` threads, at most twice that many in flight.
- Every reply is appended (and flushed) to a JSONL cache, keyed by the sha256 of the model and the
  filled prompt (so of template, text and model): a run killed at any point and run again sends
  only the documents whose replies were not yet written; a torn last line is ignored. A failed
  request (after `retries` attempts) is not cached, so the next run retries it.
- Throughput (documents per second of the requests sent) and tokens in/out come from each reply's
  `usage`; the cost is tokens x `price_in`/`price_out` per million tokens.
- `progress(done, total, phase, unit, note=...)` (curate.core.progress) hears of the documents
  read (a total only when every input is Parquet: its footers count them) and of every reply or
  failure of the requests sent, so the bar's ETA is that of the endpoint.

Output: Parquet (or JSONL, by the name) with `id`, `text` (the document, uncut) and `score`
(int64, 0-5 for the shipped prompt), one row per rated document, which `curate train-labels --kind graded`
reads as graded training data; beside it `NAME.report.json`.

Example:
    annotate(read_sample(["out/demo"], 2000, seed=0), AnnotateConfig(base_url="http://localhost:8000/v1",
             model="meta-llama/Llama-3.1-8B-Instruct", output="out/ratings.parquet"))
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from curate.io import documents
from curate.tools.shards import TokenizeError, count_documents, input_files

EXAMPLE_TEMPLATE = Path(__file__).parent / "data" / "fineweb_edu_prompt.txt"
FINEWEB_EDU_SCORE = r"Educational score:\s*(\d+(?:\.\d+)?)"
SLOT = "{text}"
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
READ_PROGRESS_EVERY = 1000  # records between progress calls while reading


class AnnotateError(ValueError):
    """A template, input or option `curate annotate` cannot use."""


@dataclass
class AnnotateConfig:
    base_url: str
    model: str
    output: str
    template: str = str(EXAMPLE_TEMPLATE)
    cache: str | None = None  # default: OUTPUT's name + ".cache.jsonl"
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    max_chars: int = 20_000
    max_tokens: int = 512
    temperature: float = 0.0
    score_pattern: str = FINEWEB_EDU_SCORE
    timeout: float = 120.0
    retries: int = 3
    price_in: float | None = None  # per million prompt tokens
    price_out: float | None = None  # per million completion tokens

    @property
    def cache_path(self) -> Path:
        return Path(self.cache) if self.cache else _beside(self.output, ".cache.jsonl")


@dataclass
class AnnotateReport:
    documents: int = 0
    rated: int = 0
    cached: int = 0
    sent: int = 0
    failed: int = 0
    unparsed: int = 0
    seconds: float = 0.0
    docs_per_s: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None
    scores: dict = field(default_factory=dict)
    first_error: str | None = None
    output: str = ""


# ---- input -------------------------------------------------------------------------------------------

def read_sample(paths: Iterable[str], sample: int | None, seed: int = 0, text_column: str = "text",
                id_column: str = "id", progress=None) -> list[dict]:
    """Up to `sample` documents {id, text} drawn uniformly (reservoir sampling, seeded, in input order),
    or every document when `sample` is None; memory holds only the sample."""
    rng, kept, seen, read = random.Random(seed), [], 0, 0
    try:
        files = [file for spec in paths for file in input_files(spec)]
    except TokenizeError as error:
        raise AnnotateError(str(error)) from None
    total, progress = count_documents(files), progress or (lambda *args, **kwargs: None)
    for file in files:
        fmt = "parquet" if documents.format_of(file) == "parquet" else "jsonl"
        try:
            records = documents.iter_records(file, fmt=fmt, columns=[text_column], optional=[id_column])
            for n, record in enumerate(records):
                read += 1
                if read % READ_PROGRESS_EVERY == 0:
                    progress(read, total, "reading", "doc")
                text = record.get(text_column)
                if not isinstance(text, str) or not text.strip():
                    continue
                doc_id = record.get(id_column)
                doc = {"id": str(doc_id) if doc_id is not None else f"{file.name}#{n}", "text": text, "n": seen}
                seen += 1
                if sample is None or len(kept) < sample:
                    kept.append(doc)
                elif (j := rng.randrange(seen)) < sample:
                    kept[j] = doc
        except documents.DocumentError as error:
            raise AnnotateError(str(error)) from None
        progress(read, total, "reading", "doc")
    return [{"id": d["id"], "text": d["text"]} for d in sorted(kept, key=lambda d: d["n"])]


def load_template(path: str | os.PathLike) -> str:
    try:
        template = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnnotateError(f"prompt template not found: {path}") from None
    if SLOT not in template:
        raise AnnotateError(f"{path}: the template has no {SLOT} slot for the document")
    return template


# ---- the cache ---------------------------------------------------------------------------------------

def cache_key(model: str, prompt: str) -> str:
    return hashlib.sha256(json.dumps([model, prompt]).encode()).hexdigest()


def load_cache(path: Path) -> dict[str, dict]:
    """key -> {reply, usage} from the append log; a torn last line (a kill mid-write) is skipped."""
    entries = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                entries[entry["key"]] = entry
            except (ValueError, KeyError, TypeError):
                continue
    return entries


# ---- the endpoint ------------------------------------------------------------------------------------

def chat(config: AnnotateConfig, prompt: str, api_key: str | None) -> dict:
    """One chat completion: {reply, usage}. Retries timeouts, 429 and 5xx with exponential backoff."""
    body = json.dumps({"model": config.model, "messages": [{"role": "user", "content": prompt}],
                       "temperature": config.temperature, "max_tokens": config.max_tokens}).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    url = config.base_url.rstrip("/") + "/chat/completions"
    for attempt in range(config.retries):
        try:
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=config.timeout) as response:
                answer = json.loads(response.read())
            return {"reply": answer["choices"][0]["message"]["content"] or "", "usage": answer.get("usage") or {}}
        except urllib.error.HTTPError as error:
            if error.code not in RETRY_STATUS or attempt == config.retries - 1:
                raise RuntimeError(f"{url}: HTTP {error.code} {error.read()[:200]!r}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            if attempt == config.retries - 1:
                raise RuntimeError(f"{url}: {error}") from None
        time.sleep(min(30.0, 0.5 * 2 ** attempt))
    raise AssertionError("unreachable")


def parse_score(reply: str, pattern: str = FINEWEB_EDU_SCORE) -> float | None:
    """The last number `pattern` captures in `reply` (a model may restate the format first), or None."""
    matches = re.findall(pattern, reply)
    return float(matches[-1]) if matches else None


# ---- the run -----------------------------------------------------------------------------------------

def annotate(docs: list[dict], config: AnnotateConfig, progress: Callable[..., None] | None = None
             ) -> AnnotateReport:
    """Rate `docs` ({id, text}); write the ratings file and its report (see the module docstring).
    `progress(sent, to_send, "annotating", "doc", note=...)` before the first request and after each."""
    if config.concurrency < 1:
        raise AnnotateError(f"concurrency must be at least 1, got {config.concurrency}")
    template = load_template(config.template)
    if documents.format_of(config.output) not in ("jsonl", "parquet") or config.output.endswith((".gz", ".zst")):
        raise AnnotateError(f"{config.output}: name the ratings file .parquet or .jsonl")
    prompts = [template.replace(SLOT, d["text"][: config.max_chars]) for d in docs]
    keys = [cache_key(config.model, p) for p in prompts]
    cache_path = config.cache_path
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache = load_cache(cache_path)
    todo = {k: p for k, p in zip(keys, prompts) if k not in cache}  # a repeated text is sent once
    report = AnnotateReport(documents=len(docs), cached=sum(k in cache for k in keys))
    start = time.perf_counter()
    _send(todo, config, cache, cache_path, report, progress or (lambda *args, **kwargs: None))
    report.seconds = round(time.perf_counter() - start, 3)
    report.docs_per_s = round(report.sent / report.seconds, 2) if report.seconds and report.sent else 0.0
    rows = _rows(docs, keys, cache, config, report)
    _write(rows, config.output)
    if config.price_in is not None or config.price_out is not None:
        report.cost = round(report.tokens_in / 1e6 * (config.price_in or 0)
                            + report.tokens_out / 1e6 * (config.price_out or 0), 6)
    report.output = config.output
    _beside(config.output, ".report.json").write_text(json.dumps({"config": asdict(config), **asdict(report)},
                                                                 indent=1) + "\n")
    return report


def _send(todo: dict[str, str], config: AnnotateConfig, cache: dict, cache_path: Path, report: AnnotateReport,
          progress) -> None:
    """Send the uncached prompts, at most 2 x concurrency in flight; append each reply as it lands."""
    api_key = os.environ.get(config.api_key_env) or None
    pending = iter(todo.items())
    progress(0, len(todo), "annotating", "doc", note=_note(report))
    with ThreadPoolExecutor(config.concurrency) as pool, open(cache_path, "a", encoding="utf-8") as log:
        running = {}
        while True:
            while len(running) < 2 * config.concurrency and (item := next(pending, None)):
                running[pool.submit(chat, config, item[1], api_key)] = item[0]
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                _record(running.pop(future), future, cache, log, report)
                progress(report.sent, len(todo), "annotating", "doc", note=_note(report))


def _record(key: str, future, cache: dict, log, report: AnnotateReport) -> None:
    """One finished request: its reply appended to the cache log and counted, or its failure counted."""
    report.sent += 1
    try:
        entry = {"key": key, **future.result()}
    except RuntimeError as error:
        report.failed += 1
        report.first_error = report.first_error or str(error)
        return
    log.write(json.dumps(entry) + "\n")
    log.flush()
    cache[key] = entry
    report.tokens_in += int(entry["usage"].get("prompt_tokens") or 0)
    report.tokens_out += int(entry["usage"].get("completion_tokens") or 0)


def _note(report: AnnotateReport) -> str:
    """The bar's postfix: what was not sent, and what failed."""
    return f"{report.cached:,} from cache" + (f", {report.failed:,} failed" if report.failed else "")


def _rows(docs: list[dict], keys: list[str], cache: dict, config: AnnotateConfig, report: AnnotateReport) -> list:
    rows, scores = [], Counter()
    for doc, key in zip(docs, keys):
        if key not in cache:
            continue  # failed this run; counted in report.failed, retried next run
        score = parse_score(cache[key]["reply"], config.score_pattern)
        if score is None:
            report.unparsed += 1
            continue
        rows.append({"id": doc["id"], "text": doc["text"], "score": int(score) if score.is_integer() else score})
        scores[rows[-1]["score"]] += 1
    report.rated = len(rows)
    report.scores = {str(k): v for k, v in sorted(scores.items())}
    return rows


def _write(rows: list[dict], output: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    if documents.format_of(path) == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        return
    score_type = pa.int64() if all(isinstance(r["score"], int) for r in rows) else pa.float64()
    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("score", score_type)])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")


def _beside(output: str, suffix: str) -> Path:
    path = Path(output)
    name = path.name
    for ext in (".parquet", ".jsonl"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return path.with_name(name + suffix)
