"""Text features computed once per document and shared by every filter in a pipeline.

The Gopher, C4 and FineWeb rules all start from the same few splits of the same text: lines,
words, paragraphs, n-grams. datatrove recomputes them in each filter (its word split is cached
on the text by a 5-entry `lru_cache` that C4's per-line sentence splits evict), which is where
most of its time goes. `features(doc)` returns one `TextFeatures` per text and keeps it while
later filters look at the same document: the cache is keyed by the identity of `doc.text`, so
nothing is stored on the document (no metadata to serialise) and a transform that rewrites the
text gets fresh features. Each feature is computed on first use.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import OrderedDict
from functools import cached_property

import numpy as np

from curate.core.wordsplit import english

PARAGRAPH_SPLIT = re.compile(r"\n{2,}")  # datatrove GopherRepetitionFilter.paragraph_exp
NEWLINES_SPLIT = re.compile("\n+")  # datatrove GopherRepetitionFilter._line_splitter

# Languages written without spaces between words (datatrove #135). ISO 639-1/3 codes as fastText
# lid.176 writes them.
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "wuu", "yue"})
# Characters of those scripts: Han, kana, Thai, Lao, Tibetan, Myanmar, Khmer, CJK punctuation.
_NO_SPACE_CHARS = (
    "\u0e00-\u0e7f\u0e80-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3000-\u303f\u3040-\u30ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0002fa1f"
)
_NO_SPACE_SPLIT = re.compile(f"[{_NO_SPACE_CHARS}][\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u0eb1\u0eb4-\u0ebc\u0ec8-\u0ecd\u17b4-\u17d3\u102b-\u103e\u0f71-\u0f84]*|[^\\s{_NO_SPACE_CHARS}]+")


def resolve_language(language: str, doc_language: str | None) -> str:
    """`auto` means the document's language (set by fasttext_lang), English when it has none."""
    if language == "auto":
        return doc_language or "en"
    return language


def doc_language(doc, language: str) -> str:
    """A filter's `language` parameter resolved for `doc` (see `resolve_language`)."""
    return resolve_language(language, doc.metadata.get("language"))


def split_words(text: str, language: str = "en") -> list[str]:
    """Words as datatrove's English tokenizer splits them, except for languages without spaces.

    For every language but those in `NO_SPACE_LANGUAGES` this is exactly datatrove's
    `split_into_words(text, "en")` (spaCy `blank("en")`, see curate/core/wordsplit.py). For zh, ja, th,
    lo, km, my and bo each character of those scripts (with its combining marks) is one word and
    other runs split like English. This deliberately differs from datatrove, whose English split
    makes a whole Chinese sentence one "word", so Gopher's `min_doc_words` drops every Chinese
    page (datatrove #135); datatrove's own zh/ja/th tokenizers need jieba, SudachiPy and
    pythainlp.
    """
    if language in NO_SPACE_LANGUAGES:
        return _NO_SPACE_SPLIT.findall(text)
    return english().words(text)


