"""Held-out metrics and the model card of a label classifier (`curate.tools.classifier_multi`).

Metrics are computed here, in numpy, so the fastText model and its baselines are scored by one
implementation on one split:

* classes (multi-class, multi-label): per-class precision, recall, F1 and support, macro-F1 (the
  unweighted mean over the classes that occur in the held-out set, as Reuters-21578 results
  are usually given: Yang & Liu 1999, "A re-examination of text categorization methods"),
  micro-F1, and the confusion matrix (multi-class: true x predicted; multi-label: TP/FP/FN per
  class, since one document may carry several labels);
* graded scores (0-5, FineWeb-Edu): Pearson and Spearman correlation of the score with the true
  grade, and precision/recall/F1 of "grade >= t" for t = 1..5 (FineWeb-Edu reports F1 at t = 3).

`card_markdown` renders a `LabelResult` (its dict) as MODEL.card.md; `fasttext_version` serves the
cards of both classifier commands (where a card goes: `curate.core.classifier_input.card_path`).
"""

from __future__ import annotations

import json
import math

import numpy as np


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts; 0 where undefined (no predictions, no positives)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def class_metrics(truth: list[set[str]], predicted: list[set[str]], classes: list[str]) -> dict:
    """Per-class P/R/F1/support, macro-F1 over the classes with held-out support, micro-F1 and
    exact-match accuracy; `truth` and `predicted` hold one label set per document."""
    per_class, tp_all, fp_all, fn_all = {}, 0, 0, 0
    for c in classes:
        tp = sum(1 for t, p in zip(truth, predicted) if c in t and c in p)
        fp = sum(1 for t, p in zip(truth, predicted) if c not in t and c in p)
        fn = sum(1 for t, p in zip(truth, predicted) if c in t and c not in p)
        precision, recall, f1 = prf(tp, fp, fn)
        per_class[c] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                        "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
    supported = [m["f1"] for m in per_class.values() if m["support"]]
    return {"macro_f1": round(float(np.mean(supported)), 4) if supported else float("nan"),
            "micro_f1": round(prf(tp_all, fp_all, fn_all)[2], 4),
            "accuracy": round(sum(t == p for t, p in zip(truth, predicted)) / max(1, len(truth)), 4),
            "classes_scored": len(supported), "per_class": per_class}


def confusion(truth: list[str], predicted: list[str], classes: list[str]) -> list[list[int]]:
    """Rows: true class, columns: predicted class, in the order of `classes`."""
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(truth, predicted):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    return matrix.tolist()


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), as Spearman's rho needs."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2
        i = j + 1
    return ranks


def pearson(x, y) -> float:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")  # a constant predictor (the majority baseline) has no correlation
    return float(np.corrcoef(x, y)[0, 1])


def spearman(x, y) -> float:
    return pearson(_ranks(np.asarray(x, dtype=float)), _ranks(np.asarray(y, dtype=float)))


def graded_metrics(truth: list[int], scores: list[float], grades: list[int]) -> dict:
    """Correlations of the score with the grade, and P/R/F1 of `round(score) >= t` against
    `grade >= t` for every grade t above the lowest (FineWeb-Edu: F1 at t = 3)."""
    truth_a, score_a = np.asarray(truth, dtype=float), np.asarray(scores, dtype=float)
    rounded = np.clip(np.rint(score_a), min(grades), max(grades))
    thresholds = {}
    for t in sorted(grades)[1:]:
        tp = int(((rounded >= t) & (truth_a >= t)).sum())
        fp = int(((rounded >= t) & (truth_a < t)).sum())
        fn = int(((rounded < t) & (truth_a >= t)).sum())
        p, r, f1 = prf(tp, fp, fn)
        thresholds[str(t)] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
                              "support": tp + fn}
    return {"pearson": _round(pearson(score_a, truth_a)), "spearman": _round(spearman(score_a, truth_a)),
            "mae": round(float(np.abs(score_a - truth_a).mean()), 4) if len(truth) else float("nan"),
            "f1_at": thresholds}


