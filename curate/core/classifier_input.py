"""The fastText input line of a document: one function for training, evaluation and the `classify` stage.

A classifier only works on the input it was trained on. `curate train-labels` (curate.tools.
classifier_multi) trains on `normalize`d text (curate.core.text) and, by its tuned parameters, with
`dedup` (each distinct word once, a binary bag of words; Wang & Manning 2012) and `shape` (document
shape tokens, below); it writes them into the card beside the model (MODEL.card.json, `params`), and
the `classify` stage reads them back from there, so a document is scored as the model saw its
training documents.

Shape tokens describe the layout that `normalize` flattens into one line: how many lines, how long,
how many are short, end in a full stop, start like a list item, carry digits, prices, question marks,
times or code characters. Page types differ in exactly that (a product page is short lines with
prices; a forum thread has questions and timestamps; documentation has code; an article is long
lines of prose), and word counts alone do not see it; structural features of this kind are the
classic input of web genre classifiers (Kessler et al. 1997; Santini 2007). Each is a bucket, a
token such as `shape:short:3`, which no normalised word can equal (`normalize` splits `:` off), and
they follow the words, after `dedup`.

Example: `document_line("Price: $5\\nBuy now", {"dedup": True, "shape": True})`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from curate.core.text import normalize

# digit patterns only: words such as "posted" or "usd" are in the bag of words already, and
# alternations led by \b made these two searches 70% of the time (2.5 ms a WCXB page, now 1.2 ms)
PRICE = re.compile(r"[$€£¥₹] ?\d|\d ?[$€£¥₹]")
TIME = re.compile(r"\d(?:\d?:\d\d|\d{3}-\d\d-\d\d|\d?/\d\d?/\d\d)")  # 12:30, 2024-05-01, 1/5/24
BULLET = re.compile(r"^(?:[-*•·–>]|\d{1,3}[.)])\s")
DIGIT = re.compile(r"\d")
CODE_CHARS = "{}[]();=<>/\\_#$@|`"
SHORT, LONG = 40, 200  # characters: a label or list item; a paragraph of prose


def _quintile(share: float) -> int:
    return min(4, int(share * 5))


def _log2(n: float) -> int:
    return int(math.log2(n + 1))


def shape_tokens(raw: str) -> list[str]:
    """Bucketed layout measures of the raw text (its lines as written): `shape:<name>:<bucket>`."""
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    n, lengths = len(lines) or 1, sorted(len(line) for line in lines) or [0]
    share: Callable[[Callable[[str], object]], int] = lambda test: _quintile(sum(1 for x in lines if test(x)) / n)  # noqa: E731
    chars = sum(lengths) or 1
    code = sum(raw.count(c) for c in CODE_CHARS) / chars  # one C-level scan per character
    buckets = {
        "lines": _log2(len(lines)), "chars": _log2(len(raw)) // 2, "mean": _log2(chars / n),
        "median": _log2(lengths[len(lengths) // 2]), "short": share(lambda x: len(x) < SHORT),
        "long": share(lambda x: len(x) >= LONG), "end": share(lambda x: x[-1] in ".!?\"'”)"),
        "bullet": share(BULLET.match), "digit": share(DIGIT.search), "price": share(PRICE.search),
        "question": share(lambda x: "?" in x), "time": share(TIME.search), "table": share(lambda x: "|" in x or "\t" in x),
        "code": min(5, _log2(code * 200)),
    }
    return [f"shape:{name}:{value}" for name, value in buckets.items()]


def shape_line(raw: str) -> str:
    """The shape tokens of `raw`, joined: what training keeps per document beside its normalised text."""
    return " ".join(shape_tokens(raw))


def model_line(text: str, dedup: bool = False, shape: str = "") -> str:
    """One line of fastText input from normalised `text` (predict refuses newlines); `dedup` keeps each
    word's first occurrence; the `shape` tokens (`shape_line`) go last, untouched by `dedup`."""
    words = text.split()
    line = " ".join(dict.fromkeys(words) if dedup else words)
    return f"{line} {shape}" if shape else line


def document_line(raw: str, params: Mapping) -> str:
    """The fastText input of a raw document for a model trained with `params` (`dedup`, `shape`;
    missing means off, as for a model trained before they existed)."""
    return model_line(normalize(raw), bool(params.get("dedup")), shape_line(raw) if params.get("shape") else "")


def card_path(model: Path, suffix: str) -> Path:
    """MODEL.card.json / MODEL.card.md beside MODEL (its own suffix dropped)."""
    return model.with_name(model.stem + ".card" + suffix)


def card_params(model: str | Path) -> dict | None:
    """The training parameters in the card beside `model` (`card_path(model, ".json")`), or None when
    there is no card or it has no `params`."""
    card = card_path(Path(model), ".json")
    if not card.is_file():
        return None
    params = json.loads(card.read_text(encoding="utf-8")).get("params")
    return params if isinstance(params, dict) else None


def input_params(model: str | Path, normalize: bool) -> dict | None:
    """What a scoring stage needs to build `model`'s input: the card's parameters (empty without a
    card: normalised text only) when `normalize`, else None (raw text, lines joined)."""
    return (card_params(model) or {}) if normalize else None


def scoring_line(raw: str, params: Mapping | None) -> str:
    """The line a stage gives fastText for the raw document `raw`, with `params` from `input_params`."""
    return document_line(raw, params) if params is not None else " ".join(raw.split("\n"))
