"""Word and sentence splitting, computed without spaCy but decision-for-decision like datatrove.

datatrove splits English text with spaCy's `blank("en")` tokenizer (its
`assets/tokenizer_assignment.csv` assigns `SpaCyTokenizer` to `en`) and counts sentences with
spaCy's `sentencizer`. Every word-count rule of the Gopher, C4 and FineWeb filters depends on that
split, so curate reproduces it exactly: `SpacyEnglishWords` is a pure-Python port of spaCy's
`Tokenizer._tokenize_affixes` / `_split_affixes` / `_attach_tokens` / `_apply_special_cases`
(spaCy 3.8) driven by the same prefix, suffix, infix and URL regexes and the same 1,347
special cases, which are copied into `curate/core/spacy_en_rules.py` by `python -m curate.core.wordsplit
--regenerate` (that needs spaCy; running curate does not). The port is faster than spaCy here
because tokenisation is cached per whitespace-separated chunk (as spaCy does internally) and no
`Doc` objects are built; tests/test_wordsplit.py checks it token for token against spaCy on the
real pages of ../shared/data.

Languages written without spaces (zh, ja, th, lo, km, my, bo) are split differently on purpose:
see `split_words`.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache

from curate.core import spacy_en_rules as R

# spaCy separates runs of whitespace and non-whitespace by str.isspace, which is what \s means.
_SPLIT_WS = re.compile(r"(\s+)").split
# Characters that spaCy's English suffix rules always split off letters ("word," -> "word", ","); not
# ".", which abbreviations keep.
LETTER_SUFFIXES = frozenset(",;:!?)\"'")


def _is_punct(text: str) -> bool:
    """spaCy's `IS_PUNCT` lexical attribute: every character is Unicode punctuation (P*)."""
    return all(unicodedata.category(ch).startswith("P") for ch in text)


