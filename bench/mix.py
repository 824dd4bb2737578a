"""Benchmark: token counting for `curate mix`, against datatrove's TokensCounter and a plain loop, one core.

    python -m bench.mix            # WikiText-2, three Gutenberg books (4,000-character chunks), GSM8K train
    python -m bench.mix --quick    # a quarter of those documents: well under a minute

All three count the same texts with the same byte-level BPE tokenizer (trained here on a seeded
sample, vocab 8192, saved to a temp file that TokensCounter loads): curate's `count_tokens`
(`encode_batch_fast` in batches of 4,096, no offsets), datatrove's `TokensCounter` (Documents,
`encode_batch` in batches of 10,000), and `len(tokenizer.encode(text).ids)` per text; each with its
own tokenizer instance (BPE caches words), a warm-up, best of two runs. Parallelism
of the Rust side is off (TOKENIZERS_PARALLELISM=false), so the figures are per core; times are
process CPU seconds. The counts must agree. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # before tokenizers is imported: one core

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curate.tools.tokenizer import count_tokens, load_tokenizer, train_tokenizer  # noqa: E402


def corpus(shared: Path) -> list[str]:
    texts = []
    for part in ("test", "valid"):
        text = (shared / "clean_text/wikitext-2" / f"{part}.txt").read_text(encoding="utf-8")
        texts += [a for a in re.split(r"\n(?= = [^=].* = \n)", text) if a.strip()]
    for book in sorted((shared / "clean_text/gutenberg").glob("pg*.txt")):
        body = book.read_text(encoding="utf-8", errors="replace")
        texts += [body[i:i + 4000] for i in range(0, len(body), 4000)]
    with open(shared / "benchmarks/gsm8k/train.jsonl") as f:
        texts += [(r := json.loads(line))["question"] + "\n" + r["answer"] for line in f]
    return texts


def timed(fn):
    start = time.process_time()
    result = fn()
    return result, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--shared", default=os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    texts = corpus(Path(args.shared))
    if args.quick:
        texts = texts[::4]
    tokenizer = train_tokenizer(texts[::10], vocab_size=8192)
    path = Path(tempfile.mkdtemp()) / "tokenizer.json"
    tokenizer.save(str(path))

    from datatrove.data import Document
    from datatrove.pipeline.tokens.counter import TokensCounter

    # each counter gets its own tokenizer instance (BPE caches words), the same warm-up, best of two runs
    ours_tok, loop_tok, counter = load_tokenizer(path), load_tokenizer(path), TokensCounter(str(path))
    runs = {
        "curate": lambda t: count_tokens(ours_tok, t),
        "datatrove": lambda t: [d.metadata["token_count"]
                                for d in counter.run(Document(text=x, id=str(i)) for i, x in enumerate(t))],
        "loop": lambda t: [len(loop_tok.encode(x, add_special_tokens=False).ids) for x in t],
    }
    counts, seconds = {}, {}
    for name, run in runs.items():
        run(texts[:100])
        first, second = timed(lambda: run(texts)), timed(lambda: run(texts))  # noqa: B023 (called at once)
        counts[name], seconds[name] = first[0], min(first[1], second[1])
    ours, theirs, loop = counts["curate"], counts["datatrove"], counts["loop"]
    ours_s, dt_s, loop_s = seconds["curate"], seconds["datatrove"], seconds["loop"]
    assert ours == theirs == loop, "token counts differ"

    tokens = sum(ours)
    load = os.getloadavg()
    print(f"{len(texts):,} documents, {tokens:,} tokens, {sum(map(len, texts)) / 1e6:.1f} M characters; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    rows = [("curate count_tokens", ours_s), ("datatrove TokensCounter", dt_s), ("loop over encode", loop_s)]
    print(f"{'counter':<24}  {'cpu s':>7}  {'docs/s/core':>11}  {'Mtok/s/core':>11}  {'vs curate':>9}")
    for name, seconds in rows:
        print(f"{name:<24}  {seconds:7.2f}  {len(texts) / seconds:11,.0f}  {tokens / seconds / 1e6:11.2f}  "
              f"{seconds / ours_s:8.2f}x")
    print(json.dumps({"bench": "mix_token_count", "quick": args.quick, "documents": len(texts), "tokens": tokens,
                      "curate_s": round(ours_s, 3), "datatrove_s": round(dt_s, 3), "loop_s": round(loop_s, 3),
                      "curate_tokens_per_s": round(tokens / ours_s), "datatrove_over_curate": round(dt_s / ours_s, 2),
                      "loop_over_curate": round(loop_s / ours_s, 2), "loadavg": [round(x, 2) for x in load]}))


if __name__ == "__main__":
    main()
