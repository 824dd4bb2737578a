import pytest
from datatrove.data import Document

from curate.filters.nsfw_words import NsfwWords


@pytest.fixture
def lists(shared):
    return str(shared / "blocklists" / "ldnoobw")


@pytest.mark.parametrize("text, language, matches, words", [
    ("A quiet afternoon by the river with the children.", None, 0, []),
    ("what a bullshit, total bullshit bullshit", None, 3, ["bullshit"]),
    ("Scunthorpe is a town; assistant and cockpit are fine words.", None, 0, []),  # whole words only
    ("Das ist scheiße, wirklich scheiße.", None, 0, []),  # no language: the en list
    ("Das ist scheiße, wirklich scheiße.", "de", 2, ["scheiße"]),
    ("Das ist ein Arschloch.", "de", 1, ["arschloch"]),
])
def test_counts_whole_words_of_the_documents_language(lists, text, language, matches, words):
    doc = Document(text=text, id="x", metadata={"language": language} if language else {})
    assert NsfwWords(folder=lists).filter(doc) is None  # annotates by default
    assert doc.metadata["nsfw_words__matches"] == matches and doc.metadata["nsfw_words__words"] == words
    assert doc.metadata["nsfw_words__list"] == (language or "en")


def test_rate_per_1k_words_and_threshold(lists):
    doc = Document(text="bullshit " + "word " * 99, id="x")
    assert NsfwWords(folder=lists, max_per_1k=5).filter(doc) == "too_many_bad_words"
    assert doc.metadata["nsfw_words__per_1k_words"] == pytest.approx(10.0)
    assert NsfwWords(folder=lists, max_per_1k=20).filter(Document(text=doc.text, id="y")) is None


def test_language_without_a_list_is_recorded_not_failed(lists):
    doc = Document(text="some text", id="x", metadata={"language": "xx"})
    assert NsfwWords(folder=lists).filter(doc) is None and doc.metadata["nsfw_words__list"] is None
