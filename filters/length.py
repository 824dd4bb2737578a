"""Document length bounds in characters and words."""

from __future__ import annotations

from typing import ClassVar

from datatrove.data import Document

from curate.core.step import CurateFilter, Signal
from curate.core.textfeatures import features


class Length(CurateFilter):
    """Drop documents shorter or longer than bounds in characters or words (null: no bound).

    No source fixes these numbers; the defaults only drop empty documents. Words are the shared
    split the Gopher rules use (datatrove's English split; per character for zh, ja, th, ...
    with `language: auto`). Bounds are inclusive. Reasons: too_few_chars, too_many_chars,
    too_few_words, too_many_words.
    Example: `- length: {min_words: 50, max_chars: 1000000}`.
    """

    name = "📏 curate length"
    namespace: ClassVar[str] = "length"
    signals: ClassVar[dict[str, Signal]] = {
        "n_chars": Signal("int64", keep="within", threshold=("min_chars", "max_chars"),
                          reasons=("too_few_chars", "too_many_chars")),
        "n_words": Signal("int64", keep="within", threshold=("min_words", "max_words"),
                          reasons=("too_few_words", "too_many_words")),
    }

    def __init__(
        self,
        min_chars: int | None = 1,
        max_chars: int | None = None,
        min_words: int | None = None,
        max_words: int | None = None,
        language: str = "auto",
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.min_chars, self.max_chars = min_chars, max_chars
        self.min_words, self.max_words = min_words, max_words
        self.language = language

    def filter(self, doc: Document) -> str | None:
        n_chars = len(doc.text)
        self.record(doc, "n_chars", n_chars)
        n_words = None
        if self.min_words is not None or self.max_words is not None:
            n_words = len(features(doc, self.language).words)
            self.record(doc, "n_words", n_words)
        if self.min_chars is not None and n_chars < self.min_chars:
            return "too_few_chars"
        if self.max_chars is not None and n_chars > self.max_chars:
            return "too_many_chars"
        if self.min_words is not None and n_words < self.min_words:
            return "too_few_words"
        if self.max_words is not None and n_words > self.max_words:
            return "too_many_words"
        return None