class TextFeatures:
    """Splits of one text, each computed on first use."""

    def __init__(self, text: str, language: str = "en"):
        self.text = text
        self.language = language

    @cached_property
    def lines(self) -> list[str]:
        """`text.splitlines()`: Gopher's bullet and ellipsis lines, C4's lines."""
        return self.text.splitlines()

    @cached_property
    def nonblank_lines(self) -> list[str]:
        """Lines split on "\\n" that are not blank: FineWeb's lines."""
        return [line for line in self.text.split("\n") if line.strip() != ""]

    @cached_property
    def newline_lines(self) -> list[str]:
        """Lines split on runs of "\\n": Gopher repetition's lines."""
        return NEWLINES_SPLIT.split(self.text)

    @cached_property
    def paragraphs(self) -> list[str]:
        return PARAGRAPH_SPLIT.split(self.text.strip())

    @cached_property
    def words(self) -> list[str]:
        return split_words(self.text, self.language)

    @cached_property
    def _word_ids(self) -> np.ndarray:
        vocab: dict[str, int] = {}
        return np.fromiter((vocab.setdefault(w, len(vocab)) for w in self.words), dtype=np.int64,
                           count=len(self.words))

    @cached_property
    def _word_ends(self) -> np.ndarray:
        """Character offsets of word ends in "".join(words), with a leading 0."""
        ends = np.zeros(len(self.words) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, self.words), dtype=np.int64, count=len(self.words)), out=ends[1:])
        return ends

    def _ngram_keys(self, n: int) -> np.ndarray:
        """Dense ids of word n-grams (equal id <=> equal n-gram), built up from (n-1)-grams."""
        cache = self.__dict__.setdefault("_ngram_cache", {1: self._word_ids})
        if n not in cache:
            prev = self._ngram_keys(n - 1)
            ids = self._word_ids
            combined = prev[:-1] * (int(ids.max()) + 1) + ids[n - 1:]
            cache[n] = np.unique(combined, return_inverse=True)[1].astype(np.int64)
        return cache[n]

    def top_ngram_chars(self, n: int) -> int | None:
        """Gopher's "top n-gram": len(" ".join(most frequent n-gram)) * its count; None if no n-gram.

        Ties go to the n-gram seen first, as `Counter.most_common(1)` breaks them.
        """
        if len(self.words) < n:
            return None
        keys = self._ngram_keys(n)
        _, first, counts = np.unique(keys, return_index=True, return_counts=True)
        top = counts.max()
        pos = int(first[counts == top].min())
        ends = self._word_ends
        return (int(ends[pos + n] - ends[pos]) + n - 1) * int(top)

    @cached_property
    def _joined(self) -> str:
        return "".join(self.words)

    @cached_property
    def _char_hashes(self) -> np.ndarray:
        """Prefix sums of a polynomial hash of "".join(words) (mod 2**64) for substring hashes."""
        codes = np.frombuffer(self._joined.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
        powers = np.empty(len(codes), dtype=np.uint64)
        if len(codes):
            powers[0] = 1
            powers[1:] = _BASE
            np.cumprod(powers, out=powers)
        prefix = np.zeros(len(codes) + 1, dtype=np.uint64)
        np.cumsum(codes * powers, out=prefix[1:])
        return prefix

    def dup_ngram_chars(self, n: int) -> int:
        """Gopher's duplicated n-gram characters, exactly datatrove's `find_all_duplicate`.

        n-grams are compared by their characters joined without spaces, scanning left to right and
        jumping past each repeat (the n-grams jumped over are never seen). A hash of each n-gram links
        it to the previous n-gram with the same hash, so only positions that can repeat at all are
        visited: one is a repeat when the nearest earlier equal n-gram that the scan did not jump over
        exists. Each repeat's strings are compared, so a hash collision cannot change the result (on
        one, the plain scan runs).
        """
        n_grams = len(self.words) - n + 1
        if n_grams <= 0:
            return 0
        ends = self._word_ends
        starts, stops = ends[:n_grams], ends[n:]
        prefix = self._char_hashes
        with np.errstate(over="ignore"):
            inv = _inverse_powers(int(ends[-1]) + 1)
            keys = (prefix[stops] - prefix[starts]) * inv[starts] + (stops - starts).astype(np.uint64) * _LEN_MIX
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        same = ordered[1:] == ordered[:-1]
        if not same.any():
            return 0
        earlier = np.full(n_grams, -1, dtype=np.int64)  # the previous position with the same hash
        earlier[order[1:][same]] = order[:-1][same]
        joined, starts_l, stops_l = self._joined, starts.tolist(), stops.tolist()
        previous = earlier.tolist()
        jumps: list[int] = []  # positions of repeats: the scan jumped over the n - 1 after each
        repeated, idx = 0, 0
        for i in np.flatnonzero(earlier >= 0).tolist():
            if i < idx:
                continue  # jumped over
            j = previous[i]
            while j >= 0 and (k := bisect_left(jumps, j)) and j - jumps[k - 1] < n:
                j = previous[j]  # jumped over: never seen
            if j < 0:
                continue
            n_gram = joined[starts_l[i]:stops_l[i]]
            if n_gram != joined[starts_l[j]:stops_l[j]]:
                return self._scan_duplicates(n, joined, starts_l, stops_l)  # a hash collision
            repeated += len(n_gram)
            jumps.append(i)
            idx = i + n
        return repeated

    @staticmethod
    def _scan_duplicates(n: int, joined: str, starts: list[int], stops: list[int]) -> int:
        """datatrove's `find_all_duplicate` as written, over the n-grams' spans in `joined`."""
        unique: set[str] = set()
        repeated, idx = 0, 0
        while idx < len(starts):
            n_gram = joined[starts[idx]:stops[idx]]
            if n_gram in unique:
                repeated += len(n_gram)
                idx += n
            else:
                unique.add(n_gram)
                idx += 1
        return repeated


_BASE = np.uint64(1_000_003)
_LEN_MIX = np.uint64(0x9E3779B97F4A7C15)
_INV_BASE = np.uint64(pow(1_000_003, -1, 2**64))
_inverse_power_table = np.ones(1, dtype=np.uint64)
_MAX_TABLE = 1 << 20  # entries (8 MB) of the inverse powers kept between documents; longer texts build their own


def _inverse_powers(size: int) -> np.ndarray:
    """BASE**-i mod 2**64 for i < `size`. The table is kept for the next document up to
    `_MAX_TABLE` entries, so one very long text does not hold its memory for the rest of the run."""
    global _inverse_power_table
    if len(_inverse_power_table) < size:
        table = np.full(max(size, min(2 * len(_inverse_power_table), _MAX_TABLE)), _INV_BASE, dtype=np.uint64)
        table[0] = 1
        with np.errstate(over="ignore"):
            np.cumprod(table, out=table)
        if len(table) > _MAX_TABLE:
            return table
        _inverse_power_table = table
    return _inverse_power_table


_cache: OrderedDict[int, TextFeatures] = OrderedDict()
_CACHE_SIZE = 4  # documents: every filter of a pipeline sees one document before the next is read
_CACHE_CHARS = 4_000_000  # ... and at most this many characters of text, beyond the newest document


def features(doc, language: str = "en") -> TextFeatures:
    """The `TextFeatures` of `doc.text`, shared by every filter that sees this text; `language`
    may be `auto` (the document's own). The cache is bounded in documents and in characters
    (features cost several times their text: word lists, n-gram ids, hash prefix sums), so it
    never holds more than a few documents' worth, however long the run (issue 14)."""
    language = doc_language(doc, language)
    text = doc.text
    key = id(text)
    feats = _cache.get(key)
    if feats is not None and feats.text is text and feats.language == language:
        return feats
    feats = TextFeatures(text, language)
    _cache[key] = feats
    while len(_cache) > _CACHE_SIZE or (len(_cache) > 1 and sum(len(f.text) for f in _cache.values()) > _CACHE_CHARS):
        _cache.popitem(last=False)
    return feats
