"""MinHash signature speed on one core: curate vs datatrove vs datasketch (and rensa, numpy).

Same documents (WCXB main texts cut to ~3.5 KB), same run, one core (the process is pinned to
CPU 0), word 5-grams and 14 x 8 = 112 permutations, FineWeb's setting. curate and datatrove are
timed as whole pipeline steps (signatures computed, band files written), datatrove with a
whitespace tokenizer (the bar's denominator) and with its default spaCy one; datasketch per-shingle
updates, being slow, run on a subset. The last line is JSON with the ratios.

    .venv/bin/python bench/minhash.py           # 5,000 documents
    .venv/bin/python bench/minhash.py --quick   # 1,000 documents, under a minute
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from datatrove.data import Document  # noqa: E402
from datatrove.utils.logging import logger  # noqa: E402

from bench.corpus import documents  # noqa: E402
from curate.core.hashing import Signer, permutations, shingles  # noqa: E402
from curate.filters.minhash.signatures import MinhashSignatures  # noqa: E402

BANDS, ROWS, N = 14, 8, 5
PERM = BANDS * ROWS


def timed(fn, count: int) -> float:
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def curate_step(texts: list[str], folder: str) -> None:
    docs = (Document(text=t, id=str(i), metadata={}) for i, t in enumerate(texts))
    for _ in MinhashSignatures(folder, BANDS, ROWS, N).run(docs, 0, 1):
        pass


class WhitespaceTokenizer:
    """str.split in place of datatrove's default English tokenizer (spaCy), as the issue measured."""

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()


def datatrove_step(texts: list[str], folder: str, whitespace: bool = True) -> None:
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    step = MinhashDedupSignature(output_folder=folder, config=MinhashConfig(n_grams=N, num_buckets=BANDS,
                                                                              hashes_per_bucket=ROWS))
    if whitespace:
        step.word_tokenizer = WhitespaceTokenizer()
    docs = (Document(text=t, id=str(i), metadata={}) for i, t in enumerate(texts))
    step.run(docs, 0, 1)  # not a generator: it consumes the documents and writes its bucket files


def datasketch_per_shingle(texts: list[str]) -> None:
    from datasketch import MinHash

    for t in texts:
        m = MinHash(num_perm=PERM, seed=1)
        for s in shingles(t, N):
            m.update(s.encode())


def datasketch_batch(texts: list[str]) -> None:
    from datasketch import MinHash

    for t in texts:
        MinHash(num_perm=PERM, seed=1).update_batch([s.encode() for s in shingles(t, N)])


def numpy_xxhash(texts: list[str]) -> None:
    """The best pure numpy path: per-word xxhash, vectorised n-gram fold and permutations."""
    import xxhash

    a, b = permutations(PERM, 1)
    for t in texts:
        words = np.fromiter(map(xxhash.xxh3_64_intdigest, t.lower().encode().split()), np.uint64)
        h = np.zeros(max(1, len(words) - N + 1), np.uint64)
        for j in range(N):
            h = h * np.uint64(0x9E3779B97F4A7C15) + words[j:j + len(h)]
        hv = (h >> np.uint64(32)).astype(np.uint32)[:, None]
        np.min(hv * a + b, axis=0)


def rensa(texts: list[str]) -> None:
    from rensa import RMinHash

    for t in texts:
        m = RMinHash(num_perm=PERM, seed=1)
        m.update(shingles(t, N))
        m.digest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 documents (under a minute)")
    parser.add_argument("--docs", type=int, default=None)
    args = parser.parse_args()
    logger.remove()  # datatrove's INFO lines would interleave with the table
    from bench import one_core

    one_core()
    n = args.docs or (1000 if args.quick else 5000)
    texts = documents(n)
    subset = texts[: max(50, n // 10)]
    mean_kb = sum(len(t.encode()) for t in texts) / len(texts) / 1000
    print(f"{len(texts)} documents, mean {mean_kb:.2f} KB; word {N}-grams, {BANDS} x {ROWS} = {PERM} permutations, one core")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        # one-time start-up (numba kernels loaded or compiled, imports, writers) kept out of the
        # docs/s figures of both steps alike: a quick run would otherwise time mostly start-up
        curate_step(texts[:20], f"{tmp}/warm_curate")
        datatrove_step(texts[:20], f"{tmp}/warm_dt")
        results["curate signature step"] = timed(lambda: curate_step(texts, f"{tmp}/curate"), len(texts))
        results["curate kernel only"] = timed(lambda: Signer(PERM, N).sign(texts), len(texts))
        results["datatrove MinhashDedupSignature"] = timed(lambda: datatrove_step(texts, f"{tmp}/dt"), len(texts))
        results["datatrove, its default spaCy tokenizer"] = timed(
            lambda: datatrove_step(subset, f"{tmp}/dt2", whitespace=False), len(subset))
    results["datasketch per-shingle update"] = timed(lambda: datasketch_per_shingle(subset), len(subset))
    results["datasketch update_batch"] = timed(lambda: datasketch_batch(subset), len(subset))
    results["numpy + xxhash"] = timed(lambda: numpy_xxhash(texts), len(texts))
    try:
        results["rensa RMinHash (not datasketch-compatible)"] = timed(lambda: rensa(texts), len(texts))
    except ImportError:
        pass
    for name, rate in results.items():
        print(f"{name:45s} {rate:9.0f} docs/s")
    ours = results["curate signature step"]
    print(json.dumps({"docs": len(texts), "curate_docs_per_s": round(ours),
                      "ratio_vs_datatrove": round(ours / results["datatrove MinhashDedupSignature"], 2),
                      "ratio_vs_datasketch": round(ours / results["datasketch per-shingle update"], 2)}))


if __name__ == "__main__":
    main()
