"""Train topic, format and graded-quality classifiers from labelled documents, against baselines.

Llama 3 sorted its web data into categories with fastText classifiers and set its mix by them;
FineWeb-Edu distilled 0-5 ratings into a classifier and kept documents scoring >= 3. This module
trains such a classifier from JSONL or Parquet records with a text and a label field, in three
kinds:

* `multiclass`: one label per document (a page type); fastText softmax, the top label predicted;
* `multilabel`: a list of labels per document (Reuters topics); fastText one-vs-all (`ova`), every
  label with p >= 0.5 predicted, or the top one when none reaches it (every document has one);
* `graded`: an integer grade (0-5); ordinal classes `__label__0..5` with softmax, the score their
  expected value sum(p(g) * g), as FineWeb-Edu's regression head gives a real-valued score. We
  chose ordinal classes over a regressor on fastText's sentence vectors because the model stays
  one fastText file that the `fasttext_classifier` stage (`integer_scores: true`) and the
  `classify` stage already score, with nothing else to ship.

Every run reports the held-out metrics (`curate.tools.classifier_report`) of fastText and, on the
same split, of two baselines (`curate.tools.classifier_baselines`): the majority class and a
bag-of-words logistic regression, with scoring speed in documents per second for each. The held
out documents are the `test` files when given (Reuters' ModApte split), else a seeded fraction.
fastText is tuned by coordinate search on validation splits of the training documents only (the
held-out set is never looked at; `folds` random fit/validation splits, the trial's score their mean
macro-F1: on 177 WCXB pages one split moved a setting's score by up to 0.03), one parameter at a
time in the order of `GRID`, from `TUNE_START`: the input first (`dedup`: each distinct word once
per document, a binary bag of words as in Wang & Manning 2012, which on long pages keeps a few
frequent words from swamping fastText's average; `balance`: oversampling of rare classes, one label
per document only), then the loss (softmax or one-vs-all, one label per document only) and the
document shape tokens (`shape`, curate.core.classifier_input: the layout that `normalize` flattens,
+0.02 validation macro-F1 on WCXB), then epoch, lr, wordNgrams and dim. `balance` comes before the
loss and `shape` because their effect depends on it (on WCXB validation one-vs-all lost without
balancing and tied with it). The card records the input transform (`dedup`, `shape`), and the
`classify` stage applies it through the same `curate.core.classifier_input.document_line`. The
regression's L2 and `balance` are chosen on the same folds, so both sides get the same selection.
Character n-grams (`minn`/`maxn`, Bojanowski et al. 2017) are supported but not in
the grid: they lowered validation macro-F1 on Reuters (0.49 against 0.57) and on WCXB once `dedup`
and `balance` are on (0.68 against 0.73), and tripled training time.
`progress(done, total, phase, unit)` (curate.core.progress) hears of the files read, each tuning
trial (their number is known before the first: `trial_count`), the final fit and the baselines.

Example: `train_labels(["train.jsonl"], "out/topic.bin", LabelParams(label_field="topic"))`.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from curate.core.classifier_input import card_path, model_line
from curate.tools import classifier_baselines as bl
from curate.tools import classifier_report as rep
from curate.tools.classifier import TrainParams, fit_in_fresh_process, sized
from curate.tools.classifier_data import Labelled, balanced, classes_of, load_labelled, split_off

KINDS = ("multiclass", "multilabel", "graded")
GRID = {"dedup": (False, True), "balance": (0.0, 1.0), "loss": ("softmax", "ova"), "shape": (False, True),
        "epoch": (25, 50), "lr": (0.25, 0.5, 1.0), "word_ngrams": (1, 2), "dim": (32, 64)}
# fastText's small-data regime (Joulin et al. 2016 used 5-10 epochs on millions of documents; a
# thousand documents need more passes): measured on the validation splits of Reuters and WCXB
TUNE_START = {"loss": "softmax", "epoch": 50, "lr": 1.0, "word_ngrams": 1, "dim": 32}
L2_GRID = (1e-6, 1e-5, 1e-4)
TUNED = ("dedup", "balance", "loss", "shape", "epoch", "lr", "word_ngrams", "dim")


@dataclass
class LabelParams:
    """What to read, how to split, and fastText's starting point (tuned unless `tune` is false)."""

    label_field: str = "label"
    text_field: str = "text"
    kind: str = "multiclass"
    holdout: float = 0.2  # without `test` files
    validation: float = 0.15  # of the training documents, for tuning
    folds: int = 2  # random fit/validation splits that tuning averages over (repeated hold-out)
    min_count_label: int = 1  # labels with fewer training documents are dropped
    tune: bool = True
    grid: dict = field(default_factory=lambda: dict(GRID))
    seed: int = 0
    epoch: int = 10
    lr: float = 0.5
    word_ngrams: int = 2
    dim: int = 32
    min_count: int = 1
    dedup: bool = False  # fastText sees each distinct word of a document once (first-occurrence order)
    shape: bool = False  # document shape tokens after the words (curate.core.classifier_input)
    balance: float = 0.0  # oversample a class c by (n_largest / n_c) ** balance (one label per document)
    loss: str = ""  # fastText's loss; "": one-vs-all for multi-label data, else softmax
    minn: int = 0  # character n-grams, off unless maxn > 0
    maxn: int = 0
    thread: int = 1
    max_docs: int | None = None  # read at most this many training documents (seeded sample)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


