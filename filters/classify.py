"""Label documents with a fastText classifier (topic, format, graded quality), as signals only.

Llama 3 sorted web documents into domains with fastText classifiers and set its data mix by
them; WebOrganizer (Wettig et al. 2025) labels every document with a topic and a format and
mixes by both. This stage records, per document, the top label, its probability and the top-k
labels with their probabilities, and, for a model whose labels are integers (a 0-5 grade), the
expected grade sum(p(g) * g), FineWeb-Edu's score. It never drops a document: a threshold on a
label is a keep rule (`expression`) or a mix (`curate mix` with `by: topic__label`), so one
labelling run serves every later choice (score once, threshold many times).

Several classifiers go in one recipe, each under its own `name`, which is the namespace of its
columns: `- classify: {model: topic.bin, name: topic}` records `topic__label`, `topic__score`,
`topic__top_labels`, `topic__top_scores` and `topic__value`.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from typing import ClassVar

from datatrove.data import Document

from curate.core.classifier_input import input_params, scoring_line
from curate.core.step import CurateStep, Signal

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CORE = {"id", "url", "domain", "source_file", "language", "language_score", "n_chars", "n_words", "stage",
        "reason", "text", "read", "extract", "curate"}


class Classify(CurateStep):
    """Record a fastText classifier's top label, its score and the top-k labels as `<name>__*` signals.

    `model`: any fastText supervised model (.bin/.ftz), e.g. one from `curate train-labels`.
    `name`: the namespace of the columns (default `classify`); give each classifier of a recipe its
    own. `k`: how many labels go into `top_labels`/`top_scores` (default 3). `normalize: true`
    applies `curate.core.text.normalize`, what `curate train-labels` trained on, and, when the card
    `curate train-labels` writes beside the model (MODEL.card.json) is there, the rest of the input
    transform it trained with (`dedup`, `shape`: `curate.core.classifier_input.document_line`), so a
    document is scored as the training documents were; false joins lines with spaces (models trained
    on raw text, such as lid.176). Never drops a document.

    Example: `- classify: {model: "${CURATE_SHARED_DATA:-../shared/data}/models/lid.176.ftz", name: lid, k: 3, normalize: false}`.
    """

    name = "🏷️ curate classify"
    namespace: ClassVar[str] = "classify"
    signals: ClassVar[dict[str, Signal | str]] = {
        "label": Signal("string"), "score": Signal("float64"), "top_labels": Signal("list<string>"),
        "top_scores": Signal("list<float64>"),
        "value": Signal("float64"),  # sum(p(g) * g) when every label is an integer (a grade), else null
    }

    def __init__(self, model: str, name: str = "classify", k: int = 3, normalize: bool = True,
                 emit_dropped: bool = False):
        super().__init__(emit_dropped=emit_dropped)
        if not NAME.match(name) or name in CORE:
            raise ValueError(f"name must be lowercase letters, digits and _ (starting with a letter) and not a "
                             f"decision-table column or namespace ({', '.join(sorted(CORE))}); got {name!r}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not os.path.isfile(model):
            raise FileNotFoundError(f"fastText model not found: {model}")
        self.model_path, self.namespace, self.k, self.normalize = model, name, k, normalize
        self.input_params = input_params(model, normalize)  # the card's dedup and shape
        self.labels = [label.removeprefix("__label__") for label in self.model.labels]  # fails now, not mid-run
        self.grades = [int(x) for x in self.labels] if all(x.lstrip("-").isdigit() for x in self.labels) else None

    @classmethod
    def namespace_for(cls, params: dict) -> str:
        return params.get("name", cls.namespace)

    @cached_property
    def model(self):
        from pathlib import Path

        from curate.resources.models import load_fasttext

        return load_fasttext(Path(self.model_path))

    def model_input(self, text: str) -> str:
        """The line fastText sees for the raw document `text`."""
        return scoring_line(text, self.input_params)

    def predict(self, text: str) -> list[tuple[str, float]]:
        """(label, probability) for every label of the model, best first."""
        text = self.model_input(text)
        labels, probs = self.model.predict(text, k=-1)
        return [(label.removeprefix("__label__"), min(1.0, float(p))) for label, p in zip(labels, probs)]

    def process(self, doc: Document) -> None:
        ranked = self.predict(doc.text)
        top = ranked[: self.k]
        self.record(doc, "label", top[0][0])
        self.record(doc, "score", top[0][1])
        self.record(doc, "top_labels", [label for label, _ in top])
        self.record(doc, "top_scores", [p for _, p in top])
        value = None
        if self.grades is not None:  # fastText's probabilities can sum to 1 + 1e-5: renormalise
            value = sum(int(label) * p for label, p in ranked) / (sum(p for _, p in ranked) or 1.0)
        self.record(doc, "value", value)
        return None
