"""Mix sources into a training set by token shares: `curate mix MIX.yaml`.

Every model report in this field describes its data as token shares per source (web
down-weighted, books, math and code up-weighted, some sources repeated for a few epochs). A mix
file names the sources, a share (or a target token count) for each, a total token budget, a cap
on how often a source may be repeated, and a seed; `mix` counts each document's tokens with a
tokenizer (a local tokenizer.json, a built-in, or one trained here on a sample of the sources),
picks documents, shuffles them and writes Parquet shards plus a manifest.

How documents are picked: a source whose target is k.f times its size contributes k full epochs
(every document k times) and a partial epoch: documents in seeded random order, each taken while
it fits in the remaining tokens, then a few swaps (or additions), each the one that brings the
partial epoch closest to its target. Shares so land within a fraction of one document of the request; the
manifest reports requested and achieved shares side by side.

The epoch cap (`max_epochs`, default 4: Muennighoff et al. 2023, "Scaling Data-Constrained
Language Models", find up to ~4 epochs of repeated data about as good as fresh data) bounds the
tokens a source can give: max_epochs x its tokens. When a target exceeds it, `on_shortfall: fail`
(the default) stops with the numbers; `renormalise` takes the capped source at its cap and gives
the shortfall to the uncapped share sources in proportion to their shares.

Everything is in memory (Arrow), and deterministic: the same mix file and seed give
byte-identical shards and manifest.

Example (MIX.yaml):
    output: out/mix
    seed: 0
    budget: 200000            # tokens in the mix; omit: the largest that the epoch caps allow
    tokenizer: {train: {vocab_size: 8192}}   # or bytes | whitespace | path/to/tokenizer.json
    sources:
      web: {path: out/demo, share: 0.6}                  # a curate run folder: its documents/
      math: {path: gsm8k/train.jsonl, text_field: [question, answer], share: 0.4, max_epochs: 8}
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.core.config import RecipeError, load_yaml
from curate.io.documents import file_sha256
from curate.io.writers import ROW_GROUP
from curate.tools import mix_labels
from curate.tools.mix_sources import DEFAULT_MAX_EPOCHS, MixError, Source, SourceConfig, read_source
from curate.tools.tokenizer import count_tokens, load_tokenizer, save, train_tokenizer

SHORTFALL = ("fail", "renormalise")
TOP_LEVEL = {"name", "output", "seed", "budget", "tokenizer", "max_epochs", "on_shortfall", "shard_docs", "sources",
             "by", "shares", "top", "rehydrate"}  # the last four: mix by label (curate.tools.mix_labels)
SOURCE_KEYS = {"path", "share", "tokens", "max_epochs", "text_field", "id_field"}
SHARD_SCHEMA = pa.schema([("text", pa.string()), ("id", pa.string()), ("source", pa.string()),
                          ("epoch", pa.int32()), ("tokens", pa.int32())])


@dataclass
class MixConfig:
    sources: list[SourceConfig]
    output: str = "out/mix"
    name: str = "mix"
    seed: int = 0
    budget: int | None = None
    tokenizer: str | dict = field(default_factory=lambda: {"train": {}})
    on_shortfall: str = "fail"
    shard_docs: int = ROW_GROUP
    by: str | None = None  # mix by label: the label column, and `shares` per label (curate.tools.mix_labels)
    shares: dict | None = None
    top: dict | None = None
    rehydrate: bool = False


@dataclass
class SourceReport:
    """One row of the manifest: what a source had, what was asked of it and what it gave."""

    source: str
    files: int
    documents_available: int
    tokens_available: int
    skipped_corrupt: int
    skipped_empty: int
    max_epochs: float
    requested_share: float
    requested_tokens: int
    planned_tokens: int = 0
    tokens: int = 0
    documents: int = 0
    epochs: float = 0.0
    achieved_share: float = 0.0
    shortfall_tokens: int = 0


def load_mix(path: str | os.PathLike, overrides=()) -> MixConfig:
    """Parse a mix file, apply `key.sub=value` overrides, expand `${VAR}` and check every key."""
    try:
        loaded = load_yaml(path, overrides=overrides, what="mix file")
    except RecipeError as error:
        raise MixError(str(error)) from None
    data = loaded.data
    if unknown := set(data) - TOP_LEVEL:
        raise MixError(f"{path}: unknown key(s) {sorted(unknown)}; valid: {sorted(TOP_LEVEL)}")
    raw_sources = data.pop("sources", None)
    if not isinstance(raw_sources, dict) or not raw_sources:
        raise MixError(f"{loaded.where('sources')}: `sources:` must map source names to {{path: ..., share: ...}}")
    default_epochs = float(data.pop("max_epochs", DEFAULT_MAX_EPOCHS))
    by = data.get("by")
    sources = [_source(name, spec, default_epochs, loaded.where("sources", name), by is not None)
               for name, spec in raw_sources.items()]
    config = MixConfig(sources=sources, **data)
    mix_labels.check(by, config.shares, config.top, sources)
    for source in sources if by else []:
        source.extra_fields = mix_labels.fields(by, config.top, config.rehydrate)
    if config.on_shortfall not in SHORTFALL:
        raise MixError(f"{loaded.where('on_shortfall')}: on_shortfall must be one of {SHORTFALL}, "
                       f"got {config.on_shortfall!r}")
    return config


def _source(name: str, spec, default_epochs: float, where: str, labelled: bool = False) -> SourceConfig:
    where = f"{where}: source {name!r}"
    if not isinstance(spec, dict):
        raise MixError(f"{where}: expected a mapping {{path: ..., share: ...}}")
    if unknown := set(spec) - SOURCE_KEYS:
        raise MixError(f"{where}: unknown key(s) {sorted(unknown)}; valid: {sorted(SOURCE_KEYS)}")
    if labelled and ("share" in spec or "tokens" in spec):
        raise MixError(f"{where}: with `by:` the shares are per label (`shares:`), not per source")
    if not labelled and ("share" in spec) == ("tokens" in spec):
        raise MixError(f"{where}: give exactly one of `share` (a token share) or `tokens` (a target count)")
    paths = spec.get("path")
    paths = [paths] if isinstance(paths, str) else paths
    if not paths or not all(isinstance(p, str) for p in paths):
        raise MixError(f"{where}: `path` must be a file, folder, glob or a list of them")
    source = SourceConfig(name=str(name), paths=list(paths), share=spec.get("share"), tokens=spec.get("tokens"),
                          max_epochs=float(spec.get("max_epochs", default_epochs)),
                          text_field=spec.get("text_field", "text"), id_field=spec.get("id_field", "id"))
    if (source.share is not None and source.share <= 0) or (source.tokens is not None and source.tokens <= 0):
        raise MixError(f"{where}: share and tokens must be positive")
    if source.max_epochs <= 0:
        raise MixError(f"{where}: max_epochs must be positive")
    return source


# ---- planning and selection ------------------------------------------------------------------------

def plan(sources: list[Source], budget: int | None, on_shortfall: str) -> tuple[list[SourceReport], list[str]]:
    """Target tokens per source from shares, token counts, the budget and the epoch caps.

    Returns the reports (requested and planned tokens filled in) and the shortfall messages.
    """
    available = [int(s.tokens.sum()) for s in sources]
    caps = [int(s.config.max_epochs * t) for s, t in zip(sources, available)]
    fixed = sum(s.config.tokens or 0 for s in sources)
    share_sum = sum(s.config.share or 0 for s in sources)
    shares = [(s.config.share or 0) / share_sum if share_sum else 0.0 for s in sources]
    if budget is None:  # all token counts, or the largest mix the caps allow
        budget = fixed + int(min((cap / p for cap, p in zip(caps, shares) if p), default=0))
    if budget <= 0:
        raise MixError(f"budget must be a positive number of tokens, got {budget}")
    if budget < fixed:
        raise MixError(f"budget {budget:,} is smaller than the sources' token targets ({fixed:,})")
    requested = [s.config.tokens if s.config.tokens else round(p * (budget - fixed)) for s, p in zip(sources, shares)]
    reports = [SourceReport(source=s.config.name, files=len(s.files), documents_available=len(s.texts),
                            tokens_available=t, skipped_corrupt=s.skipped_corrupt, skipped_empty=s.skipped_empty,
                            max_epochs=s.config.max_epochs, requested_share=r / budget, requested_tokens=r)
               for s, t, r in zip(sources, available, requested)]
    planned = list(requested)
    messages = []
    over = [i for i, (p, cap) in enumerate(zip(planned, caps)) if p > cap]
    if over and on_shortfall == "fail":
        raise MixError("epoch cap exceeded (set on_shortfall: renormalise to rebalance, raise max_epochs, or lower "
                       "the budget): " + "; ".join(_shortfall(reports[i], planned[i], caps[i]) for i in over))
    capped: set[int] = set()
    while over:
        for i in over:
            messages.append(_shortfall(reports[i], planned[i], caps[i]))
            capped.add(i)
        deficit = sum(planned[i] - caps[i] for i in over)
        for i in over:
            planned[i] = caps[i]
        free = [i for i, p in enumerate(shares) if p and i not in capped]
        free_share = sum(shares[i] for i in free)
        for i in free:
            planned[i] += round(deficit * shares[i] / free_share)
        if free:
            messages.append(f"renormalised: {deficit:,} tokens given to " +
                            ", ".join(f"{reports[i].source} (now {planned[i]:,})" for i in free))
        else:
            messages.append(f"every share source is capped: the mix has {sum(planned):,} of {budget:,} tokens")
        over = [i for i, (p, cap) in enumerate(zip(planned, caps)) if p > cap]
    for report, p in zip(reports, planned):
        report.planned_tokens = p
        report.shortfall_tokens = max(0, report.requested_tokens - p)
    return reports, messages


def _shortfall(report: SourceReport, asked: int, cap: int) -> str:
    return (f"{report.source}: asked {asked:,} tokens = {asked / report.tokens_available:.2f} epochs of "
            f"{report.tokens_available:,}, capped at max_epochs {report.max_epochs:g} = {cap:,} (short {asked - cap:,})")


def select(tokens: np.ndarray, target: int, limit: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Document indices and epoch numbers whose tokens sum close to `target`, and never above `limit`.

    Full epochs first; the partial epoch takes documents in random order while they fit, then makes
    up to four additions or swaps, each the one that brings it closest to its target without passing
    `limit`.
    """
    total = int(tokens.sum())
    target = min(target, limit)
    full = target // total
    index = [np.arange(len(tokens))] * full
    epoch = [np.full(len(tokens), e, dtype=np.int32) for e in range(full)]
    rest, room = target - full * total, limit - full * total
    if rest > 0:
        order = rng.permutation(len(tokens))
        taken = np.zeros(len(tokens), dtype=bool)
        prefix = int(np.searchsorted(np.cumsum(tokens[order]), rest, side="right"))
        taken[order[:prefix]] = True
        used = int(tokens[order[:prefix]].sum())
        for i in order[prefix:]:  # greedy: each later document that still fits
            if used + tokens[i] <= rest:
                taken[i] = True
                used += int(tokens[i])
        for _ in range(4):  # each swap strictly narrows the gap; a few are enough
            change = _improve(tokens, taken, rest - used, room - used)
            used += change
            if not change:
                break
        chosen = order[taken[order]]  # keep the random order
        index.append(chosen)
        epoch.append(np.full(len(chosen), full, dtype=np.int32))
    if not index:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    return np.concatenate(index).astype(np.int64), np.concatenate(epoch)