class SpacyEnglishWords:
    """spaCy `blank("en")` tokenisation of one whitespace-free chunk at a time, cached."""

    max_cache = 500_000

    def __init__(self):
        self.prefix_search = re.compile(R.PREFIX).search
        self.suffix_search = re.compile(R.SUFFIX).search
        self.infix_finditer = re.compile(R.INFIX).finditer
        self.url_match = re.compile(R.URL_MATCH).match
        self.specials: dict[str, tuple[str, ...]] = R.SPECIALS
        self._cache: dict[str, tuple[str, ...]] = {}
        # spaCy re-tokenises spans that spell a special case after affix splitting (the
        # "special matcher"); with faster_heuristics on it only registers specials that contain
        # an affix or a space. pattern (affix tokens without specials) -> special's tokens
        self.patterns: dict[tuple[str, ...], tuple[str, ...]] = {}
        for key, orths in self.specials.items():
            if self._find_prefix(key) or self._find_suffix(key) or self._find_infix(key) or " " in key:
                pattern = tuple(self._tokenize(key, with_special_cases=False))
                if len(pattern) > 1:  # one-token patterns re-tokenise a token into itself
                    self.patterns[pattern] = orths
        self.max_pattern = max(map(len, self.patterns), default=0)
        self.pattern_starts = {p[0] for p in self.patterns}
        self.pattern_prefixes = {p[:k] for p in self.patterns for k in range(2, len(p) + 1)}

    def _find_prefix(self, s: str) -> int:
        m = self.prefix_search(s)
        return m.end() - m.start() if m is not None else 0

    def _find_suffix(self, s: str) -> int:
        m = self.suffix_search(s)
        return m.end() - m.start() if m is not None else 0

    def _find_infix(self, s: str) -> list:
        return list(self.infix_finditer(s))

    def _tokenize(self, string: str, with_special_cases: bool = True) -> list[str]:
        """`Tokenizer._tokenize` for one span: affixes off, then the core, then suffixes back."""
        specials = self.specials if with_special_cases else {}
        if string in specials:
            return list(specials[string])
        prefixes: list[str] = []
        suffixes: list[str] = []
        last_size = 0
        while string and len(string) != last_size:
            if string in specials:
                break
            last_size = len(string)
            pre_len = self._find_prefix(string)
            if pre_len:
                prefix, minus_pre = string[:pre_len], string[pre_len:]
                if minus_pre and minus_pre in specials:
                    string = minus_pre
                    prefixes.append(prefix)
                    break
            suf_len = self._find_suffix(string[pre_len:])
            if suf_len:
                suffix, minus_suf = string[-suf_len:], string[:-suf_len]
                if minus_suf and minus_suf in specials:
                    string = minus_suf
                    suffixes.append(suffix)
                    break
            if pre_len and suf_len and (pre_len + suf_len) <= len(string):
                string = string[pre_len:-suf_len]
                prefixes.append(prefix)
                suffixes.append(suffix)
            elif pre_len:
                string = minus_pre
                prefixes.append(prefix)
            elif suf_len:
                string = minus_suf
                suffixes.append(suffix)
        tokens = prefixes
        if string:
            if string in specials:
                tokens.extend(specials[string])
            elif self.url_match(string):
                tokens.append(string)
            else:
                start = 0
                for match in self.infix_finditer(string):
                    infix_start, infix_end = match.start(), match.end()
                    if infix_start == 0:
                        continue
                    if infix_start != start:
                        tokens.append(string[start:infix_start])
                    if infix_start != infix_end:
                        tokens.append(string[infix_start:infix_end])
                    start = infix_end
                if string[start:]:
                    tokens.append(string[start:])
        tokens.extend(reversed(suffixes))
        return tokens

    def _apply_special_matcher(self, toks: list, chunk_starts: list[int]) -> list:
        """`Tokenizer._apply_special_cases` over a whole text's token stream.

        spaCy's PhraseMatcher finds every span of tokens that spells a registered pattern, keeps
        the longest (then leftmost) of overlapping ones, and re-tokenises those whose text is a
        special case. A span across two chunks has whitespace in its text, so it never matches a
        special case, but it still wins over shorter or later overlapping spans: that is why this
        runs over the whole stream and not chunk by chunk. `None` stands for a whitespace token.
        """
        patterns, prefixes, starts = self.patterns, self.pattern_prefixes, self.pattern_starts
        n = len(toks)
        matches = []
        for i, tok in enumerate(toks):
            if tok not in starts:
                continue
            for j in range(i + 2, min(n, i + self.max_pattern) + 1):
                key = tuple(toks[i:j])
                if key not in prefixes:
                    break
                if key in patterns:
                    matches.append((i, j))
        if not matches:
            return toks
        matches.sort(key=lambda m: (m[0] - m[1], m[0]))
        seen: set[int] = set()
        chosen = []
        for i, j in matches:
            if i not in seen and j - 1 not in seen:
                chosen.append((i, j))
            seen.update(range(i, j))
        out: list = []
        pos = 0
        for i, j in sorted(chosen):
            k = bisect_right(chunk_starts, i)
            if k < len(chunk_starts) and chunk_starts[k] < j:
                continue  # spans two chunks: its text has a space, no special case applies
            out.extend(toks[pos:i])
            out.extend(self.specials["".join(toks[i:j])])
            pos = j
        out.extend(toks[pos:])
        return out

    def _letters(self, chunk: str) -> tuple[str, ...] | None:
        """The tokens of letters alone, or of letters and one of `LETTER_SUFFIXES`, where no special case
        is spelt: no prefix, suffix or infix rule matches letters, and each of those characters is a
        suffix after them (checked against `_tokenize` in tests/test_wordsplit.py); None otherwise."""
        if chunk.isalpha():
            return None if chunk in self.specials else (chunk,)
        word = chunk[:-1]
        if chunk[-1] in LETTER_SUFFIXES and word.isalpha() and word not in self.specials and chunk not in self.specials:
            return word, chunk[-1]
        return None

    def chunk(self, chunk: str) -> tuple[str, ...]:
        """Tokens of one whitespace-free chunk, before the special matcher."""
        tokens = self._cache.get(chunk)
        if tokens is None:
            tokens = self._letters(chunk) or tuple(self._tokenize(chunk))
            if len(self._cache) >= self.max_cache:
                self._cache.clear()
            self._cache[chunk] = tokens
        return tokens

    def tokens(self, text: str) -> list:
        """spaCy's token stream for `text`, with `None` for each whitespace token."""
        parts = _SPLIT_WS(text)
        toks: list = []
        chunk_starts: list[int] = []
        cache = self._cache
        leading = not parts[0]
        for k, part in enumerate(parts):
            if k & 1:
                # a run of whitespace: one plain space after a chunk is not a token, the rest is
                if part != " " or (k == 1 and leading):
                    toks.append(None)
            elif part:
                chunk_starts.append(len(toks))
                tokens = cache.get(part)
                toks.extend(tokens if tokens is not None else self.chunk(part))
        if len(chunk_starts) > 0:
            toks = self._apply_special_matcher(toks, chunk_starts)
        return toks

    def words(self, text: str) -> list[str]:
        """datatrove's `split_into_words(text, "en")`: spaCy tokens, stripped, empty ones dropped."""
        return [t for t in self.tokens(text) if t is not None]

    def n_sentences(self, text: str) -> int:
        """Number of sentences spaCy's sentencizer finds in `text` (datatrove's split_into_sentences).

        A sentence starts at the first token after a token in `punct_chars` that is neither in
        `punct_chars` nor punctuation itself. Whitespace other than one plain space between two
        chunks is a token of its own, so it starts a sentence too, as in spaCy.
        """
        if not text:
            return 0
        punct_chars = R.PUNCT_CHARS
        if punct_chars.isdisjoint(text):
            return 1
        count = 1
        seen_period = False
        for tok in self.tokens(text):
            if tok is None:
                if seen_period:
                    count += 1
                    seen_period = False
            elif tok in punct_chars:
                seen_period = True
            elif seen_period and not _is_punct(tok):
                count += 1
                seen_period = False
        return count


