"""Train a fastText quality classifier the DCLM way, report it on held-out data, write a model card.

DCLM's biggest single gain (Li et al. 2024, section 4.4) was a fastText classifier that separates
a small set of good documents from random web text, with word bigrams and balanced classes. This
module is that recipe as one function, `train()`:

1. read positive and negative documents (JSONL, Parquet, plain text; files or folders), optionally
   cut into pieces of about `chunk_words` words, so both classes have document-like lengths;
2. normalise them (`normalize`, from `curate.core.text`: NFKC, lowercased, punctuation split off,
   one line), the same function the `fasttext_classifier` stage applies before scoring;
3. balance the classes (the larger is down-sampled, seeded) and hold out a seeded, stratified
   fraction;
4. train fastText supervised (`wordNgrams=2`, `thread=1`, so the model is a function of the data
   and the seed), optionally quantize it (.ftz);
5. score the held-out documents and compute precision, recall and ROC AUC, plus the AUC of length
   alone (if that is also high, the classifier may only be learning length);
6. write MODEL.card.json and MODEL.card.md beside the model: inputs, counts, parameters, metrics.

Example: `train(["books/"], ["crawl.parquet"], "out/quality.bin", chunk_words=300, seed=0)`.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from curate.core.classifier_input import card_path
from curate.core.text import normalize
from curate.io import documents
from curate.tools.classifier_report import fasttext_version

INPUT_FORMATS = ("jsonl", "parquet", "text")  # curate.io.documents: JSONL (any compression), Parquet, .txt/.md


def chunks(text: str, words: int) -> list[str]:
    """`text` cut at paragraph (then line) boundaries into pieces of about `words` words; a
    paragraph longer than that is cut at word boundaries. Pieces under `words // 4` words are
    merged into the previous one, so lengths stay document-like."""
    pieces, current, n = [], [], 0
    for para in re.split(r"\n\s*\n|\n", text):
        tokens = para.split()
        while len(tokens) > words:
            if current:
                pieces.append(" ".join(current))
                current, n = [], 0
            pieces.append(" ".join(tokens[:words]))
            tokens = tokens[words:]
        if not tokens:
            continue
        if n + len(tokens) > words and n >= words // 4:
            pieces.append(" ".join(current))
            current, n = [], 0
        current.extend(tokens)
        n += len(tokens)
    if current:
        if n < words // 4 and pieces:
            pieces[-1] += " " + " ".join(current)
        else:
            pieces.append(" ".join(current))
    return pieces


@dataclass
class InputStats:
    path: str
    documents: int = 0
    skipped: int = 0  # corrupt JSONL lines, records without text


def input_files(path: str) -> list[Path]:
    """`path` itself, or every JSONL/Parquet/text file under the folder `path`, sorted."""
    if not Path(path).exists():
        raise FileNotFoundError(f"classifier input not found: {path}")
    files = documents.files_of(path, INPUT_FORMATS)
    if not files:
        raise FileNotFoundError(f"{path}: no {', '.join(documents.suffixes(INPUT_FORMATS))} files in this folder")
    return files


def read_texts(path: Path, stats: InputStats) -> list[str]:
    """The texts of one file: the `text` field of JSONL records or Parquet rows, or a whole text
    file. A corrupt JSONL line or a record without text is skipped and counted in `stats`."""
    if documents.format_of(path) not in INPUT_FORMATS:
        raise ValueError(f"{path}: unknown input format; expected {', '.join(documents.suffixes(INPUT_FORMATS))}")
    corrupt, texts = documents.ReadCounts(), []
    for record in documents.iter_records(path, columns=["text"], counts=corrupt):
        text = record.get("text")
        if isinstance(text, str) and text.strip():
            texts.append(text)
        else:
            stats.skipped += 1
    stats.skipped += corrupt.bad
    return texts


def load_documents(paths: list[str], chunk_words: int | None, progress=None) -> tuple[list[str], list[InputStats]]:
    """Every document (or chunk) of `paths`; `progress(files_done, files)` after each file."""
    docs, report = [], []
    files = [(path, input_files(path)) for path in paths]
    done, total = 0, sum(len(found) for _, found in files)
    if progress:
        progress(0, total)
    for path, found in files:
        stats = InputStats(str(path))
        for file in found:
            for text in read_texts(file, stats):
                for piece in chunks(text, chunk_words) if chunk_words else [text]:
                    if piece.strip():
                        docs.append(piece)
                        stats.documents += 1
            done += 1
            if progress:
                progress(done, total)
        report.append(stats)
    return docs, report


def roc_auc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve: the probability that a random positive outscores a random
    negative, ties counting one half (the Mann-Whitney U statistic over average ranks)."""
    order = sorted(range(len(scores)), key=scores.__getitem__)
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = sum(r for r, y in zip(ranks, labels) if y)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def precision_recall(scores: list[float], labels: list[int], threshold: float) -> tuple[float, float]:
    tp = sum(1 for s, y in zip(scores, labels) if y and s >= threshold)
    fp = sum(1 for s, y in zip(scores, labels) if not y and s >= threshold)
    fn = sum(1 for s, y in zip(scores, labels) if y and s < threshold)
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


