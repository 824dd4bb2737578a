"""Benchmark: the default `extract` against the other open extractors issue 15 lists, on the held-out
split of every shared gold set: word-F1, CPU milliseconds a page, and what each would add as an eighth
candidate (the per-page oracle of `extract`'s seven candidates, with and without it).

    python -m bench.extractors            # every held-out page of WCXB dev and the four cleaning sets (1,838)
    python -m bench.extractors --quick    # every 8th held-out page: under a minute

Extractors: jusText (installed with trafilatura; its English stop list, paragraphs not marked
boilerplate), readability-lxml (`Document.summary`, text content), boilerpy3 (`ArticleExtractor`)
and inscriptis (`get_text`, the whole page as laid out). The last three are not curate dependencies:
`pip install readability-lxml boilerpy3 inscriptis` to measure them; a missing one is named and skipped.
F1 is WCXB's word-F1 (`curate.tools.evaluate_extract.word_prf`), the split `is_heldout`'s, as in
`curate eval-extract`; times are each call's process CPU time. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curate.filters.select_extract import SelectExtract, cheap_candidates  # noqa: E402
from curate.tools.evaluate_extract import is_heldout, load_sets, word_prf  # noqa: E402
from curate.tools.extract_selector_train import page_row  # noqa: E402

SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
SETS = ("html_gold/wcxb_dev/wcxb_dev.tar.xz", "html_gold/cleaning_sets/cleaning_sets.tar.xz")


def justext_text(html: str) -> str:
    import justext

    paragraphs = justext.justext(html.encode("utf-8", "replace"), justext.get_stoplist("English"))
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def readability_text(html: str) -> str:
    import lxml.html
    from readability import Document

    summary = Document(html).summary(html_partial=True)
    return lxml.html.fromstring(summary).text_content() if summary.strip() else ""


def boilerpy3_text(html: str) -> str:
    from boilerpy3 import extractors

    return extractors.ArticleExtractor(raise_on_failure=False).get_content(html) or ""


def inscriptis_text(html: str) -> str:
    from inscriptis import get_text

    return get_text(html)


PEERS = {"justext": ("justext", justext_text), "readability-lxml": ("readability", readability_text),
         "boilerpy3": ("boilerpy3", boilerpy3_text), "inscriptis": ("inscriptis", inscriptis_text)}


def available() -> dict:
    found = {}
    for name, (module, fn) in PEERS.items():
        try:
            __import__(module)
            found[name] = fn
        except ImportError:
            print(f"{name}: not installed (pip install {name}), skipped")
    return found


def measure(job: tuple[str, dict, tuple[str, ...]]) -> dict:
    """One page: `extract`'s F1, its seven candidates' F1, and each peer's F1 and CPU seconds."""
    set_name, page, peers = job
    f1 = page_row((set_name, page))["f1"]  # all but the visible lines, which the shipped line model keeps:
    f1["lines"] = word_prf(cheap_candidates(page["html"])[0]["lines"], page["gold"])[2]
    row = {"set": set_name, "candidates": max(f1.values())}
    start = time.process_time()
    text, _ = SelectExtract().extract_page(page["html"])
    row["extract"] = (word_prf(text, page["gold"])[2], time.process_time() - start)
    for name in peers:
        start = time.process_time()
        try:
            text = PEERS[name][1](page["html"])
        except Exception:  # a peer that fails on a page scores 0 there, as an empty text would
            text = ""
        row[name] = (word_prf(text, page["gold"])[2], time.process_time() - start)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every 8th held-out page")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    peers = tuple(available())
    pages = [(name, page) for path in SETS for name, ps in load_sets(SHARED / path).items()
             for page in ps if is_heldout(page["id"])]
    pages = pages[::8] if args.quick else pages
    with Pool(args.processes) as pool:
        rows = pool.map(measure, [(name, page, peers) for name, page in pages], chunksize=4)
    mean = lambda xs: round(sum(xs) / len(xs), 4)  # noqa: E731
    figures = {}
    print(f"{len(rows):,} held-out pages; F1 (ms/page); oracle of extract's seven candidates -> with each added")
    print(f"{'set':16} {'pages':>5} {'extract':>15} " + " ".join(f"{p:>17}" for p in peers) + "  oracle")
    for s in dict.fromkeys(r["set"] for r in rows):
        sub = [r for r in rows if r["set"] == s]
        fig = {name: {"f1": mean([r[name][0] for r in sub]), "ms": round(1000 * mean([r[name][1] for r in sub]), 1)}
               for name in ("extract", *peers)}
        fig["oracle"] = mean([r["candidates"] for r in sub])
        fig["oracle_with"] = {p: mean([max(r["candidates"], r[p][0]) for r in sub]) for p in peers}
        figures[s] = {"pages": len(sub), **fig}
        cells = " ".join(f"{fig[n]['f1']:>8.3f} ({fig[n]['ms']:>5.1f})" for n in ("extract", *peers))
        added = " ".join(f"{p}:{fig['oracle_with'][p]:.3f}" for p in peers)
        print(f"{s:16} {len(sub):>5} {cells}  {fig['oracle']:.3f} -> {added}")
    print(json.dumps({"pages": len(rows), "peers": list(peers), "sets": figures}))


if __name__ == "__main__":
    main()