def _improve(tokens: np.ndarray, taken: np.ndarray, gap: int, room: int) -> int:
    """Add one untaken document, or swap a taken one for an untaken one, if that brings `gap` nearer 0.

    Stays within `room` (tokens the epoch cap still allows). Returns the change in tokens used.
    """
    out_idx = np.flatnonzero(~taken)
    if gap == 0 or len(out_idx) == 0:
        return 0
    out_idx = out_idx[np.argsort(tokens[out_idx], kind="stable")]
    out_sizes = tokens[out_idx]
    removed = np.concatenate([[-1], np.flatnonzero(taken)])  # -1: remove nothing (an addition)
    sizes = np.where(removed >= 0, tokens[removed], 0)
    pos = np.searchsorted(out_sizes, gap + sizes)  # the untaken size closest to gap + removed size
    best = (abs(gap), 0, -1, -1)  # (distance to target, change, removed, added)
    for q in (pos - 1, pos):
        ok = (q >= 0) & (q < len(out_sizes))
        q = np.clip(q, 0, len(out_sizes) - 1)
        change = out_sizes[q].astype(np.int64) - sizes
        distance = np.where(ok & (change <= room), np.abs(gap - change), np.iinfo(np.int64).max)
        k = int(np.argmin(distance))
        if distance[k] < best[0]:
            best = (int(distance[k]), int(change[k]), int(removed[k]), int(out_idx[q[k]]))
    _, change, drop, add = best
    if add >= 0:
        if drop >= 0:
            taken[drop] = False
        taken[add] = True
    return change


