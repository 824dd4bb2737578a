"""Labelled documents for `curate.tools.classifier_multi`: reading, label parsing, splits, class balancing.

Each document is kept as its normalised text and, when the shape tokens may be used, the shape tokens
of its raw text (`curate.core.classifier_input.shape_line`: they need the lines that `normalize` joins),
so the fastText input of any trial is `model_line(text, dedup, shape)` without reading again.
`params` below is a `classifier_multi.LabelParams` (its text and label fields, kind, `shape`, `tune`,
`grid` and `min_count_label`).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from curate.core.classifier_input import shape_line
from curate.core.text import normalize
from curate.io import documents
from curate.tools.classifier import input_files


@dataclass
class Labelled:
    texts: list[str]  # normalised
    labels: list[list[str]]
    skipped: int = 0
    shapes: list[str] = field(default_factory=list)  # shape tokens of the raw texts, when read with them
    shape_s: float = 0.0  # seconds spent computing them: part of scoring speed when a model uses them

    def take(self, index) -> Labelled:
        """The documents at `index` (in that order, repeats allowed); `shape_s` pro rata."""
        index = list(index)
        share = len(index) / len(self.texts) if self.texts else 0.0
        return Labelled([self.texts[i] for i in index], [self.labels[i] for i in index], 0,
                        [self.shapes[i] for i in index] if self.shapes else [], self.shape_s * share)

    def lines(self, shape: bool) -> list[str]:
        """Each document's shape tokens ("" when `shape` is off)."""
        return self.shapes if shape else [""] * len(self.texts)


def labels_of(value, kind: str) -> list[str] | None:
    """The label list of one record's label value; None when it has none usable."""
    if value is None or value == "" or value == []:
        return None
    if kind == "multilabel":
        values = value if isinstance(value, list) else str(value).split(",")
        return [str(v).strip() for v in values if str(v).strip()] or None
    if isinstance(value, list):
        return None if len(value) != 1 else labels_of(value[0], kind)
    if kind == "graded":
        try:
            return [str(int(round(float(value))))]
        except (TypeError, ValueError):
            return None
    return [str(value).strip().replace(" ", "_")]


def load_labelled(paths: list[str], params, progress=None) -> Labelled:
    """Normalised texts and their labels from JSONL/Parquet files or folders; records without text
    or a usable label are skipped and counted. Shape tokens are computed from the raw text (before
    `normalize` joins its lines) when `shape` is on or may be tuned. `progress(files_done, files)`
    after each file."""
    out, files = Labelled([], []), [file for path in paths for file in input_files(path)]
    with_shape = params.shape or (params.tune and "shape" in params.grid)
    for done, file in enumerate(files, 1):
        counts = documents.ReadCounts()
        for record in documents.iter_records(file, columns=[params.text_field, params.label_field], counts=counts):
            text, labels = record.get(params.text_field), labels_of(record.get(params.label_field), params.kind)
            if isinstance(text, str) and text.strip() and labels:
                out.texts.append(normalize(text))
                out.labels.append(labels)
                if with_shape:
                    begun = time.perf_counter()
                    out.shapes.append(shape_line(text))
                    out.shape_s += time.perf_counter() - begun
            else:
                out.skipped += 1
        out.skipped += counts.bad
        if progress:
            progress(done, len(files))
    return out


def split_off(data: Labelled, fraction: float, rng: random.Random) -> tuple[Labelled, Labelled]:
    order = list(range(len(data.texts)))
    rng.shuffle(order)
    n = max(1, round(len(order) * fraction))
    return data.take(sorted(order[n:])), data.take(sorted(order[:n]))


def classes_of(data: Labelled, params) -> list[str]:
    counts = Counter(label for labels in data.labels for label in labels)
    kept = [c for c, n in counts.items() if n >= params.min_count_label]
    if params.kind == "graded":
        grades = [int(c) for c in kept]
        return [str(g) for g in range(min(grades), max(grades) + 1)]
    return sorted(kept)


def balanced(data: Labelled, power: float, kind: str) -> Labelled:
    """`data` with each document of class c repeated round((n_largest / n_c) ** power) times (power 0:
    unchanged); the usual remedy for macro-F1 under class imbalance (random oversampling, Japkowicz
    & Stephen 2002). Multi-label data is returned unchanged: one document carries several classes."""
    if not power or kind == "multilabel":
        return data
    counts = Counter(labels[0] for labels in data.labels)
    top = max(counts.values())
    times = [max(1, round((top / counts[labels[0]]) ** power)) for labels in data.labels]
    return data.take([i for i, n in enumerate(times) for _ in range(n)])