@dataclass
class TrainParams:
    """fastText's supervised settings (DCLM: word bigrams) and the split. `thread=1` keeps
    training deterministic: fastText's Hogwild threads race on shared weights."""

    label: str = "hq"  # the positive label; negatives are `negative_label`
    negative_label: str = "lq"
    chunk_words: int | None = None
    balance: bool = True
    max_per_class: int | None = None  # down-sample each class to at most this many documents
    holdout: float = 0.1
    seed: int = 0
    epoch: int = 5
    lr: float = 0.1
    dim: int | None = None  # None: by training tokens (`sized`)
    word_ngrams: int = 2
    min_count: int = 1
    bucket: int | None = None  # None: by training tokens, within MAX_MODEL_BYTES (`sized`)
    thread: int = 1
    quantize: bool | None = None  # None: only if the model would still be over MAX_MODEL_BYTES


MAX_MODEL_BYTES = 10 * 2**20
MIN_BUCKET, MAX_BUCKET = 2**14, 2_000_000  # fastText's default bucket is the ceiling


def model_bytes(vocab: int, bucket: int, dim: int) -> int:
    """fastText's input matrix, (words + buckets) x dim float32, which is nearly all of a .bin."""
    return (vocab + bucket) * dim * 4


def sized(params: TrainParams, n_tokens: int, vocab: int) -> tuple[TrainParams, list[str]]:
    """`params` with unset dim, bucket and quantize chosen for `n_tokens` training tokens of
    `vocab` distinct words, and a note per choice.

    fastText's defaults (dim 100, 2M bigram buckets) make an 800 MB model whatever the data:
    128 documents gave 803 MB (issue 16). A binary quality classifier needs little capacity
    (Joulin et al. 2016, "Bag of Tricks": 10 hidden units with bigrams match deep models), so
    dim is 32 up to 1M training tokens, 64 up to 100M, then fastText's 100. Distinct bigrams are
    at most the number of tokens, so more buckets than the next power of two above it only hold
    zeros; buckets are then cut so the model fits MAX_MODEL_BYTES (10 MB), and a model that still
    would not (a vocabulary that large) is quantized unless `quantize` is set."""
    notes, changes = [], {}
    if params.dim is None:
        changes["dim"] = 32 if n_tokens <= 1_000_000 else 64 if n_tokens <= 100_000_000 else 100
        notes.append(f"dim {changes['dim']} for {n_tokens:,} training tokens")
    dim = changes.get("dim", params.dim)
    if params.bucket is None:
        bucket = min(MAX_BUCKET, max(MIN_BUCKET, 1 << max(0, n_tokens - 1).bit_length()))
        fit = MAX_MODEL_BYTES // (4 * dim) - vocab
        changes["bucket"] = max(MIN_BUCKET, min(bucket, fit))
        notes.append(f"bucket {changes['bucket']:,} (at most {n_tokens:,} distinct bigrams, model within "
                     f"{MAX_MODEL_BYTES // 2**20} MB)")
    bucket = changes.get("bucket", params.bucket)
    if params.quantize is None:
        changes["quantize"] = model_bytes(vocab, bucket, dim) > MAX_MODEL_BYTES
        if changes["quantize"]:
            notes.append(f"quantized: {model_bytes(vocab, bucket, dim) / 2**20:.0f} MB unquantized")
    return replace(params, **changes), notes


@dataclass
class TrainResult:
    model: str
    card_json: str
    card_md: str
    counts: dict
    metrics: dict
    params: dict
    inputs: dict = field(default_factory=dict)
    seconds: float = 0.0
    model_bytes: int = 0
    training_tokens: int = 0
    chosen: list[str] = field(default_factory=list)  # the size parameters chosen for the data (`sized`)


