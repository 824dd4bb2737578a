"""Remove training documents that overlap the evaluation data, before any tokens are sampled.

Two checks, both on normalised word 13-grams (GPT-3's and NeMo Curator's n):
- benchmarks: curate's decontamination index (`curate.filters.decontaminate.index.NGramIndex`, built once over the
  benchmark files the ablation evaluates on and cached), so a training document that contains any
  benchmark item's 13-gram is dropped;
- held-out text: a document sharing a 13-gram with the held-out documents is dropped too, so the
  held-out loss measures text no variant trained on (whole documents are dropped, not spans: an
  ablation only needs clean comparisons, not every last token).

Example:
    kept, report = decontaminate(docs, ["../shared/data/benchmarks/llm_foundry_icl/piqa.jsonl"], heldout_docs)
"""

from __future__ import annotations

import numpy as np

from curate.core.hashing import ngram_hashes, word_hashes
from curate.core.text import words
from curate.filters.decontaminate.index import NGramIndex, cached_index

N = 13


def _ngrams(text: str) -> np.ndarray:
    """The keys of `text`'s word N-grams, as the decontamination index computes them."""
    units = word_hashes(words(text))
    return ngram_hashes(units, N) if len(units) >= N else np.empty(0, np.uint64)


def decontaminate(docs: list[str], benchmark_files: list, heldout: list[str],
                  cache_dir=None) -> tuple[list[str], dict]:
    """(documents kept, {"benchmark": dropped, "heldout": dropped, "by_benchmark": {name: dropped}})."""
    index = NGramIndex.load(cached_index(benchmark_files, cache_dir)) if benchmark_files else None
    held = np.unique(np.concatenate([_ngrams(t) for t in heldout] or [np.empty(0, np.uint64)]))
    heldout_texts = set(heldout)
    kept, report = [], {"benchmark": 0, "heldout": 0, "by_benchmark": {}}
    for doc in docs:
        if doc in heldout_texts or np.isin(_ngrams(doc), held).any():
            report["heldout"] += 1
            continue
        match = index.find(doc) if index is not None else None
        if match is not None:
            name = index.benchmark_names[index.item_benchmark[match.best()]]
            report["benchmark"] += 1
            report["by_benchmark"][name] = report["by_benchmark"].get(name, 0) + 1
            continue
        kept.append(doc)
    return kept, report
