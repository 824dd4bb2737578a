"""paragraph_dedup on one core: docs/s against datatrove's sentence dedup, and peak memory against run size.

Speed: the same documents (blog posts from the Blog Authorship Corpus sample, 1-4 posts a
document, one post a line, with 50 other posts planted as boilerplate in 2 to 500 documents, as in
tests/test_paragraph_dedup.py) go through curate's three passes (key records, first of each group,
the stage) and through datatrove's three (`SentenceDedupSignature`, `SentenceFindDedups`,
`SentenceDedupFilter`), each as pipeline steps in this process, pinned to one core, documents
built afresh for each pass alike, imports and models loaded before the clock starts. datatrove runs
three ways: its default (`SentDedupConfig()`: spans of 3 sentences split by its spaCy English
tokenizer), lines as units (`split_sentences=False, n_sentences=1`, the closest to curate's
`unit: line`), and lines without the spaCy word and sentence counts its filter runs on every
document it changed (`min_doc_words=0, min_num_sentences=0`); the bar (>= 3x) is against the fastest.
The two configurations that run spaCy are timed on a fifth of the documents (at least 100).

Memory: for each size in `--scale` (paragraphs), a fresh Python process runs the three passes over
generated documents of 5 paragraphs (real blog lines made unique by a suffix, 2% drawn from 50
boilerplate lines) with one task and reports its peak RSS (VmHWM). The passes hold at most
`--buffer-records` records (the stages' default, 2^20: 24 bytes each, about 100 bytes at the peak
with the per-document arrays and the sort's copies) whatever the run's size; the bar is every size
within 15% of the smallest's peak. `--quick` holds 2^16, so that its smaller size spills too.

    .venv/bin/python bench/paragraph_dedup.py            # 5,000 documents; 1M and 10M paragraphs
    .venv/bin/python bench/paragraph_dedup.py --quick    # 1,000 documents; 100k and 1M paragraphs, under a minute
    .venv/bin/python bench/paragraph_dedup.py --scale 1000000,10000000 --docs 0   # memory only
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datatrove.data import Document  # noqa: E402
from datatrove.utils.logging import logger  # noqa: E402

from bench.determinism import blog_posts  # noqa: E402
from curate.filters.keyed_dedup.passes import KeepFirst, KeyRecords  # noqa: E402
from curate.filters.paragraph_dedup import ParagraphDedup  # noqa: E402

TOLERANCE = 0.15


def planted_documents(n: int, seed: int = 18) -> list[str]:
    """`n` documents of 1-4 blog posts (a line each), 50 further posts planted in 2 to 500 of them."""
    rnd = random.Random(seed)
    posts = blog_posts(int(n * 2.5) + 2000, min_words=13)
    docs, i = [], 0
    while len(docs) < n and i < len(posts) - 2000:
        k = rnd.randint(1, 4)
        docs.append(posts[i:i + k])
        i += k
    boiler = [" ".join(p.split()[:60]) for p in posts[-2000:] if len(p.split()) >= 20][:50]
    for j, paragraph in enumerate(boiler):
        for d in rnd.sample(range(len(docs)), min(len(docs), round(2 * 250 ** (j / 49)))):
            docs[d].insert(rnd.randint(0, len(docs[d])), paragraph)
    return ["\n".join(doc) for doc in docs]


def curate_passes(make_docs, work: str, buffer_records: int = 1 << 20) -> int:
    """Run the three passes over `make_docs()` (called once per pass reading documents); units removed."""
    stage = ParagraphDedup(work_dir=work, buffer_records=buffer_records)
    for _ in KeyRecords(stage, buffer_records).run(make_docs(), 0, 1):
        pass
    for _ in KeepFirst(work, stage.record_fields, stage.min_group, buffer_records).run(None, 0, 1):
        pass
    return sum(doc.metadata["paragraph_dedup__n_removed"] for doc in stage.run(make_docs(), 0, 1))


def datatrove_passes(make_docs, work: str, config) -> int:
    from datatrove.pipeline.dedup.sentence_dedup import SentenceDedupFilter, SentenceDedupSignature, SentenceFindDedups

    SentenceDedupSignature(f"{work}/sigs", config=config).run(make_docs(), 0, 1)
    SentenceFindDedups(f"{work}/sigs", f"{work}/dups", config=config).run(None, 0, 1)
    return sum(1 for _ in SentenceDedupFilter(f"{work}/dups", config=config).run(make_docs(), 0, 1))


def speed(texts: list[str]) -> dict:
    from datatrove.pipeline.dedup.sentence_dedup import SentDedupConfig

    def make_docs():
        return (Document(text=t, id=f"d{i}", metadata={}) for i, t in enumerate(texts))

    configs = {"datatrove sentence dedup (default: 3-sentence spans)": SentDedupConfig(),
               "datatrove sentence dedup (lines, n_sentences=1)": SentDedupConfig(split_sentences=False, n_sentences=1),
               "datatrove, lines, no spaCy re-checks": SentDedupConfig(split_sentences=False, n_sentences=1,
                                                                       min_doc_words=0, min_num_sentences=0)}
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        def warm():
            return (Document(text=t, id=str(i), metadata={}) for i, t in enumerate(texts[:50]))

        curate_passes(warm, f"{tmp}/warm")  # imports, spaCy's model and first calls kept out of the figures
        datatrove_passes(warm, f"{tmp}/warm_dt", SentDedupConfig())
        start = time.perf_counter()
        removed = curate_passes(make_docs, f"{tmp}/curate")
        rates["curate paragraph_dedup (unit: line)"] = len(texts) / (time.perf_counter() - start)
        for k, (name, config) in enumerate(configs.items()):
            some = texts if config.min_doc_words == 0 else texts[: max(100, len(texts) // 5)]  # spaCy: slow

            def make_some(some=some):
                return (Document(text=t, id=f"d{i}", metadata={}) for i, t in enumerate(some))

            start = time.perf_counter()
            datatrove_passes(make_some, f"{tmp}/dt{k}", config)
            rates[name] = len(some) / (time.perf_counter() - start)
    for name, rate in rates.items():
        print(f"{name:55s} {rate:9.0f} docs/s")
    ours, theirs = rates["curate paragraph_dedup (unit: line)"], max(v for k, v in rates.items() if "datatrove" in k)
    return {"docs": len(texts), "units_removed": removed, "curate_docs_per_s": round(ours),
            "datatrove_docs_per_s": {k: round(v, 1) for k, v in rates.items() if "datatrove" in k},
            "ratio_vs_datatrove": round(ours / theirs, 1), "speed_bar_met": ours >= 3 * theirs}


def generated(paragraphs: int, seed: int = 0):
    """Documents of 5 paragraphs: real blog lines made unique, 2% from 50 boilerplate lines (lazy)."""
    pool = [" ".join(p.split()[:40]) for p in blog_posts(5000, min_words=13)]
    boiler, lines = pool[:50], pool[50:]
    rnd = random.Random(seed)
    for d in range(paragraphs // 5):
        units = [rnd.choice(boiler) if rnd.random() < 0.02 else f"{rnd.choice(lines)} ({d}.{j})" for j in range(5)]
        yield Document(text="\n".join(units), id=f"g{d}", metadata={})


def child(paragraphs: int, buffer_records: int) -> None:
    """Run the passes over `paragraphs` generated paragraphs; print peak RSS and time as JSON."""
    logger.remove()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        removed = curate_passes(lambda: generated(paragraphs), tmp, buffer_records)
        seconds = time.perf_counter() - start
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(json.dumps({"paragraphs": paragraphs, "peak_rss_mb": round(peak / 1024, 1), "seconds": round(seconds, 1),
                      "units_removed": removed}))


def memory(sizes: list[int], buffer_records: int) -> dict:
    results = []
    for size in sizes:
        out = subprocess.run([sys.executable, __file__, "--child", str(size), "--buffer-records", str(buffer_records)],
                             capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{size:>11,} paragraphs: peak RSS {results[-1]['peak_rss_mb']:7.1f} MB in {results[-1]['seconds']:6.1f} s")
    base = results[0]["peak_rss_mb"]
    growth = max(r["peak_rss_mb"] for r in results) / base - 1
    return {"buffer_records": buffer_records, "memory": results, "peak_rss_growth": round(growth, 3),
            "memory_bar_met": growth <= TOLERANCE}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 documents; 100k and 1M paragraphs (under a minute)")
    parser.add_argument("--docs", type=int, default=None, help="documents for the speed figures (0: skip)")
    parser.add_argument("--scale", default=None, help="paragraph counts for the memory figures, comma-separated")
    parser.add_argument("--buffer-records", type=int, default=None,
                        help="records a pass holds (default: the stages' 2^20; --quick: 2^16, below its smaller size)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from bench import one_core

    one_core()
    if args.child is not None:
        return child(args.child, args.buffer_records or 1 << 20)
    logger.remove()
    figures = {}
    n = args.docs if args.docs is not None else (1000 if args.quick else 5000)
    if n:
        figures.update(speed(planted_documents(n)))
    scale = args.scale if args.scale is not None else ("100000,1000000" if args.quick else "1000000,10000000")
    sizes = [int(s) for s in scale.split(",") if s]
    if sizes:
        figures.update(memory(sizes, args.buffer_records or (1 << 16 if args.quick else 1 << 20)))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