# ---- fastText -------------------------------------------------------------------------------------

def fit_fasttext(data: Labelled, classes: list[str], params: LabelParams, output: Path) -> None:
    """Train fastText on `data` (labels outside `classes` dropped) and save it to `output`."""
    wanted = set(classes)
    lines = []
    data = balanced(data, params.balance, params.kind)
    for text, labels, shape in zip(data.texts, data.labels, data.lines(params.shape)):
        keep = [lab for lab in labels if lab in wanted]
        if keep:
            lines.append(" ".join(f"__label__{lab}" for lab in keep) + " " + model_line(text, params.dedup, shape))
    random.Random(params.seed).shuffle(lines)
    words = [w for t in data.texts for w in t.split()]
    base, _ = sized(TrainParams(dim=params.dim, quantize=False), len(words), len(set(words)))
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        kwargs = dict(input=str(train_file), epoch=params.epoch, lr=params.lr, dim=params.dim,
                      wordNgrams=params.word_ngrams, minCount=params.min_count, bucket=base.bucket,
                      minn=params.minn if params.maxn else 0, maxn=params.maxn,
                      thread=params.thread, seed=params.seed, verbose=0,
                      loss=params.loss or ("ova" if params.kind == "multilabel" else "softmax"))
        error = fit_in_fresh_process(kwargs, False, str(output))
    if error:
        raise ValueError(f"fastText training failed ({error}); try a lower lr or fewer epochs")


def fasttext_proba(model, data: Labelled, classes: list[str], params: LabelParams, batch: int = 1024) -> np.ndarray:
    """documents x classes probabilities of `data`, its input as `params` say (`model_line`, the one
    `curate.core.classifier_input.document_line` makes of a raw text); one C++ call per batch."""
    index = {c: i for i, c in enumerate(classes)}
    texts, shapes = data.texts, data.lines(params.shape)
    out = np.zeros((len(texts), len(classes)))
    for start in range(0, len(texts), batch):
        chunk = [model_line(t, params.dedup, s) for t, s in zip(texts[start:start + batch], shapes[start:start + batch])]
        for i, (labels, probs) in enumerate(zip(*model.predict(chunk, k=-1)), start):
            _fill(out[i], labels, probs, index)
    return out


def _fill(row: np.ndarray, labels, probs, index: dict[str, int]) -> None:
    for label, p in zip(labels, probs):
        j = index.get(label.removeprefix("__label__"))
        if j is not None:
            row[j] = min(1.0, float(p))


def decide(proba: np.ndarray, classes: list[str], kind: str) -> tuple[list[set[str]], np.ndarray | None]:
    """Predicted label sets (and, graded, the expected-value scores) from probabilities."""
    top = proba.argmax(axis=1)
    if kind == "multilabel":
        sets = [{classes[j] for j in np.flatnonzero(row >= 0.5)} or {classes[t]} for row, t in zip(proba, top)]
        return sets, None
    sets = [{classes[t]} for t in top]
    if kind != "graded":
        return sets, None
    grades = np.asarray([int(c) for c in classes], dtype=float)
    scores = (proba * grades).sum(axis=1) / np.maximum(proba.sum(axis=1), 1e-12)
    return [{str(int(np.clip(round(s), grades.min(), grades.max())))} for s in scores], scores


def metrics_of(truth: Labelled, proba: np.ndarray, classes: list[str], kind: str, seconds: float) -> dict:
    predicted, scores = decide(proba, classes, kind)
    gold = [set(lab) for lab in truth.labels]
    out = rep.class_metrics(gold, predicted, classes)
    if kind != "multilabel":
        out["confusion"] = rep.confusion([lab[0] for lab in truth.labels], [min(p) for p in predicted], classes)
    if kind == "graded":
        out["graded"] = rep.graded_metrics([int(lab[0]) for lab in truth.labels], list(scores), [int(c) for c in classes])
    out["docs_per_s"] = round(len(truth.texts) / seconds) if seconds > 0 else None
    return out


