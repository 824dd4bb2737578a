r"""The page's visible lines, each judged content or boilerplate by a small tree model: a candidate text for `extract`.

Resiliparse's `minimal_html` text keeps every visible line of the page with its block tag and links.
Each line is described without reference to its words (so the model carries across languages):
its length, how it ends, the share of it in links, its tag, how often it repeats, whether
resiliparse's main-content text holds it and how far it is from a line that it does, where it sits
on the page, its neighbours' length, links and membership, and a few figures of the whole page.
Gradient-boosted trees (trained with the selector by `curate.tools.extract_selector_train`, labelled
by whether the gold text holds the line's word pairs) score every line; the lines scoring over the
model's threshold, repeated lines once, are the candidate. On the held-out splits it is the best
single text on CleanEval and leaves out more boilerplate than resiliparse on unseen news pages
(docs/QUALITY.md).

The lines are read in one compiled pass (numba) over the text's UTF-8 bytes, with the rules of the
regular expressions it replaces (tests/test_visible_lines.py holds them as the reference): a tag is
`<[^>]+>` within a line and reads as nothing (as in a browser, a link's text stays on its word),
whitespace is what `str.split` splits on, a link is `<a\b[^>]*>` up to the next `</a>`, the block tag
is `^\s*<(h[1-6]|li|p|pre)\b`.
"""

from __future__ import annotations

import html as html_lib
from collections import Counter

import numpy as np
from numba import njit

from curate.filters.combined_extract import TAG

NONE, LI, HEADING, PARA = 0, 1, 2, 3  # the block tag a line starts with: h1-h6, li, p or pre
FEATURES = (
    "words", "chars", "terminal", "colon", "link_share", "in_main", "li", "heading", "p", "repeats", "position",
    "from_start", "from_end", "main_before", "main_after", "main_distance", "long_before", "long_after",
    "prev_words", "prev_link_share", "prev_in_main", "next_words", "next_link_share", "next_in_main",
    "in_main_2_before", "in_main_2_after", "page_lines", "page_main_lines", "page_main_share", "page_long_lines",
    "page_short_share",
)


@njit(cache=True, inline="always")
def _space_at(b, i, n):
    """Byte length of the whitespace character (str.split's set) at b[i], 0 if none."""
    c = b[i]
    if c == 32 or (9 <= c <= 13) or (28 <= c <= 31):
        return 1
    if c < 0x80:
        return 0
    if c == 0xC2 and i + 1 < n and (b[i + 1] == 0x85 or b[i + 1] == 0xA0):
        return 2
    if c == 0xE1 and i + 2 < n and b[i + 1] == 0x9A and b[i + 2] == 0x80:
        return 3
    if c == 0xE2 and i + 2 < n:
        d, e = b[i + 1], b[i + 2]
        if d == 0x80 and (e <= 0x8A or e == 0xA8 or e == 0xA9 or e == 0xAF):
            return 3
        if d == 0x81 and e == 0x9F:
            return 3
    if c == 0xE3 and i + 2 < n and b[i + 1] == 0x80 and b[i + 2] == 0x80:
        return 3
    return 0


@njit(cache=True, inline="always")
def _word_byte(c):
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 95 or c >= 0x80


@njit(cache=True)
def _scan_lines(b):
    """Per line of `b` (resiliparse's minimal_html as UTF-8): its text with tags replaced by spaces and
    whitespace collapsed, appended to `out` (lines without text left out, '\\n' between), and per kept
    line: words, linked words, characters, ends terminal, ends with ':', block tag, its line number in `b`."""
    n = b.size
    lines = 1
    for i in range(n):
        lines += b[i] == 10
    out = np.empty(n + lines, np.uint8)
    words = np.zeros(lines, np.int64)
    linked = np.zeros(lines, np.int64)
    chars = np.zeros(lines, np.int64)
    terminal = np.zeros(lines, np.bool_)
    colon = np.zeros(lines, np.bool_)
    block = np.zeros(lines, np.int64)
    source = np.zeros(lines, np.int64)
    o = 0
    k = 0
    line = 0
    start = 0
    while start <= n:
        end = start
        while end < n and b[end] != 10:
            end += 1
        # the block tag: leading whitespace, '<', a name of h1-h6, li, p or pre, then no word character
        i = start
        while i < end:
            w = _space_at(b, i, end)
            if w == 0:
                break
            i += w
        kind = NONE
        if i < end and b[i] == 60:
            j = i + 1
            while j < end and ((48 <= b[j] <= 57) or (65 <= b[j] <= 90) or (97 <= b[j] <= 122) or b[j] == 95):
                j += 1
            if j == end or not _word_byte(b[j]):
                size = j - i - 1
                c0 = b[i + 1] if size else 0
                if size == 2 and c0 == 104 and 49 <= b[i + 2] <= 54:
                    kind = HEADING
                elif size == 2 and c0 == 108 and b[i + 2] == 105:
                    kind = LI
                elif (size == 1 and c0 == 112) or (size == 3 and c0 == 112 and b[i + 2] == 114 and b[i + 3] == 101):
                    kind = PARA
        # the text: tags (a '<', at least one byte, a '>' on this line) read as nothing, so a link's text
        # stays on its word ("last week</a>," reads "last week,"); links are `<a` + a non-word byte ... '>'
        # up to the next '</a>', and a link's words are counted as its own text splits
        line_start = o
        pending_space = False
        in_word = False
        in_link = False
        link_word = False
        n_words = 0
        n_linked = 0
        n_chars = 0
        last = -1
        i = start
        while i < end:
            c = b[i]
            if c == 60:
                close = i + 1
                while close < end and b[close] != 62:
                    close += 1
                if close < end and close > i + 1:  # a tag
                    if in_link:
                        if close == i + 3 and b[i + 1] == 47 and b[i + 2] == 97:
                            in_link = False
                    elif b[i + 1] == 97 and (i + 2 == end or not _word_byte(b[i + 2])) and _has_close(b, close + 1, end):
                        in_link = True
                        link_word = False
                    i = close + 1
                    continue
            w = _space_at(b, i, end)
            if w:
                if in_word:
                    in_word = False
                    pending_space = True
                link_word = False
                i += w
                continue
            if not in_word:
                if pending_space and o > line_start:
                    out[o] = 32
                    o += 1
                    n_chars += 1
                pending_space = False
                in_word = True
                n_words += 1
            if in_link and not link_word:
                link_word = True
                n_linked += 1
            out[o] = c
            o += 1
            if (c & 0xC0) != 0x80:
                n_chars += 1
                last = o - 1
            i += 1
        if o > line_start:
            words[k], linked[k], chars[k], block[k], source[k] = n_words, n_linked, n_chars, kind, line
            lc = out[last]
            terminal[k] = lc == 46 or lc == 33 or lc == 63 or lc == 34 or (
                o - last == 3 and lc == 0xE2 and out[last + 1] == 0x80 and out[last + 2] == 0x9D)
            colon[k] = lc == 58
            k += 1
            out[o] = 10
            o += 1
        start = end + 1
        line += 1
    if o:
        o -= 1
    return out[:o], words[:k], linked[:k], chars[:k], terminal[:k], colon[:k], block[:k], source[:k]


