"""Documents for decontamination tests and benchmarks: clean texts, real pages, planted items.

`clean_documents` cuts ../shared/data/clean_text into documents (a speech, a WikiText article, a
chunk of 60 lines of a book, a web-text file or a play); `planted` inserts benchmark items into
real pages three ways: as their own paragraph verbatim, as their own paragraph with case,
punctuation and whitespace changed, and in the middle of one of the page's paragraphs.
"""

from __future__ import annotations

import random
import re
import zipfile
from pathlib import Path

CHUNK_LINES = 60


def _chunks(text: str, lines: int = CHUNK_LINES) -> list[str]:
    rows = text.splitlines()
    return ["\n".join(rows[i:i + lines]) for i in range(0, len(rows), lines)]


def clean_documents(shared: Path) -> list[dict]:
    """[{"id", "text"}] from clean_text: speeches, WikiText articles, book and web-text chunks."""
    base = Path(shared) / "clean_text"
    docs = []
    for name in ("nltk_inaugural.zip", "nltk_state_union.zip", "nltk_webtext.zip"):
        with zipfile.ZipFile(base / name) as z:
            for member in sorted(z.namelist()):
                if member.endswith(".txt"):
                    text = z.read(member).decode("utf-8", "replace")
                    parts = [text] if "webtext" not in name else _chunks(text)
                    docs += [{"id": f"{name}/{member}#{i}", "text": t} for i, t in enumerate(parts)]
    for path in sorted((base / "wikitext-2").glob("*.txt")):
        articles = re.split(r"\n(?= = [^=].* = \n)", path.read_text(encoding="utf-8"))
        docs += [{"id": f"{path.name}#{i}", "text": a} for i, a in enumerate(articles)]
    for path in sorted((base / "gutenberg").glob("pg*.txt")) + [base / "tinyshakespeare" / "input.txt"]:
        text = path.read_text(encoding="utf-8", errors="replace")
        docs += [{"id": f"{path.name}#{i}", "text": t} for i, t in enumerate(_chunks(text))]
    return [d for d in docs if d["text"].strip()]


def perturb(text: str, rng: random.Random) -> str:
    """Change case, punctuation and whitespace, never letters or digits inside a word."""
    out = []
    for token in text.split():
        core = token.strip(".,;:!?\"'()[]")
        if core and rng.random() < 0.5:  # punctuation around the word dropped, or changed
            token = core if rng.random() < 0.6 else core + rng.choice([",", ";", " -", "!", "...", ":"])
        token = token.replace("'", "\u2019") if rng.random() < 0.5 else token.replace("\u2019", "'")
        token = rng.choice([str.upper, str.lower, str.title, str])(token)
        out.append(token)
    return "".join(t + rng.choice([" ", "  ", "\t", " \n", "\n\n", "   "]) for t in out).strip()


def planted(items: list[tuple[int, str]], pages: list[str], seed: int = 0) -> list[tuple[str, int, str]]:
    """(document, item, variant) for every (item, text) and each variant: `verbatim`,
    `perturbed` (own paragraph) and `embedded` (inside one of the page's paragraphs)."""
    rng = random.Random(seed)
    docs = []
    for n, (item, text) in enumerate(items):
        for v, variant in enumerate(("verbatim", "perturbed", "embedded")):
            paragraphs = pages[(3 * n + v) % len(pages)].split("\n")
            at = rng.randrange(len(paragraphs) + 1)
            if variant == "embedded":
                host = max(range(len(paragraphs)), key=lambda i: len(paragraphs[i]))
                words = paragraphs[host].split(" ")
                cut = rng.randrange(len(words) + 1)
                paragraphs[host] = " ".join(words[:cut] + [" ".join(text.split())] + words[cut:])
            else:
                paragraphs.insert(at, text if variant == "verbatim" else perturb(text, rng))
            docs.append(("\n".join(paragraphs), item, variant))
    return docs
