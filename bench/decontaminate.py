"""Decontamination speed: curate's index build and check against datatrove's n-gram filter.

Run: `.venv/bin/python -m bench.decontaminate [--quick]`. Same documents, same benchmark items,
same run, process pinned to one core:

1. curate: `NGramIndex.build` over every benchmark in ../shared/data/benchmarks (timed, no cache),
   then the `decontaminate` stage's `filter` (normalise, hash, bit filter, binary search) per doc.
2. datatrove `NGramsDecontFilter` (13-grams, its own normalisation and hashing) over an index
   written with `NGramsDecontIndexer.compute_hashes` on the same item texts: the indexer's `run`
   needs lighteval and its task downloads, which cannot run offline, so its hashing is called
   directly and the `.index.hashes` files written as `run` writes them. Whitespace tokenizer (as
   bench/minhash.py; its default spaCy one is slower), and with spaCy on a subset.
3. A straightforward Python check: a set of word-13-gram tuples, every document n-gram looked up.

Documents: WCXB main texts cut into 550-word pieces (bench/corpus.py), 1 in 20 with a benchmark
item planted, so every checker must flag those. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import SHARED, documents  # noqa: E402
from bench.minhash import WhitespaceTokenizer  # noqa: E402
from curate.filters.decontaminate.filter import Decontaminate  # noqa: E402
from curate.filters.decontaminate.index import NGramIndex, words  # noqa: E402
from curate.resources import benchmarks  # noqa: E402

N = 13


def corpus(n_docs: int, items: list[str], seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    docs = documents(n_docs)
    for i in range(0, len(docs), 20):
        docs[i] = docs[i] + "\n" + rng.choice(items)
    return docs


def timed(fn, docs: list[str]) -> tuple[float, int]:
    fn(docs[:20])  # warm: imports, kernels, lazily loaded indexes
    start = time.process_time()
    flagged = fn(docs)
    return len(docs) / (time.process_time() - start), flagged


def curate_checker(index_path: str):
    step = Decontaminate(index=index_path)
    return lambda docs: sum(step.filter(_doc(t)) is not None for t in docs)


def datatrove_checker(texts: list[str], folder: str, whitespace: bool):
    from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter, NGramsDecontIndexer
    from datatrove.utils.hashing import create_hash_func
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    config = NGramsDecontConfig(n_grams=N, find_query_ngrams=True)
    tokenizer = WhitespaceTokenizer() if whitespace else load_word_tokenizer("en")
    indexer = SimpleNamespace(config=config, tokenizer=tokenizer, hash_func=create_hash_func(config.hash_config))
    hashes = set()
    for text in texts:
        hashes.update(NGramsDecontIndexer.compute_hashes(indexer, text))
    np.array(sorted(hashes), dtype=config.hash_config.np_descr).tofile(f"{folder}/all.index.hashes")
    step = NGramsDecontFilter(folder, config=config, language="en")
    step.tokenizer = tokenizer
    return lambda docs: sum(step.filter(_doc(t)) is not True for t in docs)


def python_checker(texts: list[str]):
    grams = set()
    for text in texts:
        ws = words(text)
        grams.update(tuple(ws[i:i + N]) for i in range(len(ws) - N + 1))

    def check(docs):
        flagged = 0
        for text in docs:
            ws = words(text)
            flagged += any(tuple(ws[i:i + N]) in grams for i in range(len(ws) - N + 1))
        return flagged
    return check


def _doc(text: str):
    from datatrove.data import Document

    return Document(text=text, id="x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1,000 documents, no spaCy run")
    parser.add_argument("--docs", type=int, default=4000)
    args = parser.parse_args()
    n_docs = 1000 if args.quick else args.docs
    from bench import one_core

    one_core()
    bench_dir = SHARED / "benchmarks"
    start = time.perf_counter()
    index = NGramIndex.build([bench_dir])
    build_s = time.perf_counter() - start
    items = benchmarks.items([bench_dir])
    fields = index.params["fields"]
    texts = [it.text(fields[it.format]) for it in items]
    long_items = [t for t in texts if len(t.split()) >= 40]
    docs = corpus(n_docs, long_items)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = index.save(f"{tmp}/index.npz")
        load_start = time.perf_counter()
        NGramIndex.load(path)
        load_s = time.perf_counter() - load_start
        results["curate decontaminate (stage filter)"] = timed(curate_checker(str(path)), docs)
        os.makedirs(f"{tmp}/dt")
        results["datatrove NGramsDecontFilter, whitespace tokenizer"] = timed(
            datatrove_checker(texts, f"{tmp}/dt", whitespace=True), docs)
        results["python set of 13-gram tuples"] = timed(python_checker(texts), docs)
        if not args.quick:  # spaCy-tokenizing every item takes minutes: 1 in 10, 200 documents
            os.makedirs(f"{tmp}/dt2")
            results["datatrove, spaCy tokenizer (1 in 10 items, 200 docs)"] = timed(
                datatrove_checker(texts[::10], f"{tmp}/dt2", whitespace=False), docs[:200])
    ours = results["curate decontaminate (stage filter)"][0]
    print(f"benchmarks: {index.stats['items']:,} items, {index.stats['keys']:,} keys; index built in {build_s:.1f} s, "
          f"loaded in {load_s:.2f} s; {len(docs):,} documents (550 words), 1 in 20 planted; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'checker':<52} {'docs/s/core':>12} {'flagged':>8} {'curate x':>9}")
    for name, (rate, flagged) in results.items():
        print(f"{name:<52} {rate:>12,.0f} {flagged:>8} {ours / rate:>9.2f}")
    dt = results["datatrove NGramsDecontFilter, whitespace tokenizer"][0]
    print(json.dumps({"docs": len(docs), "items": index.stats["items"], "index_build_s": round(build_s, 1),
                      "index_load_s": round(load_s, 2), "curate_docs_per_s": round(ours),
                      "datatrove_docs_per_s": round(dt), "ratio_vs_datatrove": round(ours / dt, 2),
                      "python_set_docs_per_s": round(results["python set of 13-gram tuples"][0]),
                      "flagged": {k: v[1] for k, v in results.items()},
                      "loadavg": round(os.getloadavg()[0], 1)}))


if __name__ == "__main__":
    main()
