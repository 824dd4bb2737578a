"""curate's heuristic filters against the installed datatrove, decision for decision, on real pages.

Each filter and its datatrove counterpart, with the same parameters, judge every page extracted
from ../shared/data/html_gold (about 3,900 texts; see bench/realpages.py); the reasons must be
equal after mapping datatrove's names through the filter's `datatrove_reasons`. The only
deliberate differences (languages without spaces, with `language: auto` and a language in the
metadata) are tested in the per-filter test files, never here: these documents carry no
language, except for the bad-words filter, which reads the fastText language to pick its list.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import pytest
from datatrove.data import Document

from bench.filters import datatrove_filters
from bench.realpages import default_cache_dir, load_pages
from curate.filters.c4_badwords import C4BadWords
from curate.filters.c4_quality import C4Quality
from curate.filters.fineweb_quality import FineWebQuality
from curate.filters.gopher_quality import GopherQuality
from curate.filters.gopher_repetition import GopherRepetition

pytestmark = pytest.mark.integration
pytest.importorskip("spacy", reason="datatrove's English word tokenizer needs spaCy (pip install -e '.[dev]')")

FILTERS = {"gopher_quality": GopherQuality, "gopher_repetition": GopherRepetition, "c4_quality": C4Quality,
           "fineweb_quality": FineWebQuality, "c4_badwords": C4BadWords}


def _datatrove_reasons(args) -> list[dict[str, str | None]]:
    pages, folder = args
    filters = datatrove_filters(folder)
    out = []
    for page in pages:
        row = {}
        for name, step in filters.items():
            meta = {"language": page["language"]} if name == "c4_badwords" and page.get("language") else {}
            result = step.filter(Document(text=page["text"], id=page["id"], metadata=meta))
            row[name] = None if result is True else result[1]
        out.append(row)
    return out


@pytest.fixture(scope="module")
def pages(shared, request, lid_model):
    from curate.filters.fasttext_lang import FastTextLang

    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    pages = load_pages(shared, cache.mkdir("curate-pages") if cache else default_cache_dir())
    lid = FastTextLang(model=lid_model)
    for page in pages:
        page["language"] = lid.predict(page["text"].replace("\n", " "))[0][0]
    return pages


@pytest.fixture(scope="module")
def badwords_folder(shared):
    return str(shared / "blocklists" / "ldnoobw")


@pytest.fixture(scope="module")
def reference(pages, badwords_folder):
    workers = max(1, min(os.cpu_count() or 1, 8))
    chunks = [(pages[i::workers], badwords_folder) for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(_datatrove_reasons, chunks))
    rows: list = [None] * len(pages)
    for i, part in enumerate(results):
        rows[i::workers] = part
    return rows


def test_enough_real_pages(pages):
    assert len(pages) >= 2000
    assert len({p["language"] for p in pages}) >= 5  # several languages, several page types


@pytest.mark.parametrize("name", list(FILTERS))
def test_same_decision_and_reason_as_datatrove(name, pages, reference, badwords_folder):
    cls = FILTERS[name]
    step = cls(folder=badwords_folder, fail_on_missing_language=False) if name == "c4_badwords" else cls()
    mismatches, dropped = [], 0
    for page, expected in zip(pages, reference):
        meta = {"language": page["language"]} if name == "c4_badwords" else {}
        doc = Document(text=page["text"], id=page["id"], metadata=meta)
        got = step.filter(doc)
        want = None if expected[name] is None else cls.datatrove_reasons[expected[name]]
        dropped += want is not None
        if got != want:
            mismatches.append((page["id"], want, got))
    assert not mismatches, f"{len(mismatches)} of {len(pages)} differ, e.g. {mismatches[:5]}"
    assert 0 < dropped < len(pages)  # the comparison covers both decisions
