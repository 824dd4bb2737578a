import pytest
from datatrove.data import Document

from curate.filters.expression import Expression, ExpressionError, parse

META = {"fineweb_quality__short_line_ratio": 0.4, "language_score": 0.9, "language": "en",
        "gopher_quality__n_words": 120}


@pytest.mark.parametrize("rule, keep", [
    ("fineweb_quality.short_line_ratio < 0.5 and language_score > 0.8", True),
    ("fineweb_quality.short_line_ratio < 0.4", False),  # exactly at the threshold
    ("fineweb_quality.short_line_ratio <= 0.4", True),
    ("language == 'en' and not gopher_quality.n_words < 100", True),
    ("(language == \"de\" or language_score >= 0.95) and gopher_quality.n_words > 1", False),
    ("missing.signal > 1", False),
    ("missing.signal == null", True),
    ("gopher_quality.n_words >= 1e2", True),
])
def test_rules(rule, keep):
    doc = Document(text="", id="x", metadata=dict(META))
    assert (Expression(keep=rule).filter(doc) is None) is keep


@pytest.mark.parametrize("rule", ["", "a <", "__import__('os').system('x') == 1", "a < 1 and", "(a < 1", "a = 1",
                                  "a < 1 b > 2", "1 + 1 > 0"])
def test_bad_rules_fail_at_parse_time(rule):
    with pytest.raises(ExpressionError):
        parse(rule)


def test_reason_uses_the_name():
    doc = Document(text="", id="x", metadata=dict(META))
    assert Expression(keep="language_score > 0.95", name="low_lid").filter(doc) == "low_lid"
