"""Gopher quality rules (Rae et al. 2021, "Scaling Language Models", Appendix A, Table A1).

Thresholds, rule order and arithmetic are datatrove's `GopherQualityFilter` (0.10.1), so the
decisions are the same document for document (tests/test_conformance.py). Every signal is
computed and recorded for every document, so an annotate run can be re-thresholded later.
"""

from __future__ import annotations

import math
from typing import ClassVar

from datatrove.data import Document
from datatrove.utils.text import PUNCTUATION_SET

from curate.core.step import CurateFilter, Signal
from curate.core.textfeatures import NO_SPACE_LANGUAGES, doc_language, features

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")  # Gopher's list (paper, A.1.1)


def _has_letter(word: str) -> bool:
    """Whether any character of `word` is a letter (datatrove's `any(c.isalpha() for c in w)`; a word of
    letters only, most of them, answers without the per-character pass)."""
    return word.isalpha() or any(map(str.isalpha, word))


class GopherQuality(CurateFilter):
    """Drop documents that fail Gopher's quality heuristics.

    Defaults are Gopher's (Rae et al. 2021, Table A1 and Appendix A.1.1), as datatrove sets them:
    50-100,000 words that are not only punctuation; mean length of those words 3-10 characters;
    '#' and ellipsis ('...' or '…') counts per word <= 0.1; <= 90% of lines starting with a
    bullet ('•' or '-'); <= 30% of lines ending with an ellipsis; >= 80% of words containing a
    letter; >= 2 distinct words of Gopher's stop-word list. A threshold of null or 0 disables its
    rule, as in datatrove.

    Words are datatrove's English split (spaCy `blank("en")`, reproduced without spaCy in
    curate/core/wordsplit.py). With `language: auto` (the default) a document whose fastText language
    is written without spaces (zh, ja, th, ...) is split per character instead, and the mean
    word length and English stop-word rules are skipped for it: a deliberate difference from
    datatrove, which drops every such page as too short (datatrove #135). `language: en` gives
    datatrove's behaviour for every document.

    Reasons (datatrove's in brackets): too_few_words (gopher_short_doc), too_many_words
    (gopher_long_doc), short_mean_word_length (gopher_below_avg_threshold),
    long_mean_word_length (gopher_above_avg_threshold), too_many_hashes
    (gopher_too_many_hashes), too_many_ellipses (gopher_too_many_ellipsis),
    too_many_bullet_lines (gopher_too_many_bullets), too_many_ellipsis_lines
    (gopher_too_many_end_ellipsis), too_few_alpha_words (gopher_below_alpha_threshold),
    too_few_stop_words (gopher_enough_stop_words).
    Example: `- gopher_quality: {min_doc_words: 50}`.
    """

    name = "🥇 curate Gopher quality"
    namespace: ClassVar[str] = "gopher_quality"
    signals: ClassVar[dict[str, Signal]] = {  # a threshold of null or 0 disables its rule (off=(0,))
        "n_words": Signal("int64"),
        "n_non_symbol_words": Signal("int64", keep="within", threshold=("min_doc_words", "max_doc_words"),
                                     reasons=("too_few_words", "too_many_words"), off=(0,)),
        "mean_word_length": Signal("float64", keep="within", threshold=("min_avg_word_length", "max_avg_word_length"),
                                   reasons=("short_mean_word_length", "long_mean_word_length"), off=(0,),
                                   exempt_languages=NO_SPACE_LANGUAGES),
        "hash_ratio": Signal("float64", keep="lower", threshold="max_symbol_word_ratio",
                             reasons=("too_many_hashes",), off=(0,)),
        "ellipsis_ratio": Signal("float64", keep="lower", threshold="max_symbol_word_ratio",
                                 reasons=("too_many_ellipses",), off=(0,)),
        "bullet_lines_ratio": Signal("float64", keep="lower", threshold="max_bullet_lines_ratio",
                                     reasons=("too_many_bullet_lines",), off=(0,)),
        "ellipsis_lines_ratio": Signal("float64", keep="lower", threshold="max_ellipsis_lines_ratio",
                                       reasons=("too_many_ellipsis_lines",), off=(0,)),
        "alpha_words_ratio": Signal("float64", keep="higher", threshold="max_non_alpha_words_ratio",
                                    reasons=("too_few_alpha_words",), off=(0,)),
        "n_stop_words": Signal("int64", keep="higher", threshold="min_stop_words", reasons=("too_few_stop_words",),
                               off=(0,), exempt_languages=NO_SPACE_LANGUAGES),
    }
    datatrove_reasons: ClassVar[dict[str, str]] = {
        "gopher_short_doc": "too_few_words",
        "gopher_long_doc": "too_many_words",
        "gopher_below_avg_threshold": "short_mean_word_length",
        "gopher_above_avg_threshold": "long_mean_word_length",
        "gopher_too_many_hashes": "too_many_hashes",
        "gopher_too_many_ellipsis": "too_many_ellipses",
        "gopher_too_many_bullets": "too_many_bullet_lines",
        "gopher_too_many_end_ellipsis": "too_many_ellipsis_lines",
        "gopher_below_alpha_threshold": "too_few_alpha_words",
        "gopher_enough_stop_words": "too_few_stop_words",
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
        language: str = "auto",
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
        self.max_non_alpha_words_ratio = max_non_alpha_words_ratio  # a minimum, named as in datatrove
        self.min_stop_words = min_stop_words
        self.stop_words = frozenset(STOP_WORDS if stop_words is None else stop_words)
        self.language = language

    def signals_of(self, text: str, feats) -> dict:
        words, lines = feats.words, feats.lines
        n_words = len(words)
        content = [w for w in words if not PUNCTUATION_SET.issuperset(w)]
        return {
            "n_words": n_words,
            "n_non_symbol_words": len(content),
            # datatrove's np.mean of an empty list is nan, which passes both length bounds
            "mean_word_length": sum(map(len, content)) / len(content) if content else math.nan,
            "hash_ratio": text.count("#") / n_words if n_words else None,
            "ellipsis_ratio": (text.count("...") + text.count("…")) / n_words if n_words else None,
            "bullet_lines_ratio": sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines) if lines else None,
            "ellipsis_lines_ratio": sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines) if lines else None,
            "alpha_words_ratio": sum(map(_has_letter, words)) / n_words if n_words else None,
            "n_stop_words": len(self.stop_words.intersection(words)),
        }

    def filter(self, doc: Document) -> str | None:
        language = doc_language(doc, self.language)
        no_spaces = language in NO_SPACE_LANGUAGES
        s = self.signals_of(doc.text, features(doc, language))
        self.record_all(doc, s)
        n, mean = s["n_non_symbol_words"], s["mean_word_length"]
        if self.min_doc_words and n < self.min_doc_words:
            return "too_few_words"
        if self.max_doc_words and n > self.max_doc_words:
            return "too_many_words"
        if not no_spaces:
            if self.min_avg_word_length and mean < self.min_avg_word_length:
                return "short_mean_word_length"
            if self.max_avg_word_length and mean > self.max_avg_word_length:
                return "long_mean_word_length"
        if s["n_words"] == 0:
            return None  # only reachable with min_doc_words disabled; datatrove divides by zero
        maxima = (  # (threshold, signal, reason) in datatrove's order; null or 0 disables a rule
            (self.max_symbol_word_ratio, "hash_ratio", "too_many_hashes"),
            (self.max_symbol_word_ratio, "ellipsis_ratio", "too_many_ellipses"),
            (self.max_bullet_lines_ratio, "bullet_lines_ratio", "too_many_bullet_lines"),
            (self.max_ellipsis_lines_ratio, "ellipsis_lines_ratio", "too_many_ellipsis_lines"),
        )
        for threshold, signal, reason in maxima:
            if threshold and s[signal] > threshold:
                return reason
        if self.max_non_alpha_words_ratio and s["alpha_words_ratio"] < self.max_non_alpha_words_ratio:
            return "too_few_alpha_words"
        if self.min_stop_words and not no_spaces and s["n_stop_words"] < self.min_stop_words:
            return "too_few_stop_words"
        return None
