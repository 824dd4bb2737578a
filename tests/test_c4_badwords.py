import pytest
from datatrove.data import Document

from curate.filters.c4_badwords import C4BadWords


@pytest.fixture(scope="module")
def folder(shared):
    return str(shared / "blocklists" / "ldnoobw")


def judge(folder, text, language=None, **params):
    doc = Document(text=text, id="x", metadata={"language": language} if language else {})
    return C4BadWords(folder=folder, **params).filter(doc), doc.metadata


@pytest.mark.parametrize("text, language, reason", [
    ("A perfectly clean sentence about gardens.", None, None),
    ("", None, None),
    ("   \n\t ", None, None),
    ("This line says bollocks once.", None, "badwords"),
    ("BOLLOCKS in capitals.", None, "badwords"),
    ("bollocks", None, "badwords"),  # at the start and end of the text
    ("The scunthorpe problem: class, assassin, cockpit.", None, None),  # whole words only
    ("clean words " * 20000, None, None),
    ("Ein Satz mit Arschloch darin.", "de", "badwords"),
    ("这是一个干净的句子。", "zh", None),
    ("这是一个性别平等的句子。", "zh", None),  # "性" is allowlisted: common inside words
])
def test_badwords_reasons(folder, text, language, reason):
    assert judge(folder, text, language)[0] == reason


def test_records_the_word(folder):
    reason, meta = judge(folder, "well, bollocks.")
    assert reason == "badwords" and meta["c4_badwords__badword"] == "bollocks"


def test_missing_language(folder):
    with pytest.raises(ValueError, match="no bad-words list"):
        judge(folder, "text", "xx")
    reason, meta = judge(folder, "bollocks", "xx", fail_on_missing_language=False)
    assert reason is None and meta["c4_badwords__language_has_list"] is False


def test_keep_fraction_keeps_some(folder):
    step = C4BadWords(folder=folder, keep_fraction=0.5, seed=1)
    kept = sum(step.filter(Document(text="bollocks", id=str(i))) is None for i in range(200))
    assert 60 < kept < 140
