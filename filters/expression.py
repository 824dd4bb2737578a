"""A keep rule over recorded signals, e.g. `fineweb_quality.short_line_ratio < 0.5 and language_score > 0.8`."""

from __future__ import annotations

import difflib
import operator
import re
from typing import ClassVar

from datatrove.data import Document

from curate.core.config import ReadsSignals
from curate.core.registry import closest
from curate.core.step import CurateFilter, signal_key

_TOKEN = re.compile(r"\s*(?:(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<str>'[^']*'|\"[^\"]*\")"
                    r"|(?P<op><=|>=|==|!=|<|>|\(|\))|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?))")
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
            "!=": operator.ne}


# Metadata keys without a namespace that a rule may read: set by the readers (`url`) and by
# fasttext_lang (`language`, `language_score`); the decision table's columns of the same names.
PLAIN_KEYS = ("url", "language", "language_score")


class ExpressionError(ValueError):
    pass


def parse(rule: str):
    """Parse `rule` into a nested tuple tree; no Python eval. Grammar:

    or_expr := and_expr ("or" and_expr)*;  and_expr := not_expr ("and" not_expr)*;
    not_expr := "not" not_expr | "(" or_expr ")" | value OP value;  value := number | 'string' |
    true | false | null | signal, where a signal is `stage.signal` or a plain metadata key.
    """
    tokens, pos = [], 0
    rule = rule.strip()
    while pos < len(rule):
        m = _TOKEN.match(rule, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot parse {rule!r} at {rule[pos:]!r}")
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(rule) and rule[pos].isspace():
            pos += 1
    tree, end = _or(tokens, 0)
    if end != len(tokens):
        raise ExpressionError(f"unexpected {tokens[end][1]!r} in {rule!r}")
    return tree


def _or(t, i):
    left, i = _and(t, i)
    while i < len(t) and t[i] == ("name", "or"):
        right, i = _and(t, i + 1)
        left = ("or", left, right)
    return left, i


def _and(t, i):
    left, i = _not(t, i)
    while i < len(t) and t[i] == ("name", "and"):
        right, i = _not(t, i + 1)
        left = ("and", left, right)
    return left, i


def _not(t, i):
    if i >= len(t):
        raise ExpressionError("rule ends too early")
    if t[i] == ("name", "not"):
        inner, i = _not(t, i + 1)
        return ("not", inner), i
    if t[i] == ("op", "("):
        inner, i = _or(t, i + 1)
        if i >= len(t) or t[i] != ("op", ")"):
            raise ExpressionError("missing )")
        return inner, i + 1
    left, i = _value(t, i)
    if i >= len(t) or t[i][0] != "op" or t[i][1] not in _COMPARE:
        raise ExpressionError("expected a comparison (<, <=, >, >=, ==, !=)")
    op = t[i][1]
    right, i = _value(t, i + 1)
    return ("cmp", op, left, right), i


def _value(t, i):
    if i >= len(t):
        raise ExpressionError("rule ends too early")
    kind, text = t[i]
    if kind == "num":
        return ("const", float(text)), i + 1
    if kind == "str":
        return ("const", text[1:-1]), i + 1
    if kind == "name":
        consts = {"true": True, "false": False, "null": None, "none": None}
        if text.lower() in consts:
            return ("const", consts[text.lower()]), i + 1
        if text in ("and", "or", "not"):
            raise ExpressionError(f"expected a value, got {text!r}")
        stage, _, signal = text.partition(".")
        return ("signal", signal_key(stage, signal) if signal else stage), i + 1
    raise ExpressionError(f"expected a value, got {text!r}")


def references(tree) -> list[str]:
    """The metadata keys `tree` reads (`stage__signal` for `stage.signal`), in order."""
    if tree[0] == "signal":
        return [tree[1]]
    if tree[0] == "const":
        return []
    return [key for part in tree[1:] if isinstance(part, tuple) for key in references(part)]


def unknown_reference(key: str, known: dict[str, str]) -> str | None:
    """Why `key` is not a signal a rule can read, given the `known` columns; None if it is one.

    `stage.signal` must be a column of `known`. A plain key may be one of `PLAIN_KEYS` or a field
    the input documents carry (JSONL metadata), which cannot be known at load; so it fails only
    when it is a signal's short name (`n_emails`) or a near miss of a known key."""
    if key in known or key in PLAIN_KEYS:
        return None
    dotted = [column.replace("__", ".", 1) for column in known]
    if "__" in key:
        name = key.replace("__", ".", 1)
        return (f"unknown signal {name!r}{closest(name, [*dotted, *PLAIN_KEYS])}: no stage before the rule "
                f"records it (it reads the signals of the stages above it in the recipe)")
    short = {column.partition("__")[2]: column.replace("__", ".", 1) for column in known}
    if key in short:
        return f"{key!r} is not recorded under that name; did you mean {short[key]!r}?"
    near = difflib.get_close_matches(key, [*PLAIN_KEYS, *short], n=1, cutoff=0.85)
    if near:
        return f"unknown signal {key!r} (did you mean {short.get(near[0], near[0])!r}?)"
    return None


def evaluate(tree, metadata: dict) -> bool:
    kind = tree[0]
    if kind == "or":
        return evaluate(tree[1], metadata) or evaluate(tree[2], metadata)
    if kind == "and":
        return evaluate(tree[1], metadata) and evaluate(tree[2], metadata)
    if kind == "not":
        return not evaluate(tree[1], metadata)
    _, op, left, right = tree
    a = left[1] if left[0] == "const" else metadata.get(left[1])
    b = right[1] if right[0] == "const" else metadata.get(right[1])
    if (a is None or b is None) and op not in ("==", "!="):
        return False  # a missing signal fails an ordering comparison
    try:
        return bool(_COMPARE[op](a, b))
    except TypeError:
        return False


class Expression(CurateFilter, ReadsSignals):
    """Keep documents for which a threshold rule over recorded signals holds; drop the rest.

    `keep` compares signals with numbers or strings and combines comparisons with and, or, not
    and parentheses: `fineweb_quality.short_line_ratio < 0.5 and language_score > 0.8`. A
    signal is `stage.signal` (the column `stage__signal`) or a plain metadata key such as
    `language`. The rule is parsed once into a tree (never Python eval); a missing signal makes
    `<`, `>` comparisons false. Put it after the stages whose signals it reads (in annotate
    mode they record signals for every document): when the recipe loads, every `stage.signal`
    must be one that a stage above it declares, or loading fails naming the line and the closest
    one (a plain key may also be a field of the input documents). No default threshold: you
    write the rule. Reason: `expression:<name>` (default `expression:rule`).
    Example: `- expression: {keep: "language == 'en' and language_score > 0.8", name: low_lid}`.
    """

    name = "🧮 curate expression"
    namespace: ClassVar[str] = "expression"
    signals: ClassVar[dict[str, str]] = {}

    def __init__(self, keep: str, name: str = "rule", mode: str = "filter", emit_dropped: bool = False):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.keep = keep
        self.rule_name = name
        self.tree = parse(keep)

    @classmethod
    def unknown_signals(cls, params: dict, known: dict[str, str]) -> list[tuple[str, str]]:
        """The rule's references that the stages before it do not record (see `unknown_reference`)."""
        try:
            tree = parse(params.get("keep", ""))
        except ExpressionError as error:
            return [("keep", str(error))]
        problems = (unknown_reference(key, known) for key in references(tree))
        return [("keep", problem) for problem in problems if problem]

    def filter(self, doc: Document) -> str | None:
        return None if evaluate(self.tree, doc.metadata) else self.rule_name
