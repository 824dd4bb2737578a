"""Real web pages for conformance tests and benchmarks: text extracted from ../shared/data/html_gold.

The HTML of the trafilatura evaluation set (1,032 pages, several languages) and the WCXB dev
split (1,497 pages, seven page types) goes through resiliparse's main-content extraction (DCLM's
extractor, with curate's `resiliparse_extract` defaults); WCXB's hand-written main texts are added
as a second, cleaner view of the same pages. Extraction takes about 20 s on two cores (trafilatura
took 3 min), and the texts are cached in `cache_dir` under a key made of the archives' sizes and
dates and the resiliparse version.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ARCHIVES = ("html_gold/trafilatura_eval/trafilatura_tests_eval_cache_html.tar.xz", "html_gold/wcxb_dev/wcxb_dev.tar.xz")


def _extract(item: tuple[str, bytes]) -> tuple[str, str | None]:
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    from curate.filters.resiliparse_extract import ResiliparseExtract

    name, html = item
    try:
        text, _ = ResiliparseExtract().extract_page(bytes_to_str(html, detect_encoding(html)))
    except Exception:  # a page resiliparse cannot parse is simply not a test page
        text = None
    return name, text.strip() if text else None


def _members(shared: Path):
    for archive in ARCHIVES:
        with tarfile.open(shared / archive) as tar:
            for member in tar:
                if member.isfile() and (member.name.endswith(".html") or "/ground-truth/" in member.name):
                    yield member.name, tar.extractfile(member).read()


def cache_key(shared: Path) -> str:
    from importlib.metadata import version

    h = hashlib.sha256(f"resiliparse {version('resiliparse')}".encode())
    for archive in ARCHIVES:
        stat = (shared / archive).stat()
        h.update(f"{archive}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return h.hexdigest()[:16]


def load_pages(shared: Path, cache_dir: Path, workers: int | None = None) -> list[dict]:
    """[{"id", "text"}] for every page with non-empty text, extracted once and cached."""
    import fasteners

    cache = Path(cache_dir) / f"pages-{cache_key(shared)}.jsonl.gz"
    cache.parent.mkdir(parents=True, exist_ok=True)
    # one extraction for all: test processes running side by side (pytest -n) wait for the first
    with fasteners.InterProcessLock(str(cache.with_suffix(".lock"))):
        if cache.is_file():
            with gzip.open(cache, "rt", encoding="utf-8") as f:
                return [json.loads(line) for line in f]
        pages = _extract_all(shared, workers)
        buffer = io.StringIO()
        for page in pages:
            buffer.write(json.dumps(page, ensure_ascii=False) + "\n")
        tmp = cache.with_suffix(".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            f.write(buffer.getvalue())
        os.replace(tmp, cache)
    return pages


def _extract_all(shared: Path, workers: int | None) -> list[dict]:
    html, gold = [], []
    for name, data in _members(shared):
        if name.endswith(".html"):
            html.append((name, data))
        else:
            text = (json.loads(data).get("ground_truth") or {}).get("main_content")
            if text:
                gold.append({"id": f"gold:{name}", "text": text})
    with ProcessPoolExecutor(workers or os.cpu_count()) as pool:
        extracted = [{"id": f"html:{name}", "text": text}
                     for name, text in pool.map(_extract, html, chunksize=16) if text]
    return extracted + gold


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curate" / "test-pages"
