"""The text normalisers: one home for each canonical form a stage hashes, matches or classifies.

Each consumer has its own form on purpose (they follow different references), so there are three,
and a stage and the tool that prepares its data import the same one from here:

- `lower_collapsed`: MinHash shingles and exact dedup (`curate.core.hashing`,
  `curate.filters.minhash.signatures`). Case and runs of whitespace do not matter; punctuation does,
  as in datasketch's and datatrove's word shingles.
- `words`: decontamination's word list (`curate.filters.decontaminate`, `curate.ablation.decontam`),
  NeMo Curator's and lm-eval's 13-gram normalisation made a little more forgiving.
- `normalize`: fastText input (`curate.filters.fasttext_classifier` scores with it,
  `curate.tools.classifier` trains with it), so a model sees the same text in both.
"""

from __future__ import annotations

import re
import unicodedata

APOSTROPHES = re.compile("['\u2019\u2018\u02bc`\u00b4]")
PUNCTUATION = re.compile(r"[^\w\s]|_")
_PUNCT = re.compile(r"([^\w\s])")
_SPACES = re.compile(r"\s+")


def lower_collapsed(text: str) -> str:
    """Lowercased, every run of whitespace one space, no leading or trailing space."""
    return " ".join(text.lower().split())


def words(text: str) -> list[str]:
    """Normalised words: lowercased, apostrophes deleted (`don't`, `don’t` -> `dont`), every other
    punctuation or symbol character (and `_`) made a space, split on whitespace."""
    return PUNCTUATION.sub(" ", APOSTROPHES.sub("", text.lower())).split()


def normalize(text: str) -> str:
    """fastText input: NFKC, lowercased, every punctuation mark a token of its own, one line.

    This is the fastText supervised tutorial's preprocessing (which DCLM's lowercased,
    normalised training text follows); splitting punctuation off makes "end." and "end" one word.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACES.sub(" ", _PUNCT.sub(r" \1 ", text)).strip()
