"""Mix by label: target token shares per label, or per (source, label), instead of per source.

Llama 3 set its web mix by the domains its classifiers gave each document, and annealed on a
small mix of the highest-rated data; WebOrganizer (Wettig et al. 2025) showed mixing by topic and
format adds to quality filtering. With `by:` a mix file names a label column of its sources (one
that `classify` recorded, `topic__label`, or any field of JSONL/Parquet records) and `shares:`
maps labels to token shares. A key is `label` (that label from every source, pooled),
`source/label`, `source/*` (the rest of that source) or `*` (every document no other key takes);
the most specific key takes a document, and documents no key names are left out.

Each key becomes a group that the ordinary planner treats as a source: the same epoch cap
(`max_epochs`, per group), the same `on_shortfall` (fail, or renormalise naming the capped group)
and the same selection, so the manifest reports requested and achieved shares per label.

`top: {column: quality__value, percent: 10, label: top_rated}` first gives the documents in the
top 10% of a score (over every source; ties can add a few) a label of their own, as the annealing
mix takes "the top-rated decile plus chosen topics".

`rehydrate: true` weights each document by FineWeb-2's rehydration weight of its MinHash cluster
size (`minhash__cluster_size`; `curate.tools.rehydrate.rehydration_weight`): a document of weight
w counts w times in its group's pool (floor(w) copies, plus one more with probability w - floor(w),
seeded), so one epoch of the group is one pass over the rehydrated pool.
"""

from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np
import pyarrow as pa

from curate.tools.mix_sources import MixError, Source, SourceConfig

CLUSTER_SIZE = "minhash__cluster_size"
TOP_KEYS = {"column", "percent", "label"}


def check(by: str | None, shares: dict | None, top: dict | None, sources: list[SourceConfig]) -> None:
    """Mix-file errors in the by-label keys, named."""
    if by is None:
        if shares or top:
            raise MixError("`shares:` and `top:` need `by:` (the label column)")
        return
    if not isinstance(shares, dict) or not shares:
        raise MixError("`by:` needs `shares:`, a mapping of label (or source/label, source/*, *) to token share")
    names = {s.name for s in sources}
    for key, share in shares.items():
        source, slash, _ = str(key).partition("/")
        if slash and source not in names:
            raise MixError(f"shares: {key!r} names no source; sources: {sorted(names)}")
        if not isinstance(share, (int, float)) or share <= 0:
            raise MixError(f"shares: {key!r} must be a positive number, got {share!r}")
    if top is not None and (not isinstance(top, dict) or set(top) != TOP_KEYS or not 0 < top["percent"] <= 100):
        raise MixError(f"top: expected {{column: ..., percent: (0, 100], label: ...}}, got {top!r}")


def fields(by: str, top: dict | None, rehydrate: bool) -> list[str]:
    """The record fields a labelled source reads besides text and id."""
    return [by] + ([top["column"]] if top else []) + ([CLUSTER_SIZE] if rehydrate else [])


def label_of(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):  # top_labels: the first
        return label_of(value[0]) if value else "none"
    return str(value)


def groups(sources: list[Source], by: str, shares: dict, top: dict | None, rehydrate: bool, seed: int) -> list[Source]:
    """One `Source` per `shares` key, holding the documents that key takes (see the module docstring)."""
    labels = [np.asarray([label_of(v) for v in s.extra[by]], dtype=object) for s in sources]
    if top:
        _mark_top(sources, labels, top)
    keys = {str(k): float(v) for k, v in shares.items()}
    members: dict[str, list[tuple[int, np.ndarray]]] = {k: [] for k in keys}
    for n, (source, lab) in enumerate(zip(sources, labels)):
        name = source.config.name
        for i, label in enumerate(lab):
            key = next((k for k in (f"{name}/{label}", label, f"{name}/*", "*") if k in keys), None)
            if key is not None:
                members[key].append((n, i))
    out = []
    for key, share in keys.items():
        picked = members[key]
        if not picked:
            raise MixError(f"shares: no document has {key!r} (column {by!r}); labels present: "
                           f"{sorted({x for lab in labels for x in lab})[:20]}")
        src = np.asarray([n for n, _ in picked])
        doc = np.asarray([i for _, i in picked])
        if rehydrate:
            src, doc = _rehydrate(sources, src, doc, np.random.default_rng([seed, zlib.crc32(key.encode()), 3]))
        max_epochs = min(sources[n].config.max_epochs for n in set(src.tolist()))  # the strictest cap among them
        out.append(_group(key, share, sources, labels, src, doc, max_epochs))
    return out


def _mark_top(sources: list[Source], labels: list[np.ndarray], top: dict) -> None:
    values = [np.asarray([np.nan if v is None else float(v) for v in s.extra[top["column"]]]) for s in sources]
    pooled = np.concatenate(values)
    if np.isnan(pooled).all():
        raise MixError(f"top: no document has a value in {top['column']!r}")
    cut = np.nanpercentile(pooled, 100 - top["percent"])
    for lab, vals in zip(labels, values):
        lab[np.nan_to_num(vals, nan=-np.inf) >= cut] = str(top["label"])


def _rehydrate(sources, src: np.ndarray, doc: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Each member repeated by its rehydration weight (stochastic rounding); a document without a
    cluster size (no MinHash stage) has weight 1."""
    try:
        from curate.tools.rehydrate import rehydration_weight
    except ImportError as error:
        raise MixError("rehydrate: true needs curate.tools.rehydrate (rehydration_weight), "
                       f"which is not installed here: {error}") from None
    sizes = [sources[n].extra.get(CLUSTER_SIZE) for n in src]
    weights = np.asarray([1.0 if s is None or s[i] is None else float(rehydration_weight(int(s[i])))
                          for s, i in zip(sizes, doc)])
    copies = np.floor(weights).astype(np.int64) + (rng.random(len(weights)) < weights - np.floor(weights))
    return np.repeat(src, copies), np.repeat(doc, copies)


def _group(key: str, share: float, sources: list[Source], labels, src: np.ndarray, doc: np.ndarray,
           max_epochs: float) -> Source:
    offsets = np.cumsum([0] + [len(s.texts) for s in sources])[src] + doc
    take = pa.array(offsets, pa.int64())
    texts = pa.chunked_array([s.texts for s in sources]).take(take).combine_chunks()
    ids = pa.chunked_array([s.ids for s in sources]).take(take).combine_chunks()
    origin = pa.array(np.asarray([s.config.name for s in sources], dtype=object)[src], pa.string())
    label = pa.array(np.concatenate(labels)[offsets] if len(offsets) else [], pa.string())
    files = sorted({f for n in set(src.tolist()) for f in sources[n].files})
    config = SourceConfig(name=key, paths=[p for s in sources for p in s.config.paths], share=share,
                          max_epochs=max_epochs)
    tokens = np.concatenate([s.tokens for s in sources])[offsets]
    return replace(sources[0], config=config, files=files, texts=texts, ids=ids, tokens=tokens, origin=origin,
                   label=label, skipped_corrupt=0, skipped_empty=0, first_corrupt=None, extra={})
