"""Tokenization speed on one core: `curate tokenize` vs datatrove's `DocumentTokenizer`.

Same documents (real blog posts from the Blog Authorship Corpus sample in ../shared/data), same
tokenizer (byte-level BPE trained here on a sample of them, saved as one tokenizer.json that both
load), same end-of-document token, one core (the process is pinned to CPU 0). Both are timed from
documents in memory to shuffled token files on disk: datatrove's step tokenizes, writes the
unshuffled file and copies it in shuffled order (`shuffle_documents=True`, its default); curate
tokenizes, writes a scratch file, and copies it in one global shuffled order into both datatrove
`.ds` and Megatron `.bin/.idx` shards plus documents.parquet and the manifest. The token streams
of the two are checked to hold the same multiset of tokens. Each is run three times, alternately;
the least CPU time of each counts. The last line is JSON.

    .venv/bin/python bench/tokenize_shards.py           # 20,000 posts
    .venv/bin/python bench/tokenize_shards.py --quick   # 3,000 posts, under a minute
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# One core: the tokenizers library's batch calls then run serially instead of through a thread pool
# that would only contend for the one CPU. Set before `tokenizers` is imported; applies to both.
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import numpy as np  # noqa: E402
from datatrove.data import Document  # noqa: E402
from datatrove.utils.logging import logger  # noqa: E402

from bench.determinism import blog_posts  # noqa: E402
from curate.tools.shards import TokenizeConfig, tokenize  # noqa: E402
from curate.tools.tokenizer import END_OF_TEXT, train_tokenizer  # noqa: E402

VOCAB = 16384
REPEATS = 3


def curate_run(texts: list[str], tokenizer: str, folder: str) -> Path:
    records = ({"text": t, "id": str(i), "source": "blogs", "label": None} for i, t in enumerate(texts))
    tokenize(records, TokenizeConfig(output=folder, tokenizer=tokenizer, seed=0))
    return Path(folder) / "datatrove" / "00000.ds"


def datatrove_run(texts: list[str], tokenizer: str, folder: str) -> Path:
    from datatrove.pipeline.tokens.tokenizer import DocumentTokenizer

    step = DocumentTokenizer(output_folder=folder, tokenizer_name_or_path=tokenizer, eos_token=END_OF_TEXT,
                             seed=0, shuffle_documents=True)
    step.run((Document(text=t, id=str(i), metadata={}) for i, t in enumerate(texts)), 0, 1)
    return next(Path(folder).glob("*.ds"))


def timed(fn) -> tuple[float, object]:
    """CPU seconds of this process (all its threads) for `fn()`: on one pinned core that is the
    work done, and unlike wall time it does not count the time other processes held the core."""
    start = time.process_time()
    value = fn()
    return time.process_time() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 posts (under a minute)")
    parser.add_argument("--docs", type=int, default=None)
    args = parser.parse_args()
    logger.remove()  # datatrove's INFO lines would interleave with the table
    from bench import one_core

    one_core()
    n = args.docs or (3000 if args.quick else 20000)
    texts = blog_posts(n)
    mean_kb = sum(len(t.encode()) for t in texts) / len(texts) / 1000
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = f"{tmp}/tokenizer.json"
        train_tokenizer(texts[:2000], vocab_size=VOCAB, output=tokenizer)
        print(f"{len(texts)} blog posts, mean {mean_kb:.2f} KB; byte-level BPE, vocab {VOCAB}; one core")
        curate_run(texts[:50], tokenizer, f"{tmp}/warm_c")  # imports and first-call costs out of both figures
        datatrove_run(texts[:50], tokenizer, f"{tmp}/warm_d")
        ours, theirs = float("inf"), float("inf")
        for rep in range(REPEATS):  # alternated, best of each: a shared machine's noise hits both alike
            mine, theirs_dir = f"{tmp}/curate{rep}", f"{tmp}/datatrove{rep}"
            seconds, ours_file = timed(lambda: curate_run(texts, tokenizer, mine))  # noqa: B023 (called at once)
            ours = min(ours, seconds)
            seconds, their_file = timed(lambda: datatrove_run(texts, tokenizer, theirs_dir))  # noqa: B023
            theirs = min(theirs, seconds)
        a, b = np.fromfile(ours_file, "<u2"), np.fromfile(their_file, "<u2")
        same = len(a) == len(b) and bool(np.array_equal(np.sort(a), np.sort(b)))
    rates = {"curate tokenize (datatrove + megatron shards)": len(texts) / ours,
             "datatrove DocumentTokenizer": len(texts) / theirs}
    for name, rate in rates.items():
        print(f"{name:48s} {rate:9.0f} docs/s/core")
    print(f"{len(a):,} tokens each; same tokens: {same}")
    ratio = rates["curate tokenize (datatrove + megatron shards)"] / rates["datatrove DocumentTokenizer"]
    print(json.dumps({"docs": len(texts), "tokens": int(len(a)), "same_tokens": same,
                      "curate_docs_per_s_per_core": round(len(texts) / ours),
                      "datatrove_docs_per_s_per_core": round(len(texts) / theirs),
                      "ratio_vs_datatrove": round(ratio, 2)}))


if __name__ == "__main__":
    main()
