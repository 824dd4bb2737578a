"""Score documents with any fastText classifier; keep by threshold or the top k%.

`top_percent` needs the score distribution before the first document is decided, so the stage
then runs two passes of its own before the main pipeline (pipelines/multipass.py), as dedup does:

* `scores` (one task per input task, after the same readers and earlier stages): each task
  writes the scores of the documents that reach this stage to `WORK/scores/{rank:05d}.npy`;
* `threshold` (one task): reads them (a seeded sample of at most `sample` scores when there are
  more) and writes `WORK/threshold.json`: the score of the document at the k% mark.

The main pass scores again (cheap next to reading and extraction, which the first pass repeats
anyway) and keeps documents whose score reaches that threshold, so ties can keep slightly more
than k%. A pass over every document rather than the first documents of each task means the
threshold does not depend on how the input is sharded.
"""

from __future__ import annotations

import json
import math
import os
from functools import cached_property
from typing import ClassVar

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.core.classifier_input import input_params, scoring_line
from curate.core.step import CurateFilter, Pass, PassKind, Signal, is_dropped


class FastTextClassifier(CurateFilter):
    """Score each document with a fastText classifier; drop it below a threshold or outside the top k%.

    `model` is a path to any fastText supervised model (.bin or .ftz): one trained by
    `curate train-classifier`, DCLM's `openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train.bin`, a
    toxicity model. The score is p(`label`) (`label` without `__label__`). With `integer_scores`
    (labels that are integers, e.g. 0-5 educational value), the score is FineWeb-Edu's regression
    score sum(p(l) * l) and `int_score` its rounded value, clamped to the label range, and
    `threshold` applies to `int_score` (FineWeb-Edu keeps int_score >= 3). `top_percent: 10`
    keeps the best-scoring 10% (DCLM kept its top ~10%), with the threshold from a first pass
    (see the module docstring); with neither `threshold` nor `top_percent` it only records.
    `normalize: true` applies `curate.core.text.normalize` (what train-classifier trained on) and,
    for a `curate train-labels` model with its card beside it (MODEL.card.json), the card's `dedup`
    and `shape` (`curate.core.classifier_input.document_line`); use false for models trained on raw
    text (newlines then become spaces, as datatrove does).

    Reasons: below_threshold.
    Example: `- fasttext_classifier: {model: "${CURATE_SHARED_DATA:-../shared/data}/models/lid.176.ftz", label: en, threshold: 0.5, normalize: false}`.
    """

    name = "🤖 curate fastText classifier"
    namespace: ClassVar[str] = "fasttext_classifier"
    signals: ClassVar[dict[str, Signal]] = {  # `threshold` with integer_scores applies to int_score; with
        # top_percent it comes from a first pass and is recorded in the `threshold` column, not a parameter
        "score": Signal("float64", keep="higher", threshold="threshold", reasons=("below_threshold",)),
        "int_score": Signal("int64", keep="higher", threshold="threshold", reasons=("below_threshold",)),
        "threshold": Signal("float64")}
    work_group = "classifier"  # OUT/classifier/<namespace> holds the top_percent passes

    def __init__(
        self,
        model: str,
        label: str = "hq",
        threshold: float | None = None,
        top_percent: float | None = None,
        integer_scores: bool = False,
        normalize: bool = True,
        sample: int = 1_000_000,
        seed: int = 0,
        work_dir: str | None = None,
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        if threshold is not None and top_percent is not None:
            raise ValueError("give threshold or top_percent, not both")
        if top_percent is not None and not 0 < top_percent <= 100:
            raise ValueError(f"top_percent must be in (0, 100], got {top_percent}")
        if not os.path.isfile(model):
            raise FileNotFoundError(f"fastText model not found: {model}")
        self.model_path = model
        self.label = label.removeprefix("__label__")
        self.threshold, self.top_percent = threshold, top_percent
        self.integer_scores, self.normalize = integer_scores, normalize
        self.input_params = input_params(model, normalize)  # a train-labels card's dedup, shape
        self.sample, self.seed, self.work_dir = sample, seed, work_dir
        self.check_labels()  # fail when the recipe is built, not in the middle of a run

    @cached_property
    def model(self):
        from pathlib import Path

        from curate.resources.models import load_fasttext

        return load_fasttext(Path(self.model_path))

    def check_labels(self) -> None:
        labels = [label.removeprefix("__label__") for label in self.model.labels]
        if self.integer_scores:
            bad = [label for label in labels if not label.lstrip("-").isdigit()]
            if bad:
                raise ValueError(f"integer_scores needs integer labels; {self.model_path} has {', '.join(bad[:5])}")
        elif self.label not in labels:
            raise ValueError(f"label {self.label!r} is not in {self.model_path}; its labels: {', '.join(labels[:20])}")

    def score(self, text: str) -> tuple[float, int | None]:
        """(score, int_score): p(label), or FineWeb-Edu's sum(p(l) * l) and its rounded value."""
        labels, probs = self.model.predict(scoring_line(text, self.input_params), k=-1)
        probs = {label.removeprefix("__label__"): min(1.0, float(p)) for label, p in zip(labels, probs)}
        if not self.integer_scores:
            return probs.get(self.label, 0.0), None
        values = [int(label) for label in probs]  # fastText's probabilities can sum to 1 + 1e-5: renormalise
        value = sum(p * int(label) for label, p in probs.items()) / (sum(probs.values()) or 1.0)
        return value, int(round(max(min(values), min(value, max(values)))))

    def prepasses(self) -> list[Pass]:
        """The passes `top_percent` needs (none otherwise); see the module docstring."""
        if self.top_percent is None:
            return []
        if not self.work_dir:
            raise ValueError(f"{self.namespace}: work_dir is not set (curate's runner sets it)")
        return [Pass("scores", [ClassifierScores(self)], PassKind.INPUT),
                Pass("threshold", [ClassifierThreshold(self.work_dir, self.top_percent, self.sample, self.seed)],
                     PassKind.SINGLE)]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if self.top_percent is not None:
            from datatrove.io import get_datafolder

            with get_datafolder(self.work_dir).open("threshold.json", "r") as f:
                self.threshold = json.load(f)["threshold"]
        yield from super().run(data, rank, world_size)

    def filter(self, doc: Document) -> str | None:
        score, int_score = self.score(doc.text)
        self.record(doc, "score", score)
        self.record(doc, "int_score", int_score)
        if self.threshold is None:
            return None
        self.record(doc, "threshold", self.threshold)
        value = int_score if self.integer_scores and self.top_percent is None else score
        return None if value >= self.threshold else "below_threshold"


class ClassifierScores(PipelineStep):
    """First pass of `top_percent`: the score of every document that reaches the classifier,
    as float64 to WORK/scores/{rank:05d}.npy. Input: the main pipeline's documents. Output: none."""

    name = "🤖 curate classifier scores"
    type = "🧮 - CURATE"

    def __init__(self, classifier: FastTextClassifier):
        super().__init__()
        self.classifier = classifier

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import io

        import numpy as np
        from datatrove.io import get_datafolder

        scores = []
        for doc in data:
            if not is_dropped(doc):
                with self.track_time():
                    scores.append(self.classifier.score(doc.text)[0])
                self.stat_update("scored")
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(scores, dtype=np.float64))
        with get_datafolder(self.classifier.work_dir).open(f"scores/{rank:05d}.npy", "wb") as f:
            f.write(buffer.getvalue())
        return
        yield


