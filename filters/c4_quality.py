"""C4's heuristic rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning", section
2.2, and the reference code, tensorflow_datasets `c4_utils.py`), as datatrove's `C4QualityFilter`.

C4 both drops documents and removes lines. A curate filter never changes `doc.text`, so this
stage only decides (on the text the line rules would leave, exactly as datatrove does) and the
line removal is the separate `c4_lines` transform, which shares `c4_line_pass` below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from datatrove.data import Document

from curate.core.step import CurateFilter, Signal
from curate.core.textfeatures import NO_SPACE_LANGUAGES, doc_language, split_words
from curate.core.wordsplit import english

CITATION_REGEX = re.compile(r"\[\d*]|\[edit]|\[citation needed]")  # Wikipedia-style, as datatrove
END_PUNCTUATION = (".", "?", "!", '"', "'")  # C4 paper: lines ending in a terminal punctuation mark
CJK_END_PUNCTUATION = ("。", "！", "？", "｡", "．")  # full-width stops, for languages without spaces
ELLIPSIS = "..."
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")  # c4_utils.py's policy lines


@dataclass
class C4LinePass:
    """What C4's line rules do to one text: the kept lines, counts per rule, a doc-level reason."""

    kept: list[str] = field(default_factory=list)
    n_lines: int = 0
    n_sentences: int = 0
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("too_long_word", "no_terminal_punct", "too_few_words", "javascript", "policy"), 0))
    reason: str | None = None  # lorem_ipsum or curly_bracket: the first found, in line order


def c4_line_pass(text: str, params, language: str = "en") -> C4LinePass:
    """datatrove's `C4QualityFilter.filter` loop, continued past a doc-level drop to count everything."""
    out = C4LinePass()
    no_spaces = language in NO_SPACE_LANGUAGES
    end_punctuation = END_PUNCTUATION + CJK_END_PUNCTUATION if no_spaces else END_PUNCTUATION
    for line in text.splitlines():
        out.n_lines += 1
        line = line.strip()
        words = line.split()
        if params.max_word_length != -1 and any(len(word) > params.max_word_length for word in words):
            out.removed["too_long_word"] += 1
            continue
        if params.remove_citations:
            line = CITATION_REGEX.sub("", line)
        if params.filter_no_terminal_punct and (not line.endswith(end_punctuation) or line.endswith(ELLIPSIS)):
            out.removed["no_terminal_punct"] += 1
            continue
        n_words = len(split_words(line, language)) if no_spaces else len(words)
        if n_words < params.min_words_per_line:
            out.removed["too_few_words"] += 1
            continue
        line_l = line.lower()
        if params.filter_lorem_ipsum and "lorem ipsum" in line_l:
            out.reason = out.reason or "lorem_ipsum"
        if params.filter_javascript and "javascript" in line_l:
            out.removed["javascript"] += 1
            continue
        if params.filter_curly_bracket and "{" in line:
            out.reason = out.reason or "curly_bracket"
        if params.filter_policy and any(p in line_l for p in POLICY_SUBSTRINGS):
            out.removed["policy"] += 1
            continue
        if params.min_num_sentences != -1:
            out.n_sentences += english().n_sentences(line)
        out.kept.append(line)
    return out


class C4Quality(CurateFilter):
    """Drop documents that fail C4's rules, judged on the lines C4 would keep.

    Defaults are C4's (Raffel et al. 2020, section 2.2; tensorflow_datasets c4_utils.py), as in
    datatrove: a line is kept only if it ends in terminal punctuation (. ? ! " ', not '...'),
    has >= 3 words (`min_words_per_line`), no word over 1,000 characters (`max_word_length`),
    no "javascript" and no cookie or terms-of-use phrase (policy lines); Wikipedia citations
    ([1], [edit], [citation needed]) are removed first. A page is dropped if a kept line says
    "lorem ipsum" or contains "{", or if the kept lines hold fewer than 5 sentences
    (`min_num_sentences`; sentences as spaCy's sentencizer splits them, reproduced in
    curate/core/wordsplit.py). Set a number to -1 to disable its rule.

    With `language: auto` (default) a document in a language without spaces (zh, ja, th, ...)
    counts words per line per character and accepts full-width stops (。！？) as terminal
    punctuation, so its lines are not all removed: a deliberate difference from datatrove, which
    splits on whitespace and knows only ASCII stops (datatrove #135).

    Reasons (datatrove's are the same): lorem_ipsum, curly_bracket, too_few_sentences. The
    `c4_lines` transform removes the lines this filter judges by.
    Example: `- c4_quality: {min_num_sentences: 5}`.
    """

    name = "⛰ curate C4 quality"
    namespace: ClassVar[str] = "c4_quality"
    signals: ClassVar[dict[str, Signal]] = {  # the line counts describe; only the sentence count is a document rule
        "n_lines": Signal("int64"),
        "n_kept_lines": Signal("int64"),
        "n_sentences": Signal("int64", keep="higher", threshold="min_num_sentences", reasons=("too_few_sentences",),
                              off=(-1,)),
        **{f"removed_{rule}": Signal("int64") for rule in C4LinePass().removed},
    }
    datatrove_reasons: ClassVar[dict[str, str]] = {
        r: r for r in ("lorem_ipsum", "curly_bracket", "too_few_sentences")}

    def __init__(
        self,
        remove_citations: bool = True,
        filter_no_terminal_punct: bool = True,
        min_num_sentences: int = 5,
        min_words_per_line: int = 3,
        max_word_length: int = 1000,
        filter_lorem_ipsum: bool = True,
        filter_javascript: bool = True,
        filter_curly_bracket: bool = True,
        filter_policy: bool = True,
        language: str = "auto",
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.remove_citations = remove_citations
        self.filter_no_terminal_punct = filter_no_terminal_punct
        self.min_num_sentences = min_num_sentences
        self.min_words_per_line = min_words_per_line
        self.max_word_length = max_word_length
        self.filter_lorem_ipsum = filter_lorem_ipsum
        self.filter_javascript = filter_javascript
        self.filter_curly_bracket = filter_curly_bracket
        self.filter_policy = filter_policy
        self.language = language

    def filter(self, doc: Document) -> str | None:
        result = c4_line_pass(doc.text, self, doc_language(doc, self.language))
        self.record_all(doc, {"n_lines": result.n_lines, "n_kept_lines": len(result.kept),
                              "n_sentences": result.n_sentences,
                              **{f"removed_{rule}": count for rule, count in result.removed.items()}})
        if result.reason:
            return result.reason
        if result.n_sentences < self.min_num_sentences:
            return "too_few_sentences"
        return None
