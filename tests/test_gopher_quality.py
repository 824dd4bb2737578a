import pytest
from datatrove.data import Document

from curate.filters.gopher_quality import GopherQuality, _has_letter

CHINESE = "河边小镇的历史讲述在它的桥梁和磨坊里。两个世纪以来，住在那里的人们修建桥梁跨越河水，并利用水力。" * 5


def judge(text, metadata=None, **params):
    doc = Document(text=text, id="x", metadata=dict(metadata or {}))
    return GopherQuality(**params).filter(doc), doc.metadata


@pytest.mark.parametrize("params, text, reason", [
    ({"min_avg_word_length": 4}, "with have " + "abcd " * 60, None),  # mean word length exactly 4
    ({"max_symbol_word_ratio": 0.1}, "the and " + "word " * 88 + "#x " * 10, None),
    ({"min_avg_word_length": 4.01}, "with have " + "abcd " * 60, "short_mean_word_length"),
    ({"min_stop_words": 3}, "the and " + "word " * 60, "too_few_stop_words"),
    ({"max_doc_words": 60}, "the and " + "word " * 58, None),  # exactly 60 words
    ({"max_doc_words": 59}, "the and " + "word " * 58, "too_many_words"),
])
def test_gopher_thresholds(params, text, reason):
    assert judge(text, **params)[0] == reason


def test_chinese_is_not_too_short_when_its_language_is_known():
    """Deliberate difference from datatrove (#135): datatrove's English split makes a Chinese
    page a handful of "words" and drops it as too short. With `language: auto` and the fastText
    language in the metadata, each Han character is a word, and the word-length and English
    stop-word rules are skipped."""
    assert judge(CHINESE)[0] == "too_few_words"  # no language: datatrove's behaviour
    reason, meta = judge(CHINESE, {"language": "zh"})
    assert reason is None and meta["gopher_quality__n_words"] > 50
    assert judge(CHINESE, {"language": "zh"}, language="en")[0] == "too_few_words"


@pytest.mark.parametrize("language, text", [
    ("ja", "川沿いの町の歴史は、その橋と水車小屋に語られています。人々は川を渡るために橋を作りました。" * 4),
    ("th", "ประวัติศาสตร์ของเมืองริมแม่น้ำถูกเล่าผ่านสะพานและโรงสีของเมือง " * 6),
])
def test_other_languages_without_spaces(language, text):
    assert judge(text)[0] == "too_few_words"
    assert judge(text, {"language": language})[0] is None


def test_all_punctuation_document_with_word_rule_off_does_not_crash():
    assert judge("... !!! ???", min_doc_words=None)[0] is not None
    assert judge("", min_doc_words=None)[0] is None


@pytest.mark.parametrize("word", ["word", "Straße", "日本語", "123", "a1", "1a", "—", "...", "½", "٣٤", "x²", "", "_", "ǅ", "〇"])
def test_letter_test_is_datatrove_s(word):
    assert _has_letter(word) == any(c.isalpha() for c in word)
