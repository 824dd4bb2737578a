"""C4's bad-words rule (Raffel et al. 2020, section 2.2) with the LDNOOBW lists, as datatrove's
`C4BadWordsFilter`, but reading the lists from a folder instead of downloading them."""

from __future__ import annotations

import re
from typing import ClassVar

from datatrove.data import Document
from numpy.random import default_rng

from curate.core.step import CurateFilter, Signal
from curate.resources import wordlists

# Languages in which a bad word may sit inside a longer word (no spaces between words), and words
# allowed because they are common inside ordinary words there: datatrove's lists (each of these
# dropped >10% of documents of its language). As in datatrove, the allowlists apply to every list.
NO_BOUNDARY_LANGUAGES = ("ja", "th", "zh")
ALLOWLIST = {"ja": {"sm", "グロ", "女の子"}, "zh": {"性"}}


def load_words(folder: str, lang: str) -> set[str] | None:
    """The LDNOOBW list of `lang` in `folder` (`curate.resources.wordlists`), less the allowlisted
    words; None when the folder has no list for that language."""
    words = wordlists.load_words(folder, lang)
    if words is None:
        return None
    for allowed in ALLOWLIST.values():
        words -= allowed
    return words


class C4BadWords(CurateFilter):
    """Drop documents containing a word of the List of Dirty, Naughty, Obscene or Otherwise Bad Words.

    C4 removed every page with a word of the LDNOOBW list (Raffel et al. 2020, section 2.2);
    datatrove applies the list of the document's language (`metadata["language"]`, else
    `default_language`), matching whole words except in ja, th and zh. `folder` holds one file
    per language named by its code (`en`, `de`, ... as in the LDNOOBW repository; default
    `$CURATE_SHARED_DATA/blocklists/ldnoobw`). `keep_fraction` keeps that share of matching
    pages at random (seeded), as datatrove does; a language without a list raises unless
    `fail_on_missing_language` is false, then the document is kept and `language_has_list` is
    false. Records the first bad word found.

    Reasons (datatrove's in brackets): badwords (document_removed_with_badwords).
    Example: `- c4_badwords: {default_language: en}`.
    """

    name = "⛰ curate C4 bad words"
    namespace: ClassVar[str] = "c4_badwords"
    signals: ClassVar[dict[str, Signal]] = {"badword": Signal("string"), "language_has_list": Signal("bool")}
    datatrove_reasons: ClassVar[dict[str, str]] = {"document_removed_with_badwords": "badwords"}
    transient: ClassVar[tuple[str, ...]] = ("_regex",)

    def __init__(
        self,
        folder: str | None = None,
        keep_fraction: float = 0.0,
        fail_on_missing_language: bool = True,
        seed: int | None = None,
        default_language: str = "en",
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.folder = folder or wordlists.default_folder()
        self.keep_fraction = keep_fraction
        self.fail_on_missing_language = fail_on_missing_language
        self.seed = seed
        self.default_language = default_language
        self.uniform = default_rng(seed).uniform
        self._regex: dict[str, re.Pattern | None] = {}

    def regex(self, lang: str) -> re.Pattern | None:
        if not hasattr(self, "_regex"):
            self._regex = {}
        if lang not in self._regex:
            words = load_words(self.folder, lang)
            if words is None:
                if self.fail_on_missing_language:
                    raise ValueError(f'no bad-words list for "{lang}" in {self.folder}; '
                                     "set fail_on_missing_language: false to keep such documents")
                self._regex[lang] = None
                return None
            alternatives = "|".join(re.escape(w) for w in words)
            self._regex[lang] = (re.compile(alternatives) if lang in NO_BOUNDARY_LANGUAGES
                                 else re.compile(rf"(?:\W|^)({alternatives})(?:\W|$)"))
        return self._regex[lang]

    def filter(self, doc: Document) -> str | None:
        lang = doc.metadata.get("language", self.default_language)
        regex = self.regex(lang)
        self.record(doc, "language_has_list", regex is not None)
        found = regex.search(doc.text.lower()) if regex is not None else None
        self.record(doc, "badword", None if found is None else (found.group(1) if found.groups() else found.group(0)))
        if found is None:
            return None
        if self.keep_fraction > 0.0 and self.uniform() < self.keep_fraction:
            return None
        return "badwords"
