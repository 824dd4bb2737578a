import pytest
from datatrove.data import Document

from curate.filters.c4_lines import C4Lines
from curate.filters.c4_quality import C4Quality

GOOD = "\n".join([
    "The river town grew up around two old stone bridges.",
    "Its mills used the water to grind grain for the region.",
    "Many families worked there for several generations.",
    "Today the mills are a museum that tells their story.",
    "Visitors walk along the banks and read the old signs.",
])


def judge(text, **params):
    doc = Document(text=text, id="x")
    return C4Quality(**params).filter(doc), doc.metadata


@pytest.mark.parametrize("text, reason", [
    (GOOD, None),
    ("", "too_few_sentences"),
    ("   \n\t ", "too_few_sentences"),
    ("One line with a full stop.", "too_few_sentences"),
    ("\n".join(GOOD.splitlines()[:4]), "too_few_sentences"),  # 4 sentences: one below the minimum
    (GOOD + "\nLorem ipsum dolor sit amet, consectetur.", "lorem_ipsum"),
    (GOOD + "\nThe config is {a: 1} in this line.", "curly_bracket"),
    (GOOD + "\nlorem ipsum without terminal punctuation", None),  # the line goes first, so no drop
    (GOOD + "\nEnable JavaScript {now} to see this page.", None),  # javascript lines go before the { rule
    ("\n".join(GOOD.splitlines()[:4] + ["This site uses cookies. Accept them now."]), "too_few_sentences"),
    ("\n".join(GOOD.splitlines()[:4] + ["Two sentences. In one line [1]."]), None),
    ("Short line.\n" * 10, "too_few_sentences"),  # two words per line
    ("河边小镇的历史讲述在它的桥梁和磨坊里。\n" * 10, "too_few_sentences"),  # one whitespace word per line
    (GOOD + "\n" + "x" * 1001 + " is a long word.", None),
    (GOOD * 200, None),
])
def test_c4_quality_reasons(text, reason):
    assert judge(text)[0] == reason


def test_min_sentences_is_inclusive():
    assert judge(GOOD, min_num_sentences=5)[0] is None
    assert judge(GOOD, min_num_sentences=6)[0] == "too_few_sentences"
    assert judge(GOOD, min_num_sentences=-1)[0] is None


def test_min_words_per_line_at_threshold():
    text = "\n".join(["Three words here."] * 5)
    assert judge(text, min_words_per_line=3)[0] is None
    assert judge(text, min_words_per_line=4)[0] == "too_few_sentences"


def test_languages_without_spaces_count_characters_as_words():
    """Deliberate difference from datatrove (#135): with the document's language known, the
    words-per-line rule counts characters of zh/ja/th text, so Chinese lines are not all short."""
    text = "河边小镇的历史讲述在它的桥梁和磨坊里。\n" * 10
    doc = Document(text=text, id="x", metadata={"language": "zh"})
    assert C4Quality().filter(doc) is None
    assert C4Quality(language="en").filter(Document(text=text, id="x", metadata={"language": "zh"})) == "too_few_sentences"


def test_records_signals_and_never_changes_text():
    reason, meta = judge(GOOD + "\nMenu\nThis site uses cookies.")
    assert reason is None
    assert meta["c4_quality__n_lines"] == 7 and meta["c4_quality__n_kept_lines"] == 5
    assert meta["c4_quality__removed_no_terminal_punct"] == 1 and meta["c4_quality__removed_policy"] == 1


def test_c4_lines_transform_removes_lines_like_datatrove():
    from datatrove.pipeline.filters import C4QualityFilter

    text = GOOD + "\nMenu\nThis site uses cookies.\nA cited claim here [12]."
    doc = Document(text=text, id="x")
    C4Lines().process(doc)
    reference = Document(text=text, id="y")
    assert C4QualityFilter().filter(reference) is True
    assert doc.text == reference.text and doc.metadata["c4_lines__n_removed"] == 2
