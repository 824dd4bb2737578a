"""Gopher repetition rules (Rae et al. 2021, "Scaling Language Models", Appendix A, Table A1).

Same rules, order and arithmetic as datatrove's `GopherRepetitionFilter` (0.10.1), checked
decision for decision in tests/test_conformance.py. The n-gram statistics come from the shared
`TextFeatures` (numpy n-gram ids instead of one joined string per n-gram), which is where the
speed comes from.
"""

from __future__ import annotations

from typing import ClassVar

from datatrove.data import Document

from curate.core.step import CurateFilter, Signal
from curate.core.textfeatures import features

TOP_N_GRAMS = ((2, 0.2), (3, 0.18), (4, 0.16))  # (n, max top n-gram character fraction), Table A1
DUP_N_GRAMS = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))  # (n, max duplicate fraction)


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated items, characters in them), counting each repeat after the first."""
    seen: set[str] = set()
    n_dup = n_chars = 0
    for item in items:
        if item in seen:
            n_dup += 1
            n_chars += len(item)
        else:
            seen.add(item)
    return n_dup, n_chars


class GopherRepetition(CurateFilter):
    """Drop documents with repeated lines, paragraphs or n-grams (Gopher's repetition rules).

    Defaults are Gopher's Table A1 (Rae et al. 2021), as in datatrove: duplicate line fraction
    0.30, duplicate paragraph fraction 0.30, duplicate line character fraction 0.20, duplicate
    paragraph character fraction 0.20; top 2/3/4-gram character fraction 0.20/0.18/0.16;
    duplicate 5-10-gram character fraction 0.15, 0.14, 0.13, 0.12, 0.11, 0.10. Paragraphs are
    split on two or more newlines, lines on runs of newlines, words as datatrove's English
    tokenizer does (see gopher_quality for `language: auto` on languages without spaces).

    Reasons (datatrove's in brackets): empty (empty), dup_para_frac, dup_para_char_frac,
    dup_line_frac, dup_line_char_frac (same names), top_2_gram ... top_4_gram (same),
    dup_5_gram ... dup_10_gram (duplicated_5_n_grams ... duplicated_10_n_grams).
    Example: `- gopher_repetition: {dup_line_frac: 0.3}`.
    """

    name = "👯 curate Gopher repetition"
    namespace: ClassVar[str] = "gopher_repetition"
    signals: ClassVar[dict[str, Signal]] = {  # each keeps values <= its threshold; 0 disables the line/para rules
        **{name: Signal("float64", keep="lower", threshold=name, reasons=(name,), off=(0,))
           for name in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac")},
        **{f"top_{n}_gram_char_frac": Signal("float64", keep="lower", threshold=f"top_n_grams[{n}]",
                                             reasons=(f"top_{n}_gram",), unset=TOP_N_GRAMS) for n in (2, 3, 4)},
        **{f"dup_{n}_gram_char_frac": Signal("float64", keep="lower", threshold=f"dup_n_grams[{n}]",
                                             reasons=(f"dup_{n}_gram",), unset=DUP_N_GRAMS) for n in range(5, 11)},
    }
    datatrove_reasons: ClassVar[dict[str, str]] = {
        "empty": "empty", "dup_para_frac": "dup_para_frac", "dup_para_char_frac": "dup_para_char_frac",
        "dup_line_frac": "dup_line_frac", "dup_line_char_frac": "dup_line_char_frac",
        **{f"top_{n}_gram": f"top_{n}_gram" for n in range(1, 11)},
        **{f"duplicated_{n}_n_grams": f"dup_{n}_gram" for n in range(1, 21)},
    }

    def __init__(
        self,
        dup_line_frac: float | None = 0.3,
        dup_para_frac: float | None = 0.3,
        dup_line_char_frac: float | None = 0.2,
        dup_para_char_frac: float | None = 0.2,
        top_n_grams: list[list[float]] | None = None,
        dup_n_grams: list[list[float]] | None = None,
        language: str = "auto",
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.dup_line_frac = dup_line_frac
        self.dup_para_frac = dup_para_frac
        self.dup_line_char_frac = dup_line_char_frac
        self.dup_para_char_frac = dup_para_char_frac
        self.top_n_grams = [(int(n), f) for n, f in (top_n_grams or TOP_N_GRAMS)]
        self.dup_n_grams = [(int(n), f) for n, f in (dup_n_grams or DUP_N_GRAMS)]
        self.language = language

    def filter(self, doc: Document) -> str | None:
        text = doc.text
        if not text:
            return "empty"
        feats = features(doc, self.language)
        n_chars = len(text)
        rules = []  # (threshold, signal, value) in datatrove's order; the signal names the reason
        n_dup, dup_chars = find_duplicates(feats.paragraphs)
        rules.append((self.dup_para_frac, "dup_para_frac", n_dup / len(feats.paragraphs)))
        rules.append((self.dup_para_char_frac, "dup_para_char_frac", dup_chars / n_chars))
        n_dup, dup_chars = find_duplicates(feats.newline_lines)
        rules.append((self.dup_line_frac, "dup_line_frac", n_dup / len(feats.newline_lines)))
        rules.append((self.dup_line_char_frac, "dup_line_char_frac", dup_chars / n_chars))
        for n, frac in self.top_n_grams:
            top = feats.top_ngram_chars(n)  # None when the text has fewer than n words: rule skipped
            rules.append((frac, f"top_{n}_gram_char_frac", None if top is None else top / n_chars))
        for n, frac in self.dup_n_grams:
            rules.append((frac, f"dup_{n}_gram_char_frac", feats.dup_ngram_chars(n) / n_chars))
        reason = None
        for threshold, signal, value in rules:
            if signal in self.signals:
                self.record(doc, signal, value)
            if reason is None and threshold is not None and value is not None and value > threshold:
                # as in datatrove, a threshold of 0 disables the line and paragraph rules only
                if threshold or not signal.startswith(("dup_para", "dup_line")):
                    reason = signal.removesuffix("_frac").removesuffix("_char") if "gram" in signal else signal
        return reason
