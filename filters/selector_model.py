"""What the `extract` selector sees of a page, and the small tree model that decides from it.

Features are cheap by design: counts over the HTML string and over the texts resiliparse already
produced (lengths, link share, tag densities, line shapes), the repeated region's size and share,
distinct-word overlaps between the cheap texts, plus, once trafilatura has run, how much its text
and resiliparse's agree. The model is a few gradient-boosted regression trees per question (and the
line model's classifier trees), trained by `curate.tools.extract_selector_train` on the tuning split
of the shared gold sets and shipped as one gzipped JSON file (`filters/data/extract_selector.json.gz`).
Prediction walks the trees compiled (numba), every model of the page at once, so the whole model
costs about 0.1 ms a page and the line model about 0.7.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
from numba import njit

DEFAULT_MODEL = Path(__file__).parent / "data" / "extract_selector.json.gz"


def _log(x: float) -> float:
    return math.log1p(x)


def _lines(text: str) -> tuple[list[str], list[int]]:
    """The lines of `text` with words, and their word counts (which sum to `len(text.split())`)."""
    lines, counts = [], []
    for line in text.split("\n"):
        if words := len(line.split()):  # str.strip and str.split take the same characters for whitespace
            lines.append(line)
            counts.append(words)
    return lines, counts


def text_features(text: str, prefix: str, lines: tuple[list[str], list[int]] | None = None) -> dict[str, float]:
    """Shape of a text: words, lines, words per line, shares of punctuated, short and long lines
    (`lines`: `_lines(text)` where the caller has it)."""
    lines, counts = lines or _lines(text)
    counts = counts or [0]
    n = len(lines) or 1
    return {prefix + "words": _log(sum(counts)), prefix + "lines": _log(len(lines)),
            prefix + "wpl": _log(sum(counts) / n),
            prefix + "punct": sum(line.rstrip()[-1:] in '.!?"”' for line in lines) / n,
            prefix + "short": sum(c < 5 for c in counts) / n, prefix + "long": sum(c >= 30 for c in counts) / n}


def page_features(tree, html_chars: int, main: str, clean: str, main_dedup: str, visible_words: float,
                  linked: float) -> dict[str, float]:
    """Features known before trafilatura runs: tag densities from resiliparse's parsed `tree` (C walks of
    the DOM; counting in the HTML string costs more than the extraction), resiliparse's texts, and the
    visible text's words and linked words (filters/visible_lines.py)."""
    main_lines, clean_lines = _lines(main), _lines(clean)
    main_words, clean_words = sum(main_lines[1]), sum(clean_lines[1])
    kb = html_chars / 1000 + 1
    document = tree.document
    count = lambda tag: len(document.get_elements_by_tag_name(tag)) / kb  # noqa: E731
    og_type = document.query_selector('meta[property="og:type"]')
    article = bool(document.get_elements_by_tag_name("article")) or (
        og_type is not None and (og_type.getattr("content") or "").lower() == "article")
    features = {
        "html_kb": _log(kb), "main_vis": main_words / (visible_words + 1), "clean_vis": clean_words / (visible_words + 1),
        "main_clean": main_words / (clean_words + 1), "vis_words": _log(visible_words),
        "link_share": linked / (visible_words + 1), "p_per_kb": count("p"), "a_per_kb": count("a"),
        "article": float(article), "dup_share": 1 - len(main_dedup.split()) / (main_words + 1),
        "h_per_kb": len(document.query_selector_all("h1, h2, h3, h4, h5, h6")) / kb, "li_per_kb": count("li"),
        "div_per_kb": count("div"),
    }
    return features | text_features(main, "m_", main_lines) | text_features(clean, "c_", clean_lines)


def overlap(a: set, b: set) -> tuple[float, float]:
    """The shares of `a`'s and of `b`'s distinct words that the other holds."""
    shared = len(a & b)
    return shared / (len(a) + 1), shared / (len(b) + 1)


def region_features(region: str, members: int, share: float, linked: float, main_words: set, clean_words: set
                    ) -> dict[str, float]:
    """The repeated region (filters/regions.py; `region`: its text one text node per line): its shape, how
    many like children, their share of the page's text and of links, and how its distinct words overlap
    those of resiliparse's main text and of the cleaned visible text (`main_words`, `clean_words`: lowercased)."""
    words = set(region.lower().split())
    features = text_features(region, "r_") | {"r_members": _log(members), "r_share": share, "r_linked": linked}
    features["r_mprec"], features["r_mrec"] = overlap(words, main_words)
    features["r_vprec"], features["r_vrec"] = overlap(words, clean_words)
    return features


def lines_features(lines: str, main_words: set, clean_words: set) -> dict[str, float]:
    """The kept visible lines (filters/visible_lines.py): their shape, and how the distinct words of
    resiliparse's main text, the cleaned visible text and the kept lines overlap, each way."""
    words = set(lines.lower().split())
    features = text_features(lines, "v_")
    for key, a, b in (("mc", main_words, clean_words), ("mv", main_words, words), ("cv", clean_words, words)):
        features[f"{key}_p"], features[f"{key}_r"] = overlap(a, b)
    return features


