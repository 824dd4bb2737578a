import pytest
from datatrove.data import Document

from curate.filters.fineweb_quality import FineWebQuality

LINE = "This is a complete sentence of reasonable length that ends well."


def judge(text, **params):
    doc = Document(text=text, id="x")
    return FineWebQuality(**params).filter(doc), doc.metadata


@pytest.mark.parametrize("text, reason", [
    ("\n".join(f"{LINE} Number {i}." for i in range(10)), None),
    ("", "empty"),
    ("   \n\t \n", "empty"),
    ("one line only without a stop", "line_punct_ratio"),
    ("\n".join(f"item {i}" for i in range(20)), "line_punct_ratio"),
    ("\n".join([f"{LINE} {i}." for i in range(3)] + [f"short {i}." for i in range(10)]), "short_line_ratio"),
    ("\n".join([f"{LINE} {i}." for i in range(10)] + [LINE + "!"] * 2), "char_dup_ratio"),
    ("Fine.\n\n\n\n\n\n\n\n\n\n" + f"{LINE} Unique words here to pad it out.", "list_ratio"),
    ("\n".join(f"{LINE} Number {i}." for i in range(3000)), None),
    ("\n".join(f"这是一个很长的中文句子，用来测试过滤器是否正常工作，并且这一行足够长，不会被当作短行，编号{i}。" for i in range(10)), "list_ratio"),
])
def test_fineweb_reasons(text, reason):
    assert judge(text)[0] == reason


def test_line_punct_threshold_is_inclusive():
    lines = [f"{LINE} {i}." for i in range(3)] + [f"{LINE} {i} and no stop" for i in range(22)]  # 3/25 = 0.12
    assert judge("\n".join(lines), short_line_thr=1.0)[0] is None
    assert judge("\n".join(lines), line_punct_thr=0.13)[0] == "line_punct_ratio"


def test_short_line_length_is_inclusive():
    text = "\n".join(["x" * 29 + "."] * 1 + [f"{LINE} {i}." for i in range(3)])  # 30 chars is short
    assert judge(text, short_line_thr=0.25)[0] is None
    assert judge(text, short_line_thr=0.24)[0] == "short_line_ratio"


def test_records_signals():
    reason, meta = judge("\n".join(f"{LINE} Number {i}." for i in range(10)))
    assert reason is None and meta["fineweb_quality__line_punct_ratio"] == 1.0
    assert {f"fineweb_quality__{s}" for s in FineWebQuality.signals} <= set(meta)


def test_languages_without_spaces_are_not_lists():
    """Deliberate difference from datatrove (#135): datatrove's English split makes each Chinese
    line one or two "words", so 10 lines look like a list; with the language known, curate
    counts characters."""
    text = "\n".join(f"这是一个很长的中文句子，用来测试过滤器是否正常工作，并且这一行足够长，不会被当作短行，编号{i}。"
                     for i in range(10))
    assert FineWebQuality().filter(Document(text=text, id="x", metadata={"language": "zh"})) is None
    assert FineWebQuality(language="en").filter(Document(text=text, id="x", metadata={"language": "zh"})) == "list_ratio"