def with_config(config: str | None, positive: list[str], negative: list[str], options: dict):
    """Merge a YAML config (`positive:`, `negative:` lists of paths relative to the YAML, and any
    TrainParams field) with command-line values; a command-line value that is not the default wins."""
    if not config:
        return positive, negative, options
    import yaml

    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"classifier config not found: {config}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{config}: expected a mapping with `positive:` and `negative:` lists")
    defaults = asdict(TrainParams())
    resolve = [str(p if Path(p).is_absolute() else path.parent / p) for p in data.pop("positive", None) or []]
    positive = resolve + positive
    negative = [str(p if Path(p).is_absolute() else path.parent / p) for p in data.pop("negative", None) or []] + negative
    unknown = set(data) - set(defaults)
    if unknown:
        raise ValueError(f"{config}: unknown option(s) {', '.join(sorted(unknown))}; valid: {', '.join(defaults)}")
    merged = {**options, **{k: v for k, v in data.items() if options.get(k, defaults[k]) == defaults[k]}}
    return positive, negative, merged


def split(docs: list[str], holdout: float, rng: random.Random) -> tuple[list[str], list[str]]:
    docs = docs[:]
    rng.shuffle(docs)
    n_test = max(1, round(len(docs) * holdout)) if holdout > 0 else 0
    return docs[n_test:], docs[:n_test]


def score(model, texts: list[str], label: str) -> list[float]:
    """p(`label`) for each (already normalised) text."""
    key = f"__label__{label}"
    out = []
    for text in texts:
        labels, probs = model.predict(text, k=-1)
        out.append(min(1.0, float(dict(zip(labels, probs)).get(key, 0.0))))
    return out


def train(positive: list[str], negative: list[str], output: str, params: TrainParams | None = None,
          log: Callable[[str], None] | None = None, progress=None) -> TrainResult:
    """Train, evaluate and save a classifier (see the module docstring); returns its card's data.
    `log` gets one line per phase (reading, training, evaluating) with its time; `progress(done,
    total, phase, unit)` (curate.core.progress) each file read and the start of each later phase."""
    from curate.resources.models import load_fasttext

    log = log or (lambda _message: None)
    progress = progress or (lambda *args, **kwargs: None)
    params = params or TrainParams()
    start = time.perf_counter()
    pos, pos_inputs = load_documents(positive, params.chunk_words, lambda d, t: progress(d, t, "reading positive", "file"))
    neg, neg_inputs = load_documents(negative, params.chunk_words, lambda d, t: progress(d, t, "reading negative", "file"))
    if not pos or not neg:
        raise ValueError(f"need documents of both classes; got {len(pos)} positive, {len(neg)} negative")
    log(f"reading: {len(pos):,} positive and {len(neg):,} negative documents ({_since(start)})")
    rng = random.Random(params.seed)
    counts = {"positive_read": len(pos), "negative_read": len(neg)}
    n_pos, n_neg = (min(len(pos), len(neg)),) * 2 if params.balance else (len(pos), len(neg))
    if params.max_per_class:
        n_pos, n_neg = min(n_pos, params.max_per_class), min(n_neg, params.max_per_class)
    pos, neg = rng.sample(pos, n_pos), rng.sample(neg, n_neg)
    pos_train, pos_test = split([normalize(t) for t in pos], params.holdout, rng)
    neg_train, neg_test = split([normalize(t) for t in neg], params.holdout, rng)
    counts.update(positive_train=len(pos_train), negative_train=len(neg_train),
                  positive_heldout=len(pos_test), negative_heldout=len(neg_test))
    words = [w for t in pos_train + neg_train for w in t.split()]
    params, chosen = sized(params, len(words), len(set(words)))
    examples = [f"__label__{params.label} {t}" for t in pos_train] + \
               [f"__label__{params.negative_label} {t}" for t in neg_train]
    rng.shuffle(examples)  # fastText reads the file in order; classes must be interleaved
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    phase = time.perf_counter()
    log(f"training: {len(examples):,} examples, {len(words):,} tokens; dim {params.dim}, bucket {params.bucket:,}, "
        f"epoch {params.epoch}{', then quantizing' if params.quantize else ''} ...")
    progress(0, None, "training fastText")  # one call into fastText: the bar shows the time it takes
    _fit(examples, params, out)
    log(f"training: done ({_since(phase)})")
    phase = time.perf_counter()
    progress(0, None, "evaluating")
    metrics = evaluate(load_fasttext(out), pos_test, neg_test, params.label)  # exactly what was saved
    log(f"evaluating: {len(pos_test) + len(neg_test):,} held-out documents ({_since(phase)})")
    result = TrainResult(model=str(out), card_json=str(card_path(out, ".json")), card_md=str(card_path(out, ".md")),
                         counts=counts, metrics=metrics, params=asdict(params),
                         inputs={"positive": [asdict(s) for s in pos_inputs],
                                 "negative": [asdict(s) for s in neg_inputs]},
                         seconds=round(time.perf_counter() - start, 2), model_bytes=out.stat().st_size,
                         training_tokens=len(words), chosen=chosen)
    write_card(result)
    return result


