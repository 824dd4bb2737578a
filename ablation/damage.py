"""Planted damage: known-bad variants of a clean corpus, to check that an ablation can tell good data from bad.

Each function takes the clean documents and returns a damaged copy; `rng` fixes which documents.
The kinds are the failure modes curate's filters exist for:

- `boilerplate`: navigation/cookie/footer lines inserted so `fraction` of each document's lines are
  boilerplate (what trafilatura and the C4 line rules remove);
- `duplicates`: `fraction` of the documents replaced by copies of a few others (exact dedup's job;
  web duplicates are heavy-tailed, a few pages copied thousands of times, so the copies come from
  0.1% of the documents, at least one);
- `foreign`: `fraction` of the documents replaced by foreign-language text (language ID's job);
- `spam`: `fraction` of the documents replaced by keyword-stuffed SEO spam (quality filters' job).

Example:
    bad = damage(docs, "boilerplate", fraction=0.5, seed=0)
"""

from __future__ import annotations

import io
import random
import re
import tarfile
from pathlib import Path

KINDS = ("boilerplate", "duplicates", "foreign", "spam")

# web boilerplate varies from site to site: templates with random menu items, dates, counts and names, so a
# model cannot memorise a dozen lines once and for all (which would make the damage nearly free)
BOILERPLATE = [
    "Home | {w} | {w} | {w} | Contact | Privacy Policy",
    "We use cookies to improve your {w} experience. By continuing to browse you agree to our use of cookies.",
    "Copyright © {y} {W} {W} Ltd. All rights reserved.",
    "Click here to subscribe to the {W} newsletter!",
    "Share this: Facebook Twitter LinkedIn Email Print | {n} shares",
    "Skip to main content | {W} {W} | Menu",
    "Log in | Register | Forgot your password? | {n} users online",
    "Posted by {w}{n} on {d} in {W} | {n} comments",
    "Related posts: {W} {w} {w} ({d})",
    "Tags: {w}, {w}, {w}, {w}",
    "Previous article: {W} {w} | Next article: {W} {w}",
    "Page {n} of {n} | Sort by: {w} | Show {n} per page",
]
MENU_WORDS = ("news sport travel shop blog forum gallery video music events about products services support "
              "download account cart deals archive weather jobs health science business tech style food").split()
SPAM_WORDS = ("cheap best buy online discount free casino bonus viagra pills loans payday crypto win prize "
              "deal offer sale click now limited shipping replica watches bitcoin earn money fast weight loss "
              "guaranteed casino slots poker jackpot seo backlinks followers likes").split()
# Latin-script languages from lingua's test sentences: foreign text an English tokenizer still splits into words
FOREIGN_LANGUAGES = ("de", "fr", "es", "it", "pt", "nl", "sv", "da", "nb", "pl", "cs", "fi", "hu", "ro", "tr", "id")


def damage(docs: list[str], kind: str, fraction: float, seed: int = 0, foreign: list[str] | None = None) -> list[str]:
    rng = random.Random(seed)
    if kind == "boilerplate":
        return [_boilerplate(doc, fraction, rng) for doc in docs]
    picked = set(rng.sample(range(len(docs)), round(fraction * len(docs))))
    if kind == "duplicates":
        sources = rng.sample(range(len(docs)), max(1, len(docs) // 1000))
        return [docs[rng.choice(sources)] if i in picked else doc for i, doc in enumerate(docs)]
    if kind == "foreign":
        if not foreign:
            raise ValueError("foreign damage needs foreign documents (damage.foreign: a lingua test-data archive)")
        return [rng.choice(foreign) if i in picked else doc for i, doc in enumerate(docs)]
    if kind == "spam":
        return [_spam(len(doc.split()), rng) if i in picked else doc for i, doc in enumerate(docs)]
    raise ValueError(f"unknown damage {kind!r}; valid: {', '.join(KINDS)}")


def _boilerplate(doc: str, fraction: float, rng: random.Random) -> str:
    lines = doc.split("\n")
    n_bad = round(len(lines) * fraction / (1 - fraction)) if fraction < 1 else len(lines)
    for _ in range(n_bad):
        lines.insert(rng.randrange(len(lines) + 1), boilerplate_line(rng))
    return "\n".join(lines)


def boilerplate_line(rng: random.Random) -> str:
    fill = {"w": lambda: rng.choice(MENU_WORDS), "W": lambda: rng.choice(MENU_WORDS).capitalize(),
            "n": lambda: str(rng.randrange(1, 5000)), "y": lambda: str(rng.randrange(1998, 2026)),
            "d": lambda: f"{rng.randrange(1998, 2026)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"}
    return re.sub(r"\{(\w)\}", lambda m: fill[m.group(1)](), rng.choice(BOILERPLATE))


def _spam(n_words: int, rng: random.Random) -> str:
    words = [rng.choice(SPAM_WORDS) for _ in range(max(n_words, 50))]
    for i in range(0, len(words), 12):
        words[i] = words[i].capitalize()
    return " ".join(words) + "! Click here: www." + rng.choice(SPAM_WORDS) + "-" + rng.choice(SPAM_WORDS) + ".com"


def foreign_documents(archive: str | Path, sentences_per_doc: int = 20) -> list[str]:
    """Documents of `sentences_per_doc` sentences of one language each, from lingua's language-testdata archive."""
    docs = []
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            lang = Path(member.name).stem
            if "/sentences/" not in member.name or lang not in FOREIGN_LANGUAGES:
                continue
            lines = io.TextIOWrapper(tar.extractfile(member), encoding="utf-8").read().splitlines()
            lines = [line.strip() for line in lines if line.strip()]
            docs += [" ".join(lines[i:i + sentences_per_doc]) for i in range(0, len(lines), sentences_per_doc)]
    if not docs:
        raise ValueError(f"{archive}: no sentences/<lang>.txt files for {', '.join(FOREIGN_LANGUAGES)}")
    return docs
