"""The repeated region of a page: the container whose like children (cards, posts, rows) hold the most text.

Listings, collections, forums and service pages keep their content in repeated blocks: the same tag
with the same class, many times under one parent. Extractors built for articles take one block, or
the whole page with its menus. This finds the element whose children of one kind (tag and class
attribute, at least `MIN_MEMBERS` of them) hold the most text outside links, and returns that
element's text, a line per block as a browser (and resiliparse) lays it out: text inside links,
`<span>`, `<b>` and other inline elements stays on its sentence's line. Navigation, headers,
footers, forms, scripts and the like are not counted. It is one of the `extract` selector's candidates (filters/select_extract.py); on
WCXB's listings it beats every single extractor (docs/QUALITY.md).

The page is read in one compiled pass over its UTF-8 bytes (numba), not through a parsed tree: a
Python walk of lxml's or resiliparse's tree costs 1.4-77 ms a page, this 0.2-0.7 ms. The pass keeps
a stack of open elements and closes them as an HTML parser would where it matters here: end tags
close up to the nearest open element of their name (unmatched ones are ignored), `<p>` closes at
the next block, `<li>`, `<td>`, `<tr>`, `<dt>`/`<dd>` and `<option>` at the next of their kind,
void and self-closed elements hold nothing, and the contents of `<script>`, `<style>`, `<textarea>`
and the like are skipped unread. Each closed element hands its text and linked-text lengths
(characters of its stripped text nodes) to its parent, and its children are grouped by the hash of
their tag and class. Text lengths are counted before entities are decoded.
"""

from __future__ import annotations

import html as html_lib

import numpy as np
from numba import njit

MIN_MEMBERS = 3
MAX_DEPTH = 1024  # deeper elements are read as text of their deepest open ancestor

# tag kinds, bit flags
SKIP, VOID, RAW, LINK, BLOCK, P, LI, CELL, ROW, HEAD, BODY, DEFINITION, OPTION, LIST, TABLE, KEEP_OPEN, BREAK = (
    1 << k for k in range(17))
KINDS = {
    SKIP: "script style noscript svg nav header footer form select head aside button iframe template",
    VOID: "area base br col embed hr img input link meta param source track wbr keygen",
    RAW: "script style textarea title xmp noembed noframes iframe",
    LINK: "a",
    BLOCK: "address article aside blockquote details dialog div dl fieldset figcaption figure footer form h1 h2 h3 "
           "h4 h5 h6 header hgroup hr main menu nav ol p pre section table ul li",
    P: "p", LI: "li", CELL: "td th", ROW: "tr", HEAD: "head", BODY: "body", DEFINITION: "dt dd", OPTION: "option",
    LIST: "ul ol menu", TABLE: "table", KEEP_OPEN: "body html",  # their end tags close nothing
    BREAK: "br",
}
LINE_BREAK = BLOCK | CELL | ROW | DEFINITION | OPTION | BREAK  # a text node after one of these starts a line


@njit(cache=True)
def _hash(b, start, end):
    """FNV-1a-64 of b[start:end], ASCII letters lowercased."""
    h = np.uint64(0xCBF29CE484222325)
    for i in range(start, end):
        c = b[i]
        if 65 <= c <= 90:
            c += 32
        h = (h ^ np.uint64(c)) * np.uint64(0x100000001B3)
    return h


def _kind_table() -> tuple[np.ndarray, np.ndarray]:
    """(sorted tag-name hashes, their kind flags)."""
    kinds: dict[int, int] = {}
    for flag, names in KINDS.items():
        for name in names.split():
            raw = np.frombuffer(name.encode(), np.uint8)
            key = int(_hash(raw, 0, len(raw)))
            kinds[key] = kinds.get(key, 0) | flag
    keys = sorted(kinds)
    return np.array(keys, dtype=np.uint64), np.array([kinds[k] for k in keys], dtype=np.int64)


@njit(cache=True, inline="always")
def _space(c):
    return c == 32 or c == 9 or c == 10 or c == 13 or c == 12


@njit(cache=True, inline="always")
def _name_char(c):
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 45 or c == 95 or c == 58


@njit(cache=True)
def _kind(h, keys, flags):
    k = np.searchsorted(keys, h)
    return flags[k] if k < keys.size and keys[k] == h else 0


@njit(cache=True)
def _find(b, j, c):
    while j < b.size and b[j] != c:
        j += 1
    return j


