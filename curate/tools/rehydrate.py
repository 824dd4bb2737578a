"""FineWeb-2's "rehydration": upsample each kept document by the size of its MinHash cluster.

MinHash dedup keeps one document per cluster of near-duplicates and records the cluster's size on
it (`minhash__cluster_size`: 1 for a document with no duplicate, filters/minhash/filter.py).
FineWeb-2 found that repeating a kept document by a weight that grows with its cluster size, then
falls back to 1 for huge clusters (assumed low quality: boilerplate, spam), helps, "particularly
[for] high resource" languages. The weights are the table of FineWeb-2's README, section
"Deduplication" (huggingface/fineweb-2, README.md, "We did not extensively explore different
upsampling weights, but observed promising results with the following weights"), and its
`Rehydrater` block, `upsampling_weights = {1: 1, 2: 2, 3: 3, 5: 5, 100: 8, 1000: 1}` looked up with
`bisect_right(limits, size) - 1`:

    cluster size N   | copies in the final dataset
    1                | 1
    2, 3             | N
    4                | 3
    5 <= N < 100     | 5
    100 <= N < 1000  | 8
    N >= 1000        | 1

Use from a mix: `weight = rehydration_weight(cluster_size)`, or over a column of sizes
`rehydration_weights(sizes)`; `rehydrated_tokens` gives the token count the weights produce.
"""

from __future__ import annotations

import bisect

import numpy as np

# lower bound of each cluster-size range -> copies (FineWeb-2 README, "Deduplication")
FINEWEB2_WEIGHTS: dict[int, int] = {1: 1, 2: 2, 3: 3, 5: 5, 100: 8, 1000: 1}
_LIMITS = sorted(FINEWEB2_WEIGHTS)


def rehydration_weight(cluster_size: int | None, weights: dict[int, int] | None = None) -> int:
    """How many times a kept document of a cluster of `cluster_size` documents is repeated. None
    (a document no MinHash stage saw) counts as a cluster of one. `weights`: another table of
    the same shape (lower bound of each size range -> copies), FineWeb-2's by default."""
    size = 1 if cluster_size is None else int(cluster_size)
    if size < 1:
        raise ValueError(f"a cluster has at least one document, got cluster_size={cluster_size}")
    table = FINEWEB2_WEIGHTS if weights is None else weights
    limits = _LIMITS if weights is None else sorted(table)
    at = bisect.bisect_right(limits, size) - 1
    if at < 0:
        raise ValueError(f"the weights start at cluster size {limits[0]}, got {size}")
    return table[limits[at]]


def rehydration_weights(cluster_sizes, weights: dict[int, int] | None = None) -> np.ndarray:
    """`rehydration_weight` over an array of cluster sizes (nulls as NaN or None count as 1)."""
    sizes = np.asarray([1 if s is None else s for s in cluster_sizes], dtype=float)
    sizes = np.where(np.isnan(sizes), 1, sizes).astype(np.int64)
    if len(sizes) and sizes.min() < 1:
        raise ValueError(f"a cluster has at least one document, got cluster_size={int(sizes.min())}")
    table = FINEWEB2_WEIGHTS if weights is None else weights
    limits = np.array(sorted(table))
    at = np.searchsorted(limits, sizes, side="right") - 1
    if len(at) and at.min() < 0:
        raise ValueError(f"the weights start at cluster size {int(limits[0])}, got {int(sizes.min())}")
    return np.array([table[int(k)] for k in limits], dtype=np.int64)[at]


def rehydrated_tokens(tokens, cluster_sizes, weights: dict[int, int] | None = None) -> int:
    """Tokens of the kept documents once each is repeated by its rehydration weight."""
    return int((np.asarray(tokens, dtype=np.int64) * rehydration_weights(cluster_sizes, weights)).sum())