@njit(cache=True)
def _has_close(b, i, end):
    """Whether b[i:end] holds '</a>'."""
    while i + 3 < end:
        if b[i] == 60 and b[i + 1] == 47 and b[i + 2] == 97 and b[i + 3] == 62:
            return True
        i += 1
    return False


def visible_lines(main: str, minimal: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The visible lines of resiliparse's `minimal_html` text (tags removed, whitespace collapsed, entities
    not yet decoded), their features (one row per line in `FEATURES` order) and their line numbers in
    `minimal`."""
    out, words, linked, chars, terminal, colon, block, source = _scan_lines(
        np.frombuffer(minimal.encode("utf-8", "surrogatepass"), np.uint8))
    texts = out.tobytes().decode("utf-8", "surrogatepass").split("\n") if len(words) else []
    n = len(texts)
    if not n:
        return texts, np.zeros((0, len(FEATURES))), source
    in_main_set = {" ".join(line.split()) for line in main.split("\n") if line.strip()}
    words = words.astype(float)
    link_share = np.minimum(1, linked / words)
    terminal = terminal.astype(float)
    in_main = np.array([t in in_main_set for t in texts], dtype=float)
    counts = Counter(texts)
    index = np.arange(n)
    main_cum = np.cumsum(in_main)
    long = (words >= 12) * terminal
    long_cum = np.cumsum(long)
    main_at = np.flatnonzero(in_main)
    if len(main_at):
        j = np.searchsorted(main_at, index)
        left = np.where(j > 0, index - main_at[np.maximum(j - 1, 0)], n)
        right = np.where(j < len(main_at), main_at[np.minimum(j, len(main_at) - 1)] - index, n)
        distance = np.minimum(left, right)
    else:
        distance = np.full(n, n)

    def shifted(a: np.ndarray, k: int) -> np.ndarray:  # the value k lines before (k > 0) or after, -1 off the page
        out = np.full(n, -1.0)
        if k > 0:
            out[k:] = a[:-k]
        else:
            out[:k] = a[-k:]
        return out

    log_words = np.log1p(words)
    page = np.array([np.log1p(n), np.log1p(main_cum[-1]), (words * in_main).sum() / words.sum(), np.log1p(long_cum[-1]),
                     (words < 5).mean()])
    columns = [log_words, np.log1p(chars), terminal, colon.astype(float),
               link_share, in_main, *((block == kind).astype(float) for kind in (LI, HEADING, PARA)),
               np.log1p([counts[t] - 1 for t in texts]), index / n, np.log1p(index), np.log1p(n - 1 - index),
               np.log1p(main_cum - in_main), np.log1p(main_cum[-1] - main_cum), np.log1p(distance),
               np.log1p(long_cum - long), np.log1p(long_cum[-1] - long_cum),
               shifted(log_words, 1), shifted(link_share, 1), shifted(in_main, 1),
               shifted(log_words, -1), shifted(link_share, -1), shifted(in_main, -1),
               shifted(in_main, 2), shifted(in_main, -2)]
    return texts, np.column_stack(columns + [np.full(n, value) for value in page]), source


def cleaned_text(minimal: str, X: np.ndarray, source: np.ndarray, min_words: int = 5, max_link_share: float = 0.5
                 ) -> str:
    """The visible text without short or link-dense lines (`filters.combined_extract.cleaned_visible`'s rule, with
    words counted as `visible_lines` counts them: a tag inside a word does not split it), its counts taken from
    `visible_lines`' features (`X`, `source`) rather than made again."""
    keep = source[(X[:, 0] >= np.log1p(min_words) - 1e-9) & (X[:, 4] < max_link_share)]
    raw = minimal.split("\n")
    return html_lib.unescape(TAG.sub("", "\n".join([raw[i] for i in keep])))


def kept_text(lines: list[str], scores: np.ndarray, threshold: float) -> str:
    """The lines scoring over `threshold`, entities decoded."""
    text = "\n".join(line for line, score in zip(lines, scores) if score > threshold)
    return html_lib.unescape(text) if "&" in text else text