class ClassifierThreshold(PipelineStep):
    """Second pass of `top_percent` (one task): the score at the top-k% mark of all first-pass
    scores (a seeded sample of `sample` of them when there are more), to WORK/threshold.json."""

    name = "🤖 curate classifier threshold"
    type = "🧮 - CURATE"

    def __init__(self, work_dir: str, top_percent: float, sample: int, seed: int):
        super().__init__()
        self.work_dir, self.top_percent, self.sample, self.seed = work_dir, top_percent, sample, seed

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import io

        import numpy as np
        from datatrove.io import get_datafolder

        folder = get_datafolder(self.work_dir)
        parts = []
        for name in sorted(folder.list_files("scores")):
            with folder.open(name, "rb") as f:
                parts.append(np.load(io.BytesIO(f.read())))
        scores = np.concatenate(parts) if parts else np.zeros(0)
        used = scores
        if len(scores) > self.sample:
            used = np.random.default_rng(self.seed).choice(scores, self.sample, replace=False)
        ordered = np.sort(used)[::-1]
        keep = max(1, math.ceil(len(ordered) * self.top_percent / 100))
        threshold = float(ordered[keep - 1]) if len(ordered) else 0.0
        with folder.open("threshold.json", "w") as f:
            json.dump({"threshold": threshold, "top_percent": self.top_percent, "scores": int(len(scores)),
                       "used": int(len(used))}, f)
        return
        yield
