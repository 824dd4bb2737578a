import pytest
from datatrove.data import Document

from curate.filters.length import Length


@pytest.mark.parametrize("params, text, reason", [
    ({}, "x", None),
    ({}, "", "too_few_chars"),
    ({"min_chars": 5}, "abcde", None),
    ({"min_chars": 6}, "abcde", "too_few_chars"),
    ({"max_chars": 5}, "abcdef", "too_many_chars"),
    ({"min_words": 3}, "one two three", None),
    ({"min_words": 4}, "one two three", "too_few_words"),
    ({"max_words": 2}, "one two three", "too_many_words"),
    ({"min_words": 1}, "   \n\t ", "too_few_words"),
    ({"max_words": 1000}, "word " * 1001, "too_many_words"),
    ({"min_words": 10}, "河边小镇的历史讲述在它的桥梁和磨坊里。", "too_few_words"),
])
def test_length_reasons(params, text, reason):
    assert Length(**params).filter(Document(text=text, id="x")) == reason


def test_non_latin_words_counted_per_character_when_language_known():
    doc = Document(text="河边小镇的历史讲述在它的桥梁和磨坊里。", id="x", metadata={"language": "zh"})
    assert Length(min_words=10).filter(doc) is None and doc.metadata["length__n_words"] >= 18
