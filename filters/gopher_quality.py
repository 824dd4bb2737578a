"""Gopher quality rules (Rae et al. 2021, "Scaling Language Models", Appendix A, Table A1).

Thresholds and rule order are datatrove's `GopherQualityFilter` defaults. Every signal is
computed and recorded for every document, and the decision is a threshold on those signals, so
an annotate run can be re-thresholded later without recomputing anything.
"""

from __future__ import annotations

import re
from typing import ClassVar

from datatrove.data import Document
from datatrove.utils.text import PUNCTUATION_SET

from curate.step import CurateFilter

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")  # Gopher's list
WORD_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]+")


def split_words(text: str) -> list[str]:
    """Words and runs of punctuation, as a word tokenizer would split them."""
    return WORD_RE.findall(text)


class GopherQuality(CurateFilter):
    """Drop documents that fail Gopher's quality heuristics.

    Defaults (Gopher Table A1, as in datatrove): 50-100,000 non-symbol words; mean word length
    3-10; '#' and ellipsis to word ratios <= 0.1; <= 90% of lines starting with a bullet;
    <= 30% ending with an ellipsis; >= 80% of words containing a letter; >= 2 of Gopher's stop
    words. Set any threshold to null to disable that rule.
    Example: `- gopher_quality: {min_doc_words: 50}`.
    """

    name = "🥇 curate Gopher quality"
    namespace: ClassVar[str] = "gopher_quality"
    signals: ClassVar[dict[str, str]] = {
        "n_words": "int64",
        "n_non_symbol_words": "int64",
        "mean_word_length": "float64",
        "hash_ratio": "float64",
        "ellipsis_ratio": "float64",
        "bullet_lines_ratio": "float64",
        "ellipsis_lines_ratio": "float64",
        "alpha_words_ratio": "float64",
        "n_stop_words": "int64",
    }

    def __init__(
        self,
        min_doc_words: int | None = 50,
        max_doc_words: int | None = 100_000,
        min_avg_word_length: float | None = 3,
        max_avg_word_length: float | None = 10,
        max_symbol_word_ratio: float | None = 0.1,
        max_bullet_lines_ratio: float | None = 0.9,
        max_ellipsis_lines_ratio: float | None = 0.3,
        max_non_alpha_words_ratio: float | None = 0.8,
        min_stop_words: int | None = 2,
        stop_words: list[str] | None = None,
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.min_doc_words = min_doc_words
        self.max_doc_words = max_doc_words
        self.min_avg_word_length = min_avg_word_length
        self.max_avg_word_length = max_avg_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines_ratio = max_bullet_lines_ratio
        self.max_ellipsis_lines_ratio = max_ellipsis_lines_ratio
        self.max_non_alpha_words_ratio = max_non_alpha_words_ratio
        self.min_stop_words = min_stop_words
        self.stop_words = frozenset(STOP_WORDS if stop_words is None else stop_words)

    def signals_of(self, text: str) -> dict:
        words = split_words(text)
        n_words = max(len(words), 1)
        content = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
        lines = text.splitlines() or [""]
        return {
            "n_words": len(words),
            "n_non_symbol_words": len(content),
            "mean_word_length": sum(map(len, content)) / len(content) if content else 0.0,
            "hash_ratio": text.count("#") / n_words,
            "ellipsis_ratio": (text.count("...") + text.count("…")) / n_words,
            "bullet_lines_ratio": sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines),
            "ellipsis_lines_ratio": sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines),
            "alpha_words_ratio": sum(any(c.isalpha() for c in w) for w in words) / n_words,
            "n_stop_words": len(self.stop_words.intersection(words)),
        }

    def filter(self, doc: Document) -> str | None:
        s = self.signals_of(doc.text)
        for name, value in s.items():
            self.record(doc, name, value)
        rules = (
            (self.min_doc_words, lambda t: s["n_non_symbol_words"] < t, "too_few_words"),
            (self.max_doc_words, lambda t: s["n_non_symbol_words"] > t, "too_many_words"),
            (self.min_avg_word_length, lambda t: s["mean_word_length"] < t, "short_mean_word_length"),
            (self.max_avg_word_length, lambda t: s["mean_word_length"] > t, "long_mean_word_length"),
            (self.max_symbol_word_ratio, lambda t: s["hash_ratio"] > t, "too_many_hashes"),
            (self.max_symbol_word_ratio, lambda t: s["ellipsis_ratio"] > t, "too_many_ellipses"),
            (self.max_bullet_lines_ratio, lambda t: s["bullet_lines_ratio"] > t, "too_many_bullet_lines"),
            (self.max_ellipsis_lines_ratio, lambda t: s["ellipsis_lines_ratio"] > t, "too_many_ellipsis_lines"),
            (self.max_non_alpha_words_ratio, lambda t: s["alpha_words_ratio"] < t, "too_few_alpha_words"),
            (self.min_stop_words, lambda t: s["n_stop_words"] < t, "too_few_stop_words"),
        )
        for threshold, fails, reason in rules:
            if threshold and fails(threshold):
                return reason
        return None
