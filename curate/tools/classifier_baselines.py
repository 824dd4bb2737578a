"""The baselines every label classifier is reported against: majority class and bag-of-words
logistic regression, in numpy alone (scikit-learn and scipy are not dependencies of curate).

The logistic regression is the classic strong text-classification baseline (Joachims 1998 for
SVMs; Wang & Manning 2012, "Baselines and Bigrams", for linear models on bags of words): words
of the same normalised text fastText sees, sublinear tf (1 + log tf) times idf, rows scaled to
unit length, plus a bias feature; softmax for one label per document, one sigmoid per label for
several; trained by mini-batch Adam with L2, seeded, so a run is a function of data and seed.
Documents are sparse rows (CSR arrays); a batch becomes a dense matrix over the words it holds,
so its products are BLAS calls and memory stays batch x (its words + labels).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass
class Csr:
    """Sparse rows: row i holds `indices[indptr[i]:indptr[i+1]]` with `data` weights."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def rows(self, start: int, stop: int) -> Csr:
        a, b = self.indptr[start], self.indptr[stop]
        return Csr(self.indptr[start:stop + 1] - a, self.indices[a:b], self.data[a:b])


class BowVectorizer:
    """Sublinear tf-idf over the `max_features` most frequent training words; feature 0 is a bias."""

    def __init__(self, max_features: int = 100_000):
        self.max_features = max_features

    def fit(self, texts: list[str]) -> BowVectorizer:
        df = Counter(w for t in texts for w in set(t.split()))
        words = [w for w, _ in sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))[: self.max_features]]
        self.vocab = {w: i + 1 for i, w in enumerate(words)}
        self.idf = np.ones(len(words) + 1)
        self.idf[1:] = [math.log((1 + len(texts)) / (1 + df[w])) + 1 for w in words]
        return self

    def transform(self, texts: list[str]) -> Csr:
        indptr, indices, data = [0], [], []
        for text in texts:
            counts = Counter(self.vocab[w] for w in text.split() if w in self.vocab)
            idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
            w = (1 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * self.idf[idx]
            norm = np.sqrt((w ** 2).sum()) or 1.0
            indices += [0, *idx.tolist()]
            data += [1.0, *(w / norm).tolist()]
            indptr.append(len(indices))
        return Csr(np.asarray(indptr), np.asarray(indices, dtype=np.int64), np.asarray(data))


def _probs(z: np.ndarray, multilabel: bool) -> np.ndarray:
    if multilabel:
        return 1 / (1 + np.exp(-np.clip(z, -30, 30)))
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class LogisticRegression:
    """Linear model over `BowVectorizer` rows; `y` is documents x labels of 0/1."""

    def __init__(self, multilabel: bool, l2: float = 1e-4, epochs: int = 20, batch: int = 256, lr: float = 0.05,
                 seed: int = 0):
        self.multilabel, self.l2, self.epochs, self.batch, self.lr, self.seed = multilabel, l2, epochs, batch, lr, seed

    def fit(self, x: Csr, y: np.ndarray, n_features: int) -> LogisticRegression:
        """Lazy (sparse) Adam: a batch updates only the weight rows of the words it contains, as
        sparse SGD does; a batch is a dense matrix over its own words, so the products are BLAS."""
        rng = np.random.default_rng(self.seed)
        w = np.zeros((n_features, y.shape[1]))
        m, v, steps = np.zeros_like(w), np.zeros_like(w), np.zeros(n_features)
        for _ in range(self.epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x), self.batch):
                rows = np.sort(order[start:start + self.batch])
                words, dense = _dense(_take(x, rows))
                g = (_probs(dense @ w[words], self.multilabel) - y[rows]) / len(rows)
                grad = dense.T @ g + self.l2 * w[words]
                steps[words] += 1
                t = steps[words][:, None]
                m[words] = 0.9 * m[words] + 0.1 * grad
                v[words] = 0.999 * v[words] + 0.001 * grad ** 2
                w[words] -= self.lr * (m[words] / (1 - 0.9 ** t)) / (np.sqrt(v[words] / (1 - 0.999 ** t)) + 1e-8)
        self.w = w
        return self

    def predict_proba(self, x: Csr, batch: int = 1024) -> np.ndarray:
        out = []
        for start in range(0, len(x), batch):
            words, dense = _dense(x.rows(start, min(len(x), start + batch)))
            out.append(_probs(dense @ self.w[words], self.multilabel))
        return np.concatenate(out) if out else np.zeros((0, self.w.shape[1]))


def _dense(x: Csr) -> tuple[np.ndarray, np.ndarray]:
    """(the words of `x`, `x` as a dense rows x those words matrix)."""
    words, column = np.unique(x.indices, return_inverse=True)
    dense = np.zeros((len(x), len(words)))
    dense[np.repeat(np.arange(len(x)), np.diff(x.indptr)), column] = x.data
    return words, dense


def _take(x: Csr, rows: np.ndarray) -> Csr:
    starts, stops = x.indptr[rows], x.indptr[rows + 1]
    lengths = stops - starts
    flat = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)])
    return Csr(np.concatenate([[0], np.cumsum(lengths)]), x.indices[flat], x.data[flat])


@dataclass
class BowModel:
    """A fitted vectorizer and regression, and the label order of the regression's columns."""

    vectorizer: BowVectorizer
    model: LogisticRegression
    classes: list[str]

    def proba(self, texts: list[str]) -> np.ndarray:
        return self.model.predict_proba(self.vectorizer.transform(texts))


def label_matrix(labels: list[list[str]], classes: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    y = np.zeros((len(labels), len(classes)))
    for i, doc in enumerate(labels):
        for label in doc:
            if label in index:
                y[i, index[label]] = 1
    return y


def fit_bow(texts: list[str], labels: list[list[str]], classes: list[str], multilabel: bool, l2: float,
            seed: int) -> BowModel:
    vectorizer = BowVectorizer().fit(texts)
    x = vectorizer.transform(texts)
    model = LogisticRegression(multilabel, l2=l2, seed=seed).fit(x, label_matrix(labels, classes),
                                                                  len(vectorizer.vocab) + 1)
    return BowModel(vectorizer, model, classes)


def timed(fn, *args) -> tuple[object, float]:
    """fn(*args) and the seconds it took (wall clock, one core)."""
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start