@njit(cache=True)
def _close(state, name, key, kind, chars, linked, skip, start, base, child_key, child_chars, child_linked, end):
    """Close the innermost open element at byte `end`: group its children by key, keep the best group
    seen so far in `state`, and hand its text and linked-text lengths to its parent."""
    e, top = state[0], state[1]
    first = base[e]
    own_chars = chars[e]
    own_linked = own_chars if kind[e] & LINK else linked[e]
    if top - first >= MIN_MEMBERS:
        members = child_key[first:top]
        order = np.argsort(members)
        run, count, run_chars, run_linked = members[order[0]], 0, 0, 0
        for j in range(order.size + 1):
            if j == order.size or members[order[j]] != run:
                if count >= MIN_MEMBERS and run_chars - run_linked > state[2]:
                    state[2], state[3], state[4] = run_chars - run_linked, start[e], end
                    state[5], state[6], state[7] = count, run_chars, run_linked
                if j == order.size:
                    break
                run, count, run_chars, run_linked = members[order[j]], 0, 0, 0
            count += 1
            run_chars += child_chars[first + order[j]]
            run_linked += child_linked[first + order[j]]
    state[0], state[1] = e - 1, first
    if own_chars > 0 and not skip[e]:
        child_key[first], child_chars[first], child_linked[first] = key[e], own_chars, own_linked
        state[1] = first + 1
        chars[e - 1] += own_chars
        linked[e - 1] += own_linked


