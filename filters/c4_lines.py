"""C4's line removal as a transform: the lines C4's rules reject are removed from `doc.text`."""

from __future__ import annotations

from typing import ClassVar

from datatrove.data import Document

from curate.core.step import CurateStep
from curate.core.textfeatures import doc_language
from curate.filters.c4_quality import C4LinePass, c4_line_pass


class C4Lines(CurateStep):
    """Remove the lines C4's rules reject; never drops a document (that is `c4_quality`'s job).

    The rules and defaults are C4's (Raffel et al. 2020, section 2.2; tensorflow_datasets
    c4_utils.py) and datatrove's `C4QualityFilter`: lines without terminal punctuation, with
    fewer than 3 words or a word over 1,000 characters, mentioning javascript, or cookie and
    terms-of-use lines go; Wikipedia citation marks are removed from the lines kept. The kept
    lines are stripped and joined with "\\n", as datatrove writes them. Put it after
    `c4_quality`, which judges the page by the same rules. Records lines before and after.
    Example: `- c4_lines: {min_words_per_line: 3}`.
    """

    name = "✂️ curate C4 lines"
    namespace: ClassVar[str] = "c4_lines"
    signals: ClassVar[dict[str, str]] = {"n_lines": "int64", "n_removed": "int64"}

    def __init__(
        self,
        remove_citations: bool = True,
        filter_no_terminal_punct: bool = True,
        min_words_per_line: int = 3,
        max_word_length: int = 1000,
        filter_javascript: bool = True,
        filter_policy: bool = True,
        language: str = "auto",
        emit_dropped: bool = False,
    ):
        super().__init__(emit_dropped=emit_dropped)
        self.remove_citations = remove_citations
        self.filter_no_terminal_punct = filter_no_terminal_punct
        self.min_words_per_line = min_words_per_line
        self.max_word_length = max_word_length
        self.filter_javascript = filter_javascript
        self.filter_policy = filter_policy
        self.filter_lorem_ipsum = self.filter_curly_bracket = False  # document-level rules
        self.min_num_sentences = -1  # nothing to count here
        self.language = language

    def process(self, doc: Document) -> None:
        result: C4LinePass = c4_line_pass(doc.text, self, doc_language(doc, self.language))
        self.record(doc, "n_lines", result.n_lines)
        self.record(doc, "n_removed", result.n_lines - len(result.kept))
        doc.text = "\n".join(result.kept).strip()
        return None
