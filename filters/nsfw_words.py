"""A toxicity/NSFW score from the LDNOOBW word lists: matched words per 1,000 words, per language."""

from __future__ import annotations

import re
from typing import ClassVar

from datatrove.data import Document

from curate.core.step import CurateFilter, Signal
from curate.core.textfeatures import doc_language, features
from curate.filters.c4_badwords import NO_BOUNDARY_LANGUAGES, load_words
from curate.resources import wordlists


class NsfwWords(CurateFilter):
    """Count words of the LDNOOBW list of the document's language: a toxicity/NSFW score signal.

    C4 dropped every page with one such word (`c4_badwords`), which removes medical, legal and
    LGBTQ+ pages along with porn (Dodge et al. 2021, "Documenting large webtext corpora"); a rate
    lets you choose a cut instead. Records `matches` (occurrences), `per_1k_words` (occurrences per
    1,000 words, words as the `length` filter counts them), the distinct `words` found (at most
    10) and `list` (the language list used; null when there is none). The lists and the
    whole-word matching (substrings in ja, th, zh) are `c4_badwords`' (`folder`: one file per
    language code, default `$CURATE_SHARED_DATA/blocklists/ldnoobw`). `language: auto` uses the
    document's language (from `fasttext_lang`), English when it has none. Only records by default;
    `max_per_1k` drops documents above that rate. For a learned toxicity model, use the
    `fasttext_classifier` stage with that model.

    Reasons: too_many_bad_words.
    Example: `- nsfw_words: {language: auto, max_per_1k: null}`.
    """

    name = "🔞 curate NSFW words"
    namespace: ClassVar[str] = "nsfw_words"
    signals: ClassVar[dict[str, Signal]] = {
        "matches": Signal("int64"),
        "per_1k_words": Signal("float64", keep="lower", threshold="max_per_1k", reasons=("too_many_bad_words",)),
        "words": Signal("list<string>"), "list": Signal("string")}
    transient: ClassVar[tuple[str, ...]] = ("_regex",)

    def __init__(
        self,
        language: str = "auto",
        max_per_1k: float | None = None,
        folder: str | None = None,
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.language, self.max_per_1k = language, max_per_1k
        self.folder = folder or wordlists.default_folder()
        self._regex: dict[str, re.Pattern | None] = {}

    def regex(self, lang: str) -> re.Pattern | None:
        """Every occurrence of a listed word: lookarounds, so adjacent matches are all counted."""
        if not hasattr(self, "_regex"):
            self._regex = {}
        if lang not in self._regex:
            words = load_words(self.folder, lang)
            if not words:
                self._regex[lang] = None
            else:
                alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                self._regex[lang] = re.compile(alternatives if lang in NO_BOUNDARY_LANGUAGES
                                               else rf"(?<!\w)(?:{alternatives})(?!\w)")
        return self._regex[lang]

    def filter(self, doc: Document) -> str | None:
        lang = doc_language(doc, self.language)
        regex = self.regex(lang)
        found = regex.findall(doc.text.lower()) if regex is not None else []
        n_words = len(features(doc, lang).words)
        rate = 1000 * len(found) / n_words if n_words else 0.0
        self.record(doc, "matches", len(found))
        self.record(doc, "per_1k_words", rate)
        self.record(doc, "words", sorted(set(found))[:10])
        self.record(doc, "list", lang if regex is not None else None)
        if self.max_per_1k is not None and rate > self.max_per_1k:
            return "too_many_bad_words"
        return None