def agreement_features(reference: str, other: str, variant: int) -> dict[str, float]:
    """How trafilatura's text (`other`) and resiliparse's (`reference`) agree, as word-multiset overlap."""
    a, b = Counter(reference.lower().split()), Counter(other.lower().split())
    shared = sum((a & b).values())
    return {"t_prec": shared / (sum(b.values()) + 1), "t_rec": shared / (sum(a.values()) + 1),
            "t_ratio": _log(sum(b.values())) - _log(sum(a.values())), "t_variant": float(variant)} | text_features(other, "t_")


@njit(cache=True)
def _walk_models(x, feature, threshold, left, right, value, roots, ends):
    out = np.zeros(ends.size)
    model = 0
    for k in range(roots.size):
        while k >= ends[model]:
            model += 1
        node = roots[k]
        while threshold[node] != np.inf:
            node = left[node] if x[feature[node]] <= threshold[node] else right[node]
        out[model] += value[node]
    return out


@njit(cache=True)
def _walk_rows(X, feature, threshold, left, right, value, roots):
    out = np.zeros(X.shape[0])
    for root in roots:  # tree by tree: its nodes stay in cache while every row walks it
        for i in range(X.shape[0]):
            node = root
            while threshold[node] != np.inf:
                node = left[node] if X[i, feature[node]] <= threshold[node] else right[node]
            out[i] += value[node]
    return out


class Forest:
    """Gradient-boosted trees (scikit-learn's `HistGradientBoosting*`, exported), walked compiled; several
    models over the same features are stacked and walked at once (`Forest.stack`)."""

    def __init__(self, spec: dict, names: tuple[str, ...] = ("",), sizes: tuple[int, ...] | None = None,
                 baselines: tuple[float, ...] | None = None):
        self.features = spec["features"]
        self.names, self.baselines = names, baselines or (spec["baseline"],)
        trees = spec["trees"]
        self.ends = np.cumsum(sizes or (len(trees),))
        width = max(len(t["feature"]) for t in trees)
        pad = lambda key, fill: np.array([t[key] + [fill] * (width - len(t[key])) for t in trees])  # noqa: E731
        # Every tree's nodes in one flat array (tree k's at k * width ...); a leaf's children are itself
        # and its threshold +inf, so a walk that has reached a leaf stays there without a test.
        first = np.arange(len(trees))[:, None] * width
        leaf, here = pad("leaf", True).astype(bool), first + np.arange(width)
        self.feature = pad("feature", 0).ravel()
        self.threshold = np.where(leaf, np.inf, pad("threshold", 0.0)).ravel()
        self.left = np.where(leaf, here, first + pad("left", 0)).ravel()
        self.right = np.where(leaf, here, first + pad("right", 0)).ravel()
        self.value = pad("value", 0.0).ravel()
        self.roots = first.ravel()
        self.depth = spec["depth"]

    @classmethod
    def stack(cls, specs: dict[str, dict]) -> Forest:
        """One walk for several models that read the same features."""
        first = next(iter(specs.values()))
        assert all(spec["features"] == first["features"] for spec in specs.values())
        merged = {"features": first["features"], "baseline": 0.0, "depth": max(s["depth"] for s in specs.values()),
                  "trees": [tree for spec in specs.values() for tree in spec["trees"]]}
        return cls(merged, tuple(specs), tuple(len(s["trees"]) for s in specs.values()),
                   tuple(s["baseline"] for s in specs.values()))

    def predict_all(self, features: dict[str, float]) -> dict[str, float]:
        x = np.array([features[name] for name in self.features], dtype=float)
        sums = _walk_models(x, self.feature, self.threshold, self.left, self.right, self.value, self.roots, self.ends)
        return {name: float(base + total) for name, base, total in zip(self.names, self.baselines, sums)}

    def predict(self, features: dict[str, float]) -> float:
        return next(iter(self.predict_all(features).values()))

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        """One model's prediction for every row of `X` (columns in `features` order), compiled (numba):
        ~0.7 ms for 200 trees over 270 rows, where the numpy walk takes 4."""
        return self.baselines[0] + _walk_rows(np.ascontiguousarray(X, dtype=float), self.feature, self.threshold,
                                              self.left, self.right, self.value, self.roots)


@lru_cache(maxsize=4)
def load(path: str | None = None) -> dict:
    """The selector file: {"gate", "page": Forest of every model on page features, "keep": Forest, "lines": Forest
    of the visible-line model, "lines_threshold", "card": ...}."""
    with gzip.open(path or DEFAULT_MODEL, "rt") as f:
        spec = json.load(f)
    models = spec.pop("models")
    keep, lines = models.pop("keep"), models.pop("lines")
    return {**spec, "page": Forest.stack(models), "keep": Forest(keep), "lines": Forest(lines)}
