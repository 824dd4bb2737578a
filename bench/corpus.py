"""Real extracted web pages for dedup benchmarks and tests: WCXB's ground-truth main text.

`pages()` reads the 1,497 hand-checked main texts of the WCXB dev split (../shared/data/
html_gold/wcxb_dev, extracted once into a cache folder); `documents(n, words)` cuts them into
documents of about `words` words (~3.5 KB at 550), the size the issue's figures were taken at.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

SHARED = Path(os.environ.get("CURATE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ARCHIVE = SHARED / "html_gold" / "wcxb_dev" / "wcxb_dev.tar.xz"
CACHE = Path(os.environ.get("CURATE_CACHE", Path.home() / ".cache" / "curate")) / "wcxb_main_text.jsonl"


def pages() -> list[str]:
    """Main texts of the WCXB dev pages (non-empty), in file order."""
    if not CACHE.is_file():
        if not ARCHIVE.is_file():
            raise FileNotFoundError(f"{ARCHIVE} not found (set CURATE_SHARED_DATA to the shared/data folder)")
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        texts = []
        with tarfile.open(ARCHIVE) as tar:
            for member in tar:
                if "/ground-truth/" in member.name and member.name.endswith(".json"):
                    gold = json.load(tar.extractfile(member))
                    texts.append((member.name, gold.get("ground_truth", {}).get("main_content") or ""))
        tmp = CACHE.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(t) + "\n" for _, t in sorted(texts) if t.strip()))
        tmp.rename(CACHE)
    return [json.loads(line) for line in CACHE.read_text().splitlines()]


def documents(n: int, words: int = 550) -> list[str]:
    """`n` documents of `words` words cut from the pages (fewer if the pages run out)."""
    out = []
    for page in pages():
        tokens = page.split()
        for start in range(0, len(tokens) - words // 2, words):
            out.append(" ".join(tokens[start:start + words]))
            if len(out) == n:
                return out
    return out