@njit(cache=True)
def _scan(b, keys, flags):
    """(members, their characters, their linked characters, the page's characters, the region's text
    nodes joined as laid out (a newline after a block boundary or `<br>`, a space where the HTML had
    whitespace, else nothing), the same nodes one per line; both UTF-8 bytes); members 0 where no
    element has enough like children."""
    n = b.size
    capacity = 2
    for i in range(n):
        capacity += b[i] == 60
    # state: open depth, child records in use, best score, best start and end byte, members, chars, linked
    state = np.zeros(8, np.int64)
    name = np.zeros(MAX_DEPTH, np.uint64)
    key = np.zeros(MAX_DEPTH, np.uint64)
    kind = np.zeros(MAX_DEPTH, np.int64)
    chars = np.zeros(MAX_DEPTH, np.int64)
    linked = np.zeros(MAX_DEPTH, np.int64)
    skip = np.zeros(MAX_DEPTH, np.bool_)
    start = np.zeros(MAX_DEPTH, np.int64)
    base = np.zeros(MAX_DEPTH, np.int64)
    child_key = np.zeros(capacity, np.uint64)  # closed children not yet grouped, a stack
    child_chars = np.zeros(capacity, np.int64)
    child_linked = np.zeros(capacity, np.int64)
    text_start = np.zeros(capacity, np.int64)  # every counted text node, stripped
    text_end = np.zeros(capacity, np.int64)
    text_join = np.zeros(capacity, np.uint8)  # what goes before a text node: a newline, a space or nothing
    texts = 0
    new_line, space_after = True, False
    i = text_from = 0
    while i <= n:
        if i < n and b[i] != 60:  # '<'
            i += 1
            continue
        if i > text_from and not skip[state[0]]:
            s, e = text_from, i
            while s < e and _space(b[s]):
                s += 1
            while e > s and _space(b[e - 1]):
                e -= 1
            if e > s:
                for k in range(s, e):
                    chars[state[0]] += (b[k] & 0xC0) != 0x80  # characters, not UTF-8 continuation bytes
                text_start[texts], text_end[texts] = s, e
                text_join[texts] = 10 if new_line else (32 if space_after or s > text_from else 0)
                new_line, space_after = False, e < i
                texts += 1
        if i >= n:
            break
        lt, j = i, i + 1
        c = b[j] if j < n else 0
        if c == 33:  # '<!': a comment, or a doctype or CDATA read to its '>'
            if j + 2 < n and b[j + 1] == 45 and b[j + 2] == 45:
                k = j + 3
                while k + 2 < n and not (b[k] == 45 and b[k + 1] == 45 and b[k + 2] == 62):
                    k += 1
                i = min(k + 3, n)
            else:
                i = min(_find(b, j, 62) + 1, n)
            text_from = i
            continue
        if c == 63:  # '<?'
            i = text_from = min(_find(b, j, 62) + 1, n)
            continue
        closing = c == 47
        j += closing
        if j >= n or not ((65 <= b[j] <= 90) or (97 <= b[j] <= 122)):
            if closing:  # '</' and no name: skipped to its '>'
                i = text_from = min(_find(b, j, 62) + 1, n)
            else:  # a bare '<' is text
                i = j
            continue
        name_start = j
        while j < n and _name_char(b[j]):
            j += 1
        h = _hash(b, name_start, j)
        tag = _kind(h, keys, flags)
        if tag & LINE_BREAK:
            new_line = True
        # attributes, to the '>' outside quotes; the class attribute's value is hashed
        cls = np.uint64(0)
        self_closing = False
        while j < n and b[j] != 62:
            if _space(b[j]):
                j += 1
                continue
            if b[j] == 47:
                self_closing = True
                j += 1
                continue
            self_closing = False
            attr = j
            while j < n and not _space(b[j]) and b[j] != 61 and b[j] != 62 and b[j] != 47:
                j += 1
            if j == attr:
                j += 1
                continue
            is_class = j - attr == 5 and _hash(b, attr, j) == CLASS_HASH
            while j < n and _space(b[j]):
                j += 1
            if j < n and b[j] == 61:
                j += 1
                while j < n and _space(b[j]):
                    j += 1
                if j < n and (b[j] == 34 or b[j] == 39):
                    value = j + 1
                    j = _find(b, value, b[j])
                    value_end = j
                    j += 1
                else:
                    value = j
                    while j < n and not _space(b[j]) and b[j] != 62:
                        j += 1
                    value_end = j
                if is_class:
                    cls = _hash(b, value, min(value_end, n))
        i = text_from = min(j + 1, n)
        if closing:
            if not tag & KEEP_OPEN:
                k = state[0]
                while k > 0 and name[k] != h:
                    k -= 1
                while k > 0 and state[0] >= k:
                    _close(state, name, key, kind, chars, linked, skip, start, base, child_key, child_chars,
                           child_linked, i)
            continue
        # start tags that close open elements
        k = 0
        if tag & BODY:
            k = state[0]
            while k > 0 and not kind[k] & HEAD:
                k -= 1
        elif tag & BLOCK and kind[state[0]] & P:
            k = state[0]
        if tag & (LI | CELL | ROW | DEFINITION | OPTION):
            if tag & LI:
                same, stop = LI, LIST
            elif tag & CELL:
                same, stop = CELL, ROW | TABLE
            elif tag & ROW:
                same, stop = ROW, TABLE
            else:
                same, stop = tag & (DEFINITION | OPTION), 0
            k = state[0]
            if stop:
                while k > 0 and not kind[k] & same and not kind[k] & stop:
                    k -= 1
            if not kind[k] & same:
                k = 0
        while k > 0 and state[0] >= k:
            _close(state, name, key, kind, chars, linked, skip, start, base, child_key, child_chars, child_linked,
                   lt)
        if tag & RAW:  # skipped to the end tag of its name
            k = i
            while k < n:
                k = _find(b, k, 60)
                if k + 1 < n and b[k + 1] == 47:
                    e = k + 2
                    while e < n and _name_char(b[e]):
                        e += 1
                    if _hash(b, k + 2, e) == h:
                        break
                k += 1
            i = text_from = min(_find(b, k, 62) + 1, n)
            continue
        if tag & VOID or self_closing or state[0] + 1 >= MAX_DEPTH:
            continue
        parent = state[0]
        e = state[0] = parent + 1
        name[e], key[e], kind[e] = h, h * np.uint64(31) ^ cls, tag
        chars[e] = linked[e] = 0
        skip[e] = skip[parent] or (tag & SKIP) != 0
        start[e], base[e] = lt, state[1]
    while state[0] > 0:
        _close(state, name, key, kind, chars, linked, skip, start, base, child_key, child_chars, child_linked, n)
    out = np.empty(0, np.uint8)
    nodes = np.empty(0, np.uint8)
    if state[5]:
        size = 0
        for t in range(texts):
            if text_start[t] >= state[3] and text_end[t] <= state[4]:
                size += text_end[t] - text_start[t] + 1
        out = np.empty(size, np.uint8)
        nodes = np.empty(size, np.uint8)
        o = m = 0
        for t in range(texts):
            if text_start[t] >= state[3] and text_end[t] <= state[4]:
                if m:
                    nodes[m] = 10
                    m += 1
                    if text_join[t]:
                        out[o] = text_join[t]
                        o += 1
                out[o:o + text_end[t] - text_start[t]] = b[text_start[t]:text_end[t]]
                nodes[m:m + text_end[t] - text_start[t]] = b[text_start[t]:text_end[t]]
                o += text_end[t] - text_start[t]
                m += text_end[t] - text_start[t]
        out, nodes = out[:o], nodes[:m]
    return state[5], state[6], state[7], chars[0], out, nodes


CLASS_HASH = _hash(np.frombuffer(b"class", np.uint8), 0, 5)
KEYS, FLAGS = _kind_table()


def repeated_region(html: str) -> tuple[str, int, float, float, str]:
    """(the region's text, its number of like children, their share of the page's text, the share of
    their text in links, its text one text node per line: the selector reads the shape of that);
    ("", 0, 0.0, 0.0, "") where no element has `MIN_MEMBERS` like children with text."""
    members, chars, linked, total, out, nodes = _scan(np.frombuffer(html.encode("utf-8", "replace"), np.uint8),
                                                      KEYS, FLAGS)
    if not members:
        return "", 0, 0.0, 0.0, ""
    text, nodes = (part.tobytes().decode("utf-8", "replace") for part in (out, nodes))
    if "&" in text:
        text, nodes = html_lib.unescape(text), html_lib.unescape(nodes)
    return text, int(members), chars / (total + 1), linked / (chars + 1), nodes