Folds = list[tuple[Labelled, Labelled]]  # (fit, validation) splits of the training documents


def _validate(folds: Folds, classes: list[str], params: LabelParams, tmp: Path) -> float:
    """Mean validation macro-F1 of fastText fit with `params` on each fold."""
    from curate.resources.models import load_fasttext

    path, scores = tmp / "trial.bin", []
    for fit, val in folds:
        fit_fasttext(fit, classes, params, path)
        proba = fasttext_proba(load_fasttext(path), val, classes, params)
        path.unlink()
        scores.append(_macro_f1(val, proba, classes, params.kind))
    return round(float(np.mean(scores)), 4)


def _macro_f1(val: Labelled, proba: np.ndarray, classes: list[str], kind: str) -> float:
    return rep.class_metrics([set(x) for x in val.labels], decide(proba, classes, kind)[0], classes)["macro_f1"]


def _searched(params: LabelParams) -> tuple[LabelParams, dict]:
    """The search's starting point and its grid (`balance` and `loss` left out for multi-label data,
    which needs one-vs-all: several labels per document, each on its own)."""
    grid = {k: v for k, v in params.grid.items() if not (k in ("balance", "loss") and params.kind == "multilabel")}
    return replace(params, **{k: v for k, v in TUNE_START.items() if k in grid}), grid


def _describe(p: LabelParams) -> str:
    return (f"epoch {p.epoch}, lr {p.lr}, wordNgrams {p.word_ngrams}, dim {p.dim}, dedup {p.dedup}, "
            f"shape {p.shape}, loss {p.loss or 'default'}, balance {p.balance}")


def trial_count(params: LabelParams) -> int:
    """The fastText fits `tune` makes: every value of the first parameter of the grid; for each later
    one, every value but its starting value, which the best so far already holds (and was tried)."""
    start, grid = _searched(params)
    return sum(len(set(values)) - (i > 0 and getattr(start, name) in values)
               for i, (name, values) in enumerate(grid.items()))


def tune(folds: Folds, classes: list[str], params: LabelParams,
         log: Callable[[str], None], progress=lambda done, total: None) -> tuple[LabelParams, list[str]]:
    """Coordinate search over `params.grid` from `TUNE_START` (one parameter at a time, in the grid's
    order, the others at their best so far), by validation macro-F1 averaged over the `folds` (one
    split of 177 WCXB pages moved a trial by +-0.03 between splits), ties to the earlier value;
    returns the best parameters and one note per trial. `progress(trials_done, trials)` before the
    first trial and after each."""
    notes, seen, total, begun = [], {}, trial_count(params), time.perf_counter()
    best, grid = _searched(params)
    key = lambda t: tuple(getattr(t, name) for name in TUNED)  # noqa: E731
    progress(0, total)
    with tempfile.TemporaryDirectory() as tmp:
        for name, values in grid.items():
            for value in values:
                trial = replace(best, **{name: value})
                if key(trial) not in seen:
                    seen[key(trial)] = _validate(folds, classes, trial, Path(tmp))
                    notes.append(f"{_describe(trial)}: validation macro-F1 {seen[key(trial)]}")
                    log(notes[-1])
                    progress(len(seen), total)
            best = max((replace(best, **{name: v}) for v in values), key=lambda t: seen[key(t)])
    notes.append(f"chosen: {_describe(best)} ({len(seen)} trials, {time.perf_counter() - begun:.0f} s)")
    return best, notes


# ---- baselines ------------------------------------------------------------------------------------

def majority(train: Labelled, test: Labelled, classes: list[str], kind: str) -> dict:
    """The most frequent training label for every document (multi-label: that one label)."""
    start = time.perf_counter()
    top = Counter(lab for labels in train.labels for lab in labels if lab in classes).most_common(1)[0][0]
    proba = np.zeros((len(test.texts), len(classes)))
    proba[:, classes.index(top)] = 1.0
    return {**metrics_of(test, proba, classes, kind, time.perf_counter() - start), "train_s": 0.0, "label": top}