def _since(start: float) -> str:
    return f"{time.perf_counter() - start:.1f} s"


def _fit(examples: list[str], params: TrainParams, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(examples) + "\n", encoding="utf-8")
        fit_kwargs = dict(input=str(train_file), epoch=params.epoch, lr=params.lr, dim=params.dim,
                          wordNgrams=params.word_ngrams, minCount=params.min_count, bucket=params.bucket,
                          thread=params.thread, seed=params.seed, loss="softmax", verbose=0)
        error = fit_in_fresh_process(fit_kwargs, bool(params.quantize), str(out))
    if error:  # "Encountered NaN": diverged, usually on very little data
        raise ValueError(f"fastText training failed ({error}); with {len(examples)} examples, "
                         "try a lower --lr, fewer --epoch or more data")


def evaluate(model, pos_test: list[str], neg_test: list[str], label: str) -> dict:
    """Held-out precision and recall at p >= 0.5, ROC AUC, and the AUC of length alone."""
    texts, labels = pos_test + neg_test, [1] * len(pos_test) + [0] * len(neg_test)
    if not texts:
        return {}
    scores = score(model, texts, label)
    precision, recall = precision_recall(scores, labels, 0.5)
    return {"auc": round(roc_auc(scores, labels), 4), "precision": round(precision, 4),
            "recall": round(recall, 4), "threshold": 0.5,
            "length_only_auc": round(roc_auc([float(len(t.split())) for t in texts], labels), 4)}


def fit_in_fresh_process(kwargs: dict, quantize: bool, output: str) -> str | None:
    """Train and save in a new Python process; the error message, or None.

    fastText 0.9.2 reads memory it has not initialised: in one process, training runs after the
    first few give different models and some end in "Encountered NaN". The fresh pages of a new
    process, with a fixed environment, make training a function of the data and the seed (and,
    on tiny data, of the input path, which train() keeps at a fixed length)."""
    job = json.dumps({"kwargs": kwargs, "quantize": quantize, "output": output})
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH", "LANG")}  # same layout for every caller
    done = subprocess.run([sys.executable, "-c", "from curate.tools.classifier import _fit_child; _fit_child()"], input=job,
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
    return None


def _fit_child() -> None:
    """The child of `fit_in_fresh_process`: a JSON job on stdin."""
    import fasttext

    job = json.loads(sys.stdin.read())
    model = fasttext.train_supervised(**job["kwargs"])
    if job["quantize"]:
        model.quantize(input=job["kwargs"]["input"], retrain=True, qnorm=True, thread=job["kwargs"]["thread"])
    model.save_model(job["output"])


def write_card(result: TrainResult) -> None:
    data = {**asdict(result), "fasttext_version": fasttext_version(),
            "normalization": "curate.core.text.normalize (NFKC, lowercase, punctuation split off, one line)"}
    Path(result.card_json).write_text(json.dumps(data, indent=1) + "\n")
    m, c, p = result.metrics, result.counts, result.params
    lines = [f"# Model card: {Path(result.model).name}", "",
             f"fastText supervised classifier, label `__label__{p['label']}` (positive) vs "
             f"`__label__{p['negative_label']}` (negative), trained by `curate train-classifier` "
             f"in {result.seconds} s with {fasttext_version()}; {result.model_bytes / 2**20:.2f} MB, "
             f"{result.training_tokens:,} training tokens.", "",
             *[f"- {note}" for note in result.chosen], *([""] if result.chosen else []),
             "## Inputs", "", "| class | input | documents | skipped |", "|---|---|---|---|"]
    for cls in ("positive", "negative"):
        for s in result.inputs[cls]:
            lines.append(f"| {cls} | `{s['path']}` | {s['documents']} | {s['skipped']} |")
    lines += ["", "## Counts", "", "| | positive | negative |", "|---|---|---|",
              f"| read | {c['positive_read']} | {c['negative_read']} |",
              f"| train | {c['positive_train']} | {c['negative_train']} |",
              f"| held out | {c['positive_heldout']} | {c['negative_heldout']} |", "",
              "## Held-out metrics", ""]
    if m:
        lines += ["| AUC | precision | recall | at p >= | AUC of length alone |", "|---|---|---|---|---|",
                  f"| {m['auc']} | {m['precision']} | {m['recall']} | {m['threshold']} | {m['length_only_auc']} |"]
    else:
        lines.append("none (holdout 0)")
    lines += ["", "## Parameters", "", "```json", json.dumps(p, indent=1), "```", "",
              "Text is normalised with `curate.core.text.normalize` before training; the "
              "`fasttext_classifier` stage applies the same function before scoring (`normalize: true`).", ""]
    Path(result.card_md).write_text("\n".join(lines))
