"""Benchmark: curate's five heuristic filters against datatrove's, on the same real pages, one core.

    python -m bench.filters            # all ~3,900 pages of ../shared/data/html_gold (extracted once, cached)
    python -m bench.filters --quick    # 400 WCXB main texts, no extraction: under a minute

Each document goes through gopher_quality, gopher_repetition, c4_quality, fineweb_quality and
c4_badwords, first datatrove's classes (a fresh Document per filter, since C4QualityFilter
rewrites the text; C4 last, so the others share datatrove's cached word split) and then curate's
(one Document, whose text features all five share). Both get the same warm-up. Times are
process CPU seconds, so the figures are per core. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
import time
from pathlib import Path

from datatrove.data import Document

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.realpages import default_cache_dir, load_pages  # noqa: E402
from curate.filters.c4_badwords import C4BadWords  # noqa: E402
from curate.filters.c4_quality import C4Quality  # noqa: E402
from curate.filters.fineweb_quality import FineWebQuality  # noqa: E402
from curate.filters.gopher_quality import GopherQuality  # noqa: E402
from curate.filters.gopher_repetition import GopherRepetition  # noqa: E402


def gold_texts(shared: Path, limit: int) -> list[str]:
    texts = []
    with tarfile.open(shared / "html_gold/wcxb_dev/wcxb_dev.tar.xz") as tar:
        for member in tar:
            if "/ground-truth/" in member.name and member.isfile():
                text = (json.loads(tar.extractfile(member).read()).get("ground_truth") or {}).get("main_content")
                if text:
                    texts.append(text)
                if len(texts) >= limit:
                    break
    return texts


def datatrove_filters(badwords_folder: str) -> dict:
    """datatrove's five filters with their default parameters, reading the LDNOOBW lists from a folder."""
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        c4_filters,
    )

    # datatrove downloads the LDNOOBW lists; point it at the same local files curate reads
    c4_filters.cached_asset_path_or_download = lambda url, **_: os.path.join(badwords_folder, url.rsplit("/", 1)[1])
    # C4 last: its per-line sentence splits evict the word split the others share (lru_cache(5))
    return {"gopher_quality": GopherQualityFilter(), "gopher_repetition": GopherRepetitionFilter(),
            "fineweb_quality": FineWebQualityFilter(),
            "c4_badwords": c4_filters.C4BadWordsFilter(fail_on_missing_language=False),
            "c4_quality": C4QualityFilter()}


def run_datatrove(texts, folder):
    steps = list(datatrove_filters(folder).items())
    steps.append(steps.pop([n for n, _ in steps].index("c4_quality")))
    per = dict.fromkeys((n for n, _ in steps), 0.0)
    start = time.process_time()
    for i, text in enumerate(texts):
        for name, step in steps:
            t = time.process_time()
            step.filter(Document(text=text, id=str(i)))
            per[name] += time.process_time() - t
    return time.process_time() - start, per


def run_curate(texts, folder):
    steps = {"gopher_quality": GopherQuality(), "gopher_repetition": GopherRepetition(), "c4_quality": C4Quality(),
             "fineweb_quality": FineWebQuality(), "c4_badwords": C4BadWords(folder=folder)}
    per = dict.fromkeys(steps, 0.0)
    start = time.process_time()
    for i, text in enumerate(texts):
        doc = Document(text=text, id=str(i))
        for name, step in steps.items():
            t = time.process_time()
            step.filter(doc)
            per[name] += time.process_time() - t
    return time.process_time() - start, per


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 WCXB main texts, no HTML extraction")
    parser.add_argument("--shared", default=os.environ.get("CURATE_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    args = parser.parse_args(argv)
    shared = Path(args.shared)
    folder = str(shared / "blocklists" / "ldnoobw")
    if args.quick:
        texts = gold_texts(shared, 400)
    else:
        texts = [p["text"] for p in load_pages(shared, default_cache_dir())]
    warm = texts[:20]
    run_datatrove(warm, folder)
    run_curate(warm, folder)
    dt_total, dt_per = run_datatrove(texts, folder)
    cu_total, cu_per = run_curate(texts, folder)
    chars = sum(map(len, texts))
    for name in cu_per:
        print(f"{name:18s} datatrove {dt_per[name]:8.2f} s   curate {cu_per[name]:7.2f} s   "
              f"x{dt_per[name] / max(cu_per[name], 1e-9):.1f}")
    result = {"docs": len(texts), "chars": chars, "datatrove_docs_per_s": round(len(texts) / dt_total, 1),
              "curate_docs_per_s": round(len(texts) / cu_total, 1), "ratio_vs_datatrove": round(dt_total / cu_total, 2),
              "quick": args.quick}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