def _round(x: float) -> float:
    return x if math.isnan(x) else round(x, 4)


def summary_row(name: str, metrics: dict) -> str:
    """One row of the card's comparison table."""
    g = metrics.get("graded") or {}
    cells = [name, metrics.get("macro_f1"), metrics.get("micro_f1"), metrics.get("accuracy"),
             g.get("pearson", "-"), g.get("spearman", "-"), (g.get("f1_at") or {}).get("3", {}).get("f1", "-"),
             metrics.get("docs_per_s"), metrics.get("train_s")]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def card_markdown(result: dict) -> str:
    """MODEL.card.md for a label classifier: data, the comparison with the baselines, per-class
    metrics, the confusion matrix (or per-label counts) and the chosen parameters."""
    p, c = result["params"], result["counts"]
    models = result["metrics"]
    lines = [f"# Model card: {result['model'].rsplit('/', 1)[-1]}", "",
             f"fastText {p['kind']} classifier of `{p['label_field']}` ({len(result['classes'])} labels), trained by "
             f"`curate train-labels` in {result['seconds']} s; {result['model_bytes'] / 2**20:.2f} MB.", "",
             f"Documents: {c['train']} train ({c['fit']} fit + {c['validation']} validation for tuning), "
             f"{c['heldout']} held out ({c['split']}).", "",
             "## Held-out comparison (same split, same run)", "",
             "| model | macro-F1 | micro-F1 | exact match | Pearson | Spearman | F1 at >=3 | docs/s | train s |",
             "|---|---|---|---|---|---|---|---|---|",
             *[summary_row(name, m) for name, m in models.items()], ""]
    lines += _per_class_table(models["fasttext"]["per_class"])
    if "confusion" in models["fasttext"]:
        lines += ["", "## Confusion matrix (fastText; rows true, columns predicted)", "",
                  "| | " + " | ".join(result["classes"]) + " |", "|---" * (len(result["classes"]) + 1) + "|"]
        lines += [f"| {cls} | " + " | ".join(map(str, row)) + " |"
                  for cls, row in zip(result["classes"], models["fasttext"]["confusion"])]
    if models["fasttext"].get("graded"):
        lines += ["", "## Graded: F1 of score >= t (fastText)", "", "| t | precision | recall | F1 | support |",
                  "|---|---|---|---|---|"]
        lines += [f"| {t} | {m['precision']} | {m['recall']} | {m['f1']} | {m['support']} |"
                  for t, m in models["fasttext"]["graded"]["f1_at"].items()]
    lines += ["", "## Tuning (validation split of the training set)", "",
              *[f"- {step}" for step in result.get("tuning", [])], "",
              "## Parameters", "", "```json", json.dumps(p, indent=1), "```", ""]
    return "\n".join(lines)


def _per_class_table(per_class: dict, limit: int = 40) -> list[str]:
    """Per-class metrics of the fastText model, by held-out support (the `limit` largest)."""
    rows = sorted(per_class.items(), key=lambda kv: (-kv[1]["support"], kv[0]))[:limit]
    shown = f" (the {limit} largest of {len(per_class)})" if len(per_class) > limit else ""
    return [f"## Per class (fastText){shown}", "", "| label | precision | recall | F1 | support | TP | FP | FN |",
            "|---|---|---|---|---|---|---|---|",
            *[f"| {k} | {m['precision']} | {m['recall']} | {m['f1']} | {m['support']} | {m['tp']} | {m['fp']} | "
              f"{m['fn']} |" for k, m in rows]]


def fasttext_version() -> str | None:
    """The installed fastText distribution and its version (`fasttext-numpy2-wheel 0.9.2`):
    the module has no `__version__`, and several distributions install a `fasttext` module
    (fasttext-predict, prediction only, too); the one that can train is named first."""
    from importlib import metadata

    names = sorted(metadata.packages_distributions().get("fasttext", []), key=lambda n: ("predict" in n, n))
    return next((f"{name} {metadata.version(name)}" for name in names), None)