@lru_cache(maxsize=1)
def english() -> SpacyEnglishWords:
    return SpacyEnglishWords()


def _regenerate(path: str | None = None) -> None:
    """Write curate/core/spacy_en_rules.py from the installed spaCy (run when spaCy changes its rules)."""
    from pathlib import Path

    import spacy
    from spacy.attrs import ORTH
    from spacy.pipeline.sentencizer import Sentencizer

    tok = spacy.blank("en").tokenizer
    specials = {key: tuple(sub[ORTH] for sub in subs) for key, subs in sorted(tok.rules.items())}
    lines = [
        f'"""spaCy {spacy.__version__} `blank("en")` tokenizer rules, generated by '
        '`python -m curate.core.wordsplit --regenerate`; do not edit."""',
        "# ruff: noqa: E501",
        f"PREFIX = {tok.prefix_search.__self__.pattern!r}",
        f"SUFFIX = {tok.suffix_search.__self__.pattern!r}",
        f"INFIX = {tok.infix_finditer.__self__.pattern!r}",
        f"URL_MATCH = {tok.url_match.__self__.pattern!r}",
        f"PUNCT_CHARS = frozenset({sorted(Sentencizer.default_punct_chars)!r})",
        "SPECIALS = {",
        *(f"    {k!r}: {v!r}," for k, v in specials.items()),
        "}",
        "",
    ]
    assert tok.token_match is None and tok.faster_heuristics
    Path(path or Path(__file__).with_name("spacy_en_rules.py")).write_text("\n".join(lines))


if __name__ == "__main__":
    import sys

    if "--regenerate" in sys.argv:
        _regenerate()