# ---- the mix ----------------------------------------------------------------------------------------

@dataclass
class MixResult:
    output: Path
    reports: list[SourceReport]
    messages: list[str]
    shards: list[dict]
    tokenizer: str

    @property
    def tokens(self) -> int:
        return sum(r.tokens for r in self.reports)


def mix(config: MixConfig, overwrite: bool = False, progress=None) -> MixResult:
    """Read, count, plan, select, shuffle and write: `OUT/shards/*.parquet`, `OUT/manifest.{json,parquet}`.
    `progress(done, total, phase, unit)` (curate.core.progress) hears of each source, batch and shard."""
    progress = progress or (lambda *args, **kwargs: None)
    out = Path(config.output)
    if (out / "manifest.json").exists() and not overwrite:
        raise MixError(f"{out} already holds a mix; use --overwrite or another --output")
    sources = []
    for s in config.sources:
        progress(len(sources), len(config.sources), "reading", "source")
        sources.append(read_source(s))
    progress(0, None, "tokenizer", "")
    tokenizer, described = _tokenizer(config, sources)
    total, counted = sum(len(s.texts) for s in sources), 0
    for source in sources:
        def count(n, base=counted):
            progress(base + n, total, "counting tokens", "doc")

        source.tokens = np.asarray(count_tokens(tokenizer, source.texts.to_pylist(), progress=count), dtype=np.int64)
        counted += len(source.texts)
    read = sources
    if config.by:  # each label (or source/label) a group the planner treats as a source
        sources = mix_labels.groups(read, config.by, config.shares, config.top, config.rehydrate, config.seed)
    reports, messages = plan(sources, config.budget, config.on_shortfall)
    messages += [f"{s.config.name}: {s.skipped_corrupt:,} record(s) not JSON objects, skipped (first: {s.first_corrupt})"
                 for s in read if s.skipped_corrupt]

    picked_source, picked_doc, picked_epoch = [], [], []
    for n, (source, report) in enumerate(zip(sources, reports)):
        rng = np.random.default_rng([config.seed, zlib.crc32(source.config.name.encode())])
        limit = int(source.config.max_epochs * report.tokens_available)
        index, epoch = select(source.tokens, report.planned_tokens, limit, rng)
        report.tokens, report.documents = int(source.tokens[index].sum()), len(index)
        report.epochs = report.tokens / report.tokens_available
        picked_source.append(np.full(len(index), n, dtype=np.int64))
        picked_doc.append(index)
        picked_epoch.append(epoch)
    total = sum(r.tokens for r in reports)
    for report in reports:
        report.achieved_share = report.tokens / total if total else 0.0

    if overwrite:
        shutil.rmtree(out / "shards", ignore_errors=True)
    (out / "shards").mkdir(parents=True, exist_ok=True)
    rows = _rows(sources, np.concatenate(picked_source), np.concatenate(picked_doc), np.concatenate(picked_epoch),
                 np.random.default_rng([config.seed, 1]))
    shards = []
    for n, start in enumerate(range(0, rows.num_rows, config.shard_docs)):
        progress(n, -(-rows.num_rows // config.shard_docs), "writing shards", "shard")
        table = rows.slice(start, config.shard_docs)
        path = out / "shards" / f"{n:05d}.parquet"
        pq.write_table(table, path, row_group_size=ROW_GROUP, compression="zstd", write_statistics=True)
        shards.append({"path": f"shards/{path.name}", "documents": table.num_rows,
                       "tokens": int(table["tokens"].to_numpy().sum()), "sha256": file_sha256(path)})
    tokenizer_path = save(tokenizer, out / "tokenizer.json")
    manifest = {"name": config.name, "seed": config.seed, "budget": config.budget, "tokens": total,
                "documents": int(rows.num_rows), "on_shortfall": config.on_shortfall,
                "tokenizer": {"spec": described, "vocab_size": tokenizer.get_vocab_size(),
                              "path": "tokenizer.json", "sha256": file_sha256(tokenizer_path)},
                "sources": [asdict(r) for r in reports], "shortfalls": messages, "shards": shards,
                "config": asdict(config)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    pq.write_table(pa.Table.from_pylist([asdict(r) for r in reports]), out / "manifest.parquet")
    return MixResult(out, reports, messages, shards, described)


def _rows(sources: list[Source], source: np.ndarray, doc: np.ndarray, epoch: np.ndarray, rng) -> pa.Table:
    """The picked documents as one table, in a seeded random order."""
    order = rng.permutation(len(doc))
    source, doc, epoch = source[order], doc[order], epoch[order]
    offsets = np.cumsum([0] + [len(s.texts) for s in sources])[source] + doc
    texts = pa.chunked_array([s.texts for s in sources])
    ids = pa.chunked_array([s.ids for s in sources])
    tokens = np.concatenate([s.tokens for s in sources])[offsets]
    if sources and sources[0].label is not None:  # mix by label: each group's documents keep their source
        names = pa.chunked_array([s.origin for s in sources]).take(offsets).combine_chunks()
        labels = pa.chunked_array([s.label for s in sources]).take(offsets).combine_chunks()
        return pa.table([texts.take(offsets).combine_chunks(), ids.take(offsets).combine_chunks(), names,
                         pa.array(epoch, pa.int32()), pa.array(tokens, pa.int32()), labels],
                        schema=SHARD_SCHEMA.append(pa.field("label", pa.string())))
    names = np.array([s.config.name for s in sources], dtype=object)[source]
    return pa.table([texts.take(offsets).combine_chunks(), ids.take(offsets).combine_chunks(),
                     pa.array(names, pa.string()), pa.array(epoch, pa.int32()), pa.array(tokens, pa.int32())],
                    schema=SHARD_SCHEMA)


def _tokenizer(config: MixConfig, sources: list[Source]):
    """The configured tokenizer and a description of it for the manifest."""
    spec = config.tokenizer
    if isinstance(spec, str):
        return load_tokenizer(spec), spec
    if not (isinstance(spec, dict) and set(spec) == {"train"} and isinstance(spec["train"] or {}, dict)):
        raise MixError(f"tokenizer must be a path, a built-in name or {{train: {{vocab_size: N}}}}, got {spec!r}")
    options = dict(spec["train"] or {})
    vocab_size, sample_docs = options.pop("vocab_size", 8192), options.pop("sample_docs", 20_000)
    if options:
        raise MixError(f"tokenizer.train: unknown key(s) {sorted(options)}; valid: ['sample_docs', 'vocab_size']")
    rng = np.random.default_rng([config.seed, 2])
    per_source = max(1, sample_docs // len(sources))
    sample = []
    for source in sources:  # the same number of documents from every source, picked by the seed
        n = len(source.texts)
        picks = np.sort(rng.choice(n, size=min(n, per_source), replace=False))
        sample.extend(source.texts.take(picks).to_pylist())
    tokenizer = train_tokenizer(sample, vocab_size=vocab_size, seed=config.seed)
    return tokenizer, f"byte-level BPE, vocab {vocab_size}, trained on {len(sample):,} sampled documents"

