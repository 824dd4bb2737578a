"""Real training data for the quality classifier tests, from ../shared/data (read in place).

Positives (edited, clean prose): the three Project Gutenberg books without their license header
and footer, the US inaugural and State of the Union addresses (nltk), and WikiText-2's articles
(test and valid splits, their tokenisation undone: `@-@` -> `-`, `<unk>` dropped).

Negatives (what a quality classifier should score low): whole-page text of the WCXB dev pages
(html_gold/wcxb_dev) extracted with resiliparse `main_content=False`, the most recall-oriented
setting there is: menus, footers, cookie banners, link lists and comments stay in. Every page
type is used, so listing, collection, product and service pages (navigation and catalogue text)
are there as well as articles wrapped in their boilerplate. Pages that lid.176 does not call
English are left out, so the classifier cannot separate the classes by language alone.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from pathlib import Path

WCXB = "html_gold/wcxb_dev/wcxb_dev.tar.xz"


def _gutenberg_body(text: str) -> str:
    start = re.search(r"\*\*\* ?START OF TH.*?\*\*\*", text)
    end = re.search(r"\*\*\* ?END OF TH", text)
    return text[start.end() if start else 0:end.start() if end else len(text)]


def _wikitext_articles(text: str) -> list[str]:
    text = text.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".").replace("<unk> ", "")
    return [a for a in re.split(r"\n \n = [^=\n]+ = \n \n", text) if len(a.split()) > 50]


def positive_texts(shared: Path) -> list[str]:
    texts = [_gutenberg_body(p.read_text(encoding="utf-8", errors="replace"))
             for p in sorted((shared / "clean_text" / "gutenberg").glob("*.txt")) if p.name.startswith("pg")]
    for corpus in ("nltk_inaugural.zip", "nltk_state_union.zip"):
        with zipfile.ZipFile(shared / "clean_text" / corpus) as z:
            texts += [z.read(n).decode("latin-1") for n in sorted(z.namelist()) if n.endswith(".txt")]
    for split in ("test.txt", "valid.txt"):
        texts += _wikitext_articles((shared / "clean_text" / "wikitext-2" / split).read_text(encoding="utf-8"))
    return texts


def negative_texts(shared: Path, lid_model: str) -> list[str]:
    from resiliparse.extract.html2text import extract_plain_text

    from curate.resources.models import load_fasttext

    lid = load_fasttext(Path(lid_model))
    texts = []
    with tarfile.open(shared / WCXB) as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".html")):
                continue
            html = tar.extractfile(member).read().decode("utf-8", "replace")
            text = extract_plain_text(html, main_content=False, comments=True, links=False, alt_texts=True)
            if len(text.split()) < 50:
                continue
            (label,), _ = lid.predict(text.replace("\n", " ")[:2000])
            if label == "__label__en":
                texts.append(text)
    return texts


def write_texts(texts: list[str], folder: Path) -> Path:
    """One .txt file per text (train-classifier reads a folder of them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(texts):
        (folder / f"{i:05d}.txt").write_text(text, encoding="utf-8")
    return folder
