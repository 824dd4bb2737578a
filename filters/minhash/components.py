"""Connected components of an edge list on disk, in memory bounded by `max_records`.

The alternating large-star / small-star rounds of Kiveris et al. 2014, "Connected Components in
MapReduce and Beyond" (SoCC '14): each round groups the edges by node with an external sort
(extsort.py) and rewires each node's neighbourhood to its smallest member; O(log^2 n) rounds turn
every component into a star whose centre is its smallest node. Every round streams sorted
(u, v) records (both directions of each edge), so a node's smallest neighbour is its first
record, and a group's state (its node and smallest neighbour) is carried across blocks.
"""

from __future__ import annotations

import numpy as np

from curate.filters.minhash.extsort import merged, records, spill_runs

PAIR = records("u", "v")


def both_ways(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    out = np.empty(2 * len(u), PAIR)
    out["u"], out["v"] = np.concatenate([u, v]), np.concatenate([v, u])
    return out


def _grouped(blocks):
    """Per sorted block of directed edges (duplicates and self-loops removed): u, v, whether the
    record starts its node's group, and the node's smallest neighbour (its group's first v)."""
    prev = cur_first = None
    for block in blocks:
        u, v = block["u"], block["v"]
        keep = u != v
        keep[1:] &= (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        if prev is not None and len(u):
            keep[0] &= (u[0], v[0]) != prev
        if len(u):
            prev = (u[-1], v[-1])
        u, v = u[keep], v[keep]
        if not len(u):
            continue
        start = np.r_[True, u[1:] != u[:-1]]
        continues = cur_first is not None and u[0] == cur_first[0]
        start[0] = not continues
        at = np.maximum.accumulate(np.where(start, np.arange(len(u)), 0))
        first = v[at]
        if continues:
            first[: np.argmax(start) if start.any() else len(u)] = cur_first[1]
        cur_first = (u[-1], first[-1])
        yield u, v, start, first


def _large_star(blocks, unsettled: list[int]):
    """Link every larger neighbour of u to the smallest of u's closed neighbourhood. Counts the
    nodes with a smaller neighbour and more than one neighbour: none means every component was
    already a star centred at its minimum (and the output equals the input)."""
    for u, v, start, first in _grouped(blocks):
        unsettled[0] += int(((~start) & (first < u)).sum())
        m = np.minimum(u, first)
        big = v > u
        yield both_ways(v[big], m[big])


def _small_star(blocks):
    """Link u and its smaller neighbours to the smallest of them."""
    for u, v, start, first in _grouped(blocks):
        m = np.minimum(u, first)
        small = (v < u) & (v != m)
        linked = start & (m < u)
        yield both_ways(np.concatenate([v[small], u[linked]]), np.concatenate([m[small], m[linked]]))


def components(folder, prefix: str, edges, max_records: int):
    """Yield sorted blocks of (node, root) for every node of the graph whose edges are the (a, b)
    uint64 pairs of the blocks `edges`; a component's root is its smallest node. Scratch files
    go under `prefix` and are removed."""
    def sort(blocks, name):
        return merged(folder, spill_runs(folder, f"{prefix}/{name}", blocks, PAIR, max_records), PAIR, max_records)

    current = sort((both_ways(e["a"], e["b"]) for e in edges), "in")
    for round_no in range(1 << 20):
        unsettled = [0]
        stars = sort(_large_star(current, unsettled), f"{round_no}l")  # the whole round has run
        if not unsettled[0]:
            break
        current = sort(_small_star(stars), f"{round_no}s")
    for u, _v, start, first in _grouped(stars):  # a star: the centre's neighbours are larger
        out = np.empty(int(start.sum()), PAIR)
        out["u"], out["v"] = u[start], np.minimum(u, first)[start]
        yield out