def bow_baseline(folds: Folds, train: Labelled, test: Labelled, classes: list[str],
                 params: LabelParams, progress=lambda done, total: None) -> tuple[dict, list[str]]:
    """Bag-of-words logistic regression: L2 and class balancing (`balanced`, over the values fastText's
    search tries; untuned, the given one) chosen on the mean macro-F1 over the same validation folds
    as fastText, refit on all training documents, scored on the held-out ones (vectorising included
    in the speed). `progress(fits_done, fits)` before each fit, one per grid point and the refit."""
    multilabel, notes, scores = params.kind == "multilabel", [], {}
    powers = params.grid.get("balance", (params.balance,)) if params.tune else (params.balance,)
    grid = [(l2, b) for b in ((0.0,) if multilabel else powers) for l2 in L2_GRID]
    for done, (l2, power) in enumerate(grid):
        progress(done, len(grid) + 1)
        fold_scores = []
        for fit, val in folds:
            data = balanced(fit, power, params.kind)
            model = bl.fit_bow(data.texts, data.labels, classes, multilabel, l2, params.seed)
            fold_scores.append(_macro_f1(val, model.proba(val.texts), classes, params.kind))
        scores[l2, power] = round(float(np.mean(fold_scores)), 4)
        notes.append(f"logistic regression l2 {l2}, balance {power}: validation macro-F1 {scores[l2, power]}")
    l2, power = max(grid, key=scores.__getitem__)
    progress(len(grid), len(grid) + 1)
    data = balanced(train, power, params.kind)
    model, train_s = bl.timed(bl.fit_bow, data.texts, data.labels, classes, multilabel, l2, params.seed)
    proba, seconds = bl.timed(model.proba, test.texts)
    progress(len(grid) + 1, len(grid) + 1)
    return {**metrics_of(test, proba, classes, params.kind, seconds), "train_s": round(train_s, 2), "l2": l2,
            "balance": power}, notes


# ---- the run --------------------------------------------------------------------------------------

@dataclass
class LabelResult:
    model: str
    card_json: str
    card_md: str
    classes: list[str]
    counts: dict
    metrics: dict  # fasttext, majority, bow_logreg -> held-out metrics
    params: dict
    tuning: list[str] = field(default_factory=list)
    seconds: float = 0.0
    model_bytes: int = 0
    fasttext_version: str | None = None


def train_labels(train: list[str], output: str, params: LabelParams | None = None, test: list[str] | None = None,
                 log: Callable[[str], None] | None = None, progress=None) -> LabelResult:
    """Read, split, tune, train, evaluate against the baselines, save the model and its card."""
    from curate.resources.models import load_fasttext

    params, log, start = params or LabelParams(), log or (lambda _m: None), time.perf_counter()
    progress, rng = progress or (lambda *args, **kwargs: None), random.Random(params.seed)
    data = load_labelled(train, params, lambda d, t: progress(d, t, "reading", "file"))
    if params.max_docs and len(data.texts) > params.max_docs:
        data, _ = split_off(data, 1 - params.max_docs / len(data.texts), rng)
    if test:
        heldout = load_labelled(test, params, lambda d, t: progress(d, t, "reading held-out", "file"))
        split = f"the given test files: {', '.join(test)}"
    else:
        data, heldout = split_off(data, params.holdout, rng)
        split = f"a seeded {params.holdout:.0%} of the input"
    classes = classes_of(data, params)
    if len(classes) < 2:
        raise ValueError(f"need at least 2 labels in `{params.label_field}`; found {classes}")
    folds = [split_off(data, params.validation, rng) for _ in range(max(1, params.folds) if params.tune else 1)]
    fit, val = folds[0]
    log(f"reading: {len(data.texts):,} training and {len(heldout.texts):,} held-out documents, {len(classes)} labels")
    best, notes = (tune(folds, classes, params, log, lambda d, t: progress(d, t, "tuning", "trial"))
                   if params.tune else (params, ["not tuned"]))
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    progress(0, None, "training fastText")  # one call into fastText: the bar shows the time it takes
    _, train_s = bl.timed(fit_fasttext, data, classes, best, out)
    progress(0, None, "evaluating")
    model = load_fasttext(out)
    proba, seconds = bl.timed(fasttext_proba, model, heldout, classes, best)
    seconds += heldout.shape_s if best.shape else 0.0  # the shape tokens were computed while reading
    metrics = {"fasttext": {**metrics_of(heldout, proba, classes, params.kind, seconds), "train_s": round(train_s, 2)},
               "majority": majority(data, heldout, classes, params.kind)}
    metrics["bow_logreg"], bow_notes = bow_baseline(folds, data, heldout, classes, params,
                                                    lambda d, t: progress(d, t, "logistic regression", "fit"))
    counts = {"train": len(data.texts), "fit": len(fit.texts), "validation": len(val.texts),
              "heldout": len(heldout.texts), "skipped": data.skipped + heldout.skipped, "split": split}
    result = LabelResult(str(out), str(card_path(out, ".json")), str(card_path(out, ".md")), classes, counts, metrics,
                         {k: v for k, v in asdict(best).items() if k != "grid"}, notes + bow_notes,
                         round(time.perf_counter() - start, 2), out.stat().st_size, rep.fasttext_version())
    Path(result.card_json).write_text(json.dumps(asdict(result), indent=1) + "\n")
    Path(result.card_md).write_text(rep.card_markdown(asdict(result)))
    return result
