"""Benchmark decontamination: drop, or cut the paragraphs of, documents that contain benchmark text."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import ClassVar

import numpy as np
from datatrove.data import Document

from curate.core.step import CurateFilter, Signal
from curate.filters.decontaminate.index import REPORT_SQL, NGramIndex, cached_index, words


class Decontaminate(CurateFilter):
    """Find benchmark n-grams in documents (curate.filters.decontaminate.index) and drop the document or cut them out.

    The index is `index:` (a file from `curate decontam-index`) or, if that is not given, built
    on first use from every benchmark file under `benchmarks:` and cached in `cache_dir` (default
    ~/.cache/curate/decontam) under a digest of the files and parameters. Defaults: word 13-grams
    (GPT-3, NeMo Curator), items of 8-12 words matched whole, n-grams shared by more than 10 items
    ignored; `allow:` phrases are never evidence; a document must hold `min_matches` (3) of an
    item's keys, or all of a shorter item's. `action: drop` drops the document (GPT-3,
    datatrove); `action: cut` removes every line (paragraph) holding a matched n-gram and keeps the
    rest if it still has `min_chars_after_cut` characters (NeMo Curator: 200), else drops it (so
    with `cut` this stage rewrites `doc.text`, as a transform does).
    Records the benchmark and item with the most matched n-grams, the first such n-gram
    (normalised words), the number of matched n-grams and the characters removed. Reason:
    `decontaminate:<benchmark>` (e.g. `decontaminate:gsm8k`). In annotate mode nothing is cut.
    Example: `- decontaminate: {benchmarks: ["${CURATE_SHARED_DATA:-../shared/data}/benchmarks"], action: cut}`.
    """

    name = "🧪 curate decontaminate"
    namespace: ClassVar[str] = "decontaminate"
    signals: ClassVar[dict[str, Signal]] = {  # descriptive: the rule is per benchmark item (`min_matches` of its keys)
        "benchmark": Signal("string"), "item": Signal("string"), "ngram": Signal("string"),
        "n_matches": Signal("int64"), "items": Signal("list<string>"), "chars_removed": Signal("int64")}
    transient: ClassVar[tuple[str, ...]] = ("index",)

    def __init__(
        self,
        benchmarks: list[str] | None = None,
        index: str | None = None,
        n: int = 13,
        fields: dict | None = None,
        min_words: int = 8,
        max_items: int = 10,
        allow: list[str] | None = None,
        min_matches: int = 3,
        action: str = "drop",
        min_chars_after_cut: int = 200,
        cache_dir: str | None = None,
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        if action not in ("drop", "cut"):
            raise ValueError(f"action must be 'drop' or 'cut', got {action!r}")
        if not benchmarks and not index:
            raise ValueError("give `benchmarks:` (folders or files) or `index:` (from curate decontam-index)")
        self.benchmarks, self.index_path, self.cache_dir = list(benchmarks or []), index, cache_dir
        self.build_params = {"n": n, "fields": fields, "min_words": min_words, "max_items": max_items}
        self.allow_phrases, self.action, self.min_chars_after_cut = list(allow or []), action, min_chars_after_cut
        self.min_matches = min_matches

    @cached_property
    def index(self) -> NGramIndex:
        path = self.index_path
        if path is None or (self.benchmarks and not Path(path).is_file()):
            built = cached_index(self.benchmarks, self.cache_dir, **self.build_params)
            if path is not None:
                NGramIndex.load(built).save(path)
            path = path or built
        if not Path(path).is_file():
            raise FileNotFoundError(f"decontamination index not found: {path}")
        index = NGramIndex.load(path)
        index.allow(self.allow_phrases)
        return index

    def filter(self, doc: Document) -> str | None:
        ws = words(doc.text)
        match = self.index.find(ws, self.min_matches)
        if match is None:
            return None
        index, best = self.index, match.best()
        start, k = match.first[best]
        benchmark = index.benchmark_names[index.item_benchmark[best]]
        ranked = sorted(match.votes, key=lambda item: (-match.votes[item], item))[:20]
        self.record_all(doc, {"benchmark": benchmark, "item": index.item_ids[best], "ngram": " ".join(ws[start:start + k]),
                              "n_matches": len(match.spans), "items": [index.item_ids[i] for i in ranked],
                              "chars_removed": len(doc.text)})
        self.stat_update(f"contaminated_{benchmark}")
        if self.action == "cut" and self.mode == "filter":
            kept = cut_lines(doc.text, match.spans)
            if len(kept) >= self.min_chars_after_cut:
                self.record(doc, "chars_removed", len(doc.text) - len(kept))
                doc.text = kept
                return None
        return benchmark

    def reports(self) -> dict[str, str]:
        """OUT/reports/decontamination.parquet, per benchmark (`index.REPORT_SQL`)."""
        return {"decontamination": REPORT_SQL}


def cut_lines(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` without the lines that hold a word of any (first word, length) span; words as
    `curate.filters.decontaminate.index.words` counts them, which never joins words across a line break."""
    lines = text.split("\n")
    ends = np.cumsum([len(words(line)) for line in lines])  # words before the end of each line
    hit = np.zeros(len(lines), bool)
    for start, k in spans:
        hit[np.searchsorted(ends, start, side="right"):np.searchsorted(ends, start + k - 1, side="right") + 1] = True
    return "\n".join(line for line, cut in zip(lines, hit) if not cut).strip()
