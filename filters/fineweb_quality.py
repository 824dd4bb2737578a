"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.5).

Same rules, order and arithmetic as datatrove's `FineWebQualityFilter` (0.10.1), checked
decision for decision in tests/test_conformance.py.
"""

from __future__ import annotations

from typing import ClassVar

from datatrove.data import Document
from datatrove.utils.text import TERMINAL_PUNCTUATION

from curate.core.step import CurateFilter, Signal
from curate.core.textfeatures import features
from curate.filters.gopher_repetition import find_duplicates


class FineWebQuality(CurateFilter):
    """Drop documents failing FineWeb's line-punctuation, short-line, duplicate and list rules.

    Defaults are the FineWeb paper's (Penedo et al. 2024, section 3.5, as in datatrove's
    `FineWebQualityFilter`): >= 12% of non-blank lines end in terminal punctuation
    (`line_punct_thr`); <= 67% of lines are at most 30 characters (`short_line_thr`,
    `short_line_length`); characters in duplicated lines <= 1% of the non-newline characters
    (`char_duplicates_ratio`); newlines per word <= 0.3 (`new_line_ratio`). Words are
    datatrove's English split; see gopher_quality for `language: auto`.

    Reasons (datatrove's are the same): empty, line_punct_ratio, short_line_ratio,
    char_dup_ratio, list_ratio.
    Example: `- fineweb_quality: {line_punct_thr: 0.12}`.
    """

    name = "🍷 curate FineWeb quality"
    namespace: ClassVar[str] = "fineweb_quality"
    signals: ClassVar[dict[str, Signal]] = {
        "line_punct_ratio": Signal("float64", keep="higher", threshold="line_punct_thr", reasons=("line_punct_ratio",)),
        "short_line_ratio": Signal("float64", keep="lower", threshold="short_line_thr", reasons=("short_line_ratio",)),
        "char_dup_ratio": Signal("float64", keep="lower", threshold="char_duplicates_ratio", reasons=("char_dup_ratio",)),
        "new_line_ratio": Signal("float64", keep="lower", threshold="new_line_ratio", reasons=("list_ratio",)),
    }
    datatrove_reasons: ClassVar[dict[str, str]] = {
        r: r for r in ("empty", "line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio")}

    def __init__(
        self,
        line_punct_thr: float = 0.12,
        line_punct_exclude_zero: bool = False,
        stop_chars: list[str] | None = None,
        short_line_thr: float = 0.67,
        short_line_length: int = 30,
        char_duplicates_ratio: float = 0.01,
        new_line_ratio: float = 0.3,
        language: str = "auto",
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.line_punct_thr = line_punct_thr
        self.line_punct_exclude_zero = line_punct_exclude_zero
        self.stop_chars = tuple(stop_chars) if stop_chars is not None else tuple(TERMINAL_PUNCTUATION)
        self.short_line_thr = short_line_thr
        self.short_line_length = short_line_length
        self.char_duplicates_ratio = char_duplicates_ratio
        self.new_line_ratio = new_line_ratio
        self.language = language

    def filter(self, doc: Document) -> str | None:
        feats = features(doc, self.language)
        lines = feats.nonblank_lines
        if not lines:
            return "empty"
        text = doc.text
        punct = sum(1 for line in lines if line.endswith(self.stop_chars)) / len(lines)
        short = sum(1 for line in lines if len(line) <= self.short_line_length) / len(lines)
        dup = find_duplicates(lines)[1] / len(text.replace("\n", ""))
        n_words = len(feats.words)
        new_lines = text.count("\n") / n_words if n_words else None
        self.record_all(doc, {"line_punct_ratio": punct, "short_line_ratio": short, "char_dup_ratio": dup,
                              "new_line_ratio": new_lines})
        if punct < self.line_punct_thr and not (punct == 0 and self.line_punct_exclude_zero):
            return "line_punct_ratio"
        if short > self.short_line_thr:
            return "short_line_ratio"
        if dup > self.char_duplicates_ratio:
            return "char_dup_ratio"
        if new_lines is not None and new_lines > self.new_line_ratio:
            return "list_ratio"
        return None
