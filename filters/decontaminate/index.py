"""Benchmark n-gram index: build it once from benchmark files, save it, look documents up in it.

Text is normalised (`curate.core.text.words`) as NeMo Curator and lm-eval's decontamination do,
a little more forgivingly: lowercased, apostrophes deleted (`don't`, `don’t` -> `dont`), every
other punctuation or symbol character replaced by a space, whitespace collapsed; words are what is
left between spaces. An item's text (its benchmark fields, `curate.resources.benchmarks`) gives its
word 13-grams (GPT-3 and NeMo's n; datatrove uses 12). An item shorter than n words but at least
`min_words` long is indexed whole, as one shorter key (datatrove indexes nothing for it; lm-eval
and NeMo treat it as one n-gram); shorter items are left out and counted, since a 5-word phrase is
no evidence of contamination.

Hashes are curate's MinHash word hashing (`curate.core.hashing`): a word is FNV-1a-64 + fmix64,
a k-gram folds its words (`h = h * K + w`) and the key is fmix64 of the fold, all 64 bits (the
MinHash shingle hash is its top 32). Keys are stored sorted per length, with the item of each (a
key repeats when items share an n-gram), so a lookup is one `np.searchsorted` over all of a
document's n-grams. Keys found in more than `max_items` items (template phrases such as "which of
the following is not") are no evidence and are left out, as are the n-grams of a user's `allow`
phrases.

Example: `NGramIndex.build(["../shared/data/benchmarks"]).save("bench.npz")`, then
`NGramIndex.load("bench.npz").find("some document text")`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from curate.core.hashing import fmix64, fold, kgram_hashes, word_hashes
from curate.core.text import words
from curate.resources import benchmarks

FORMAT_VERSION = 1


@dataclass
class Match:
    """The items a document holds enough keys of: how many, and where."""

    votes: dict[int, int]  # item -> matched positions
    spans: list[tuple[int, int]]  # (first word, number of words) of every matched k-gram of those items
    first: dict[int, tuple[int, int]]  # item -> its first matched span

    def best(self) -> int:
        return max(self.votes, key=lambda item: (self.votes[item], -item))


@dataclass
class NGramIndex:
    n: int
    tables: dict[int, tuple[np.ndarray, np.ndarray]]  # k -> (sorted keys, item of each key)
    benchmark_names: list[str]
    item_benchmark: np.ndarray  # int16 per item, into benchmark_names
    item_ids: list[str]
    params: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def build(cls, paths: list[str | Path], n: int = 13, fields: dict | None = None, min_words: int = 8,
              max_items: int = 10, progress=None) -> NGramIndex:
        """Index every benchmark item under `paths` (see the module docstring); `progress(done,
        total, phase, unit)` (curate.core.progress) hears of the reading and of every 1,000 items."""
        progress = progress or (lambda *args, **kwargs: None)
        if n < 2 or not 1 <= min_words <= n:
            raise ValueError(f"need n >= 2 and 1 <= min_words <= n, got n={n}, min_words={min_words}")
        start = time.perf_counter()
        report = benchmarks.LoadReport()
        progress(0, None, "reading benchmarks")
        items = benchmarks.items(paths, fields, report)
        chosen = {**benchmarks.DEFAULT_FIELDS, **(fields or {})}
        parts: dict[int, tuple[list, list]] = {}
        too_short = 0
        for i, item in enumerate(items):
            if i % 1000 == 0:
                progress(i, len(items), "indexing", "item")
            units = word_hashes(words(item.text(chosen[item.format])))
            k = min(n, len(units))
            if k < min_words:
                too_short += 1
                continue
            keys = np.unique(kgram_hashes(units, [k])[k])
            part = parts.setdefault(k, ([], []))
            part[0].append(keys)
            part[1].append(np.full(len(keys), i, np.int32))
        progress(len(items), len(items), "indexing", "item")
        tables, frequent = {}, 0
        for k, (keys, owners) in sorted(parts.items()):
            keys, owners = np.concatenate(keys), np.concatenate(owners)
            order = np.lexsort((owners, keys))
            keys, owners = keys[order], owners[order]
            uniq, counts = np.unique(keys, return_counts=True)
            common = uniq[counts > max_items]
            frequent += len(common)
            keep = ~np.isin(keys, common)
            tables[k] = (keys[keep], owners[keep])
        names = sorted({item.benchmark for item in items})
        lookup = {name: j for j, name in enumerate(names)}
        index = cls(n, tables, names, np.array([lookup[it.benchmark] for it in items], np.int16),
                    [it.item_id for it in items],
                    params={"n": n, "fields": chosen, "min_words": min_words, "max_items": max_items},
                    stats={"items": len(items), "too_short": too_short, "frequent_keys_dropped": frequent,
                           "keys": int(sum(len(t[0]) for t in tables.values())), "files": len(report.files),
                           "skipped_files": report.skipped, "corrupt_records": report.corrupt,
                           "seconds": round(time.perf_counter() - start, 2)})
        return index

    def allow(self, phrases: list[str]) -> int:
        """Drop the keys of `phrases` (their n-grams, or the whole phrase when shorter): frequent
        text that is no evidence of contamination. Returns how many keys went."""
        removed = 0
        for phrase in phrases:
            units = word_hashes(words(phrase))
            k = min(self.n, len(units))
            if k not in self.tables:
                continue
            keys, owners = self.tables[k]
            keep = ~np.isin(keys, kgram_hashes(units, [k])[k])
            removed += int((~keep).sum())
            self.tables[k] = (keys[keep], owners[keep])
        self.__dict__.pop("_probe", None)
        self.__dict__.pop("_item_keys", None)
        return removed

    # -- saving --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the index as one .npz (written to a temporary name, then renamed: concurrent
        builders of the same cache file never leave a partial one)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"version": FORMAT_VERSION, "n": self.n, "benchmarks": self.benchmark_names,
                "item_ids": self.item_ids, "params": self.params, "stats": self.stats}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8), "item_benchmark": self.item_benchmark}
        for k, (keys, owners) in self.tables.items():
            arrays[f"keys_{k}"], arrays[f"items_{k}"] = keys, owners
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> NGramIndex:
        try:
            with np.load(path) as data:
                meta = json.loads(data["meta"].tobytes())
                tables = {int(name[5:]): (data[name], data[f"items_{name[5:]}"])
                          for name in data.files if name.startswith("keys_")}
                item_benchmark = data["item_benchmark"]
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"{path}: not a curate decontamination index ({error})") from error
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: index format {meta.get('version')}, this curate reads {FORMAT_VERSION}")
        return cls(meta["n"], tables, meta["benchmarks"], item_benchmark, meta["item_ids"],
                   meta["params"], meta["stats"])

    # -- looking up ----------------------------------------------------------------------------
    def _filters(self):
        """Per table, a bit filter over its keys (64 bits per key: ~1.5% of absent k-grams pass),
        so the kernel rules out most k-grams with one memory access; only candidates are then
        binary-searched (3x faster than searching every n-gram of a page)."""
        if "_probe" not in self.__dict__:
            lengths = np.array(sorted(self.tables), np.int64)
            slot = np.full(max(lengths, default=0) + 1, -1, np.int64)
            shifts, offsets, parts, at = [], [], [], 0
            for t, k in enumerate(lengths):
                keys = self.tables[k][0]
                bits = max(16, int(np.ceil(np.log2(max(1, len(keys)) * 64))))
                top = keys >> np.uint64(64 - bits)  # keys are sorted, so their top bits are too
                byte = (top >> np.uint64(3)).astype(np.intp)
                bit = np.uint8(1) << (top & np.uint64(7)).astype(np.uint8)
                filt = np.zeros(1 << (bits - 3), np.uint8)
                if len(keys):
                    starts = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
                    filt[byte[starts]] = np.bitwise_or.reduceat(bit, starts)
                slot[k] = t
                shifts.append(64 - bits)
                offsets.append(at)
                parts.append(filt)
                at += len(filt)
            self.__dict__["_probe"] = (lengths, slot, np.array(shifts, np.uint64), np.array(offsets, np.int64),
                                       np.concatenate(parts) if parts else np.zeros(1, np.uint8))
        return self.__dict__["_probe"]

    def find(self, text: str | list[str], min_matches: int = 3) -> Match | None:
        """The benchmark items of which `text` (or its normalised words) holds at least
        `min_matches` keys (or all, for an item with fewer), or None. One or two shared 13-grams
        are a famous quotation more often than a copied item: "we hold these truths to be self
        evident that all men are created" is in an MMLU question and in 4 of the clean texts."""
        ws = words(text) if isinstance(text, str) else text
        units = word_hashes(ws)
        if len(units) == 0 or not self.tables:
            return None
        lengths, slot, shifts, offsets, bits = self._filters()
        positions, tables, hashes = _probe(units, slot, shifts, offsets, bits)
        hits = []
        for t in np.unique(tables).tolist():
            k = int(lengths[t])
            keys, owners = self.tables[k]
            mine = tables == t
            at, wanted = positions[mine], hashes[mine]
            pos = np.searchsorted(keys, wanted)
            pos[pos == len(keys)] = 0
            found = keys[pos] == wanted
            if not found.any():
                continue
            at, pos = at[found], pos[found]
            ends = np.searchsorted(keys, wanted[found], side="right")
            for start, left, right in zip(at.tolist(), pos.tolist(), ends.tolist()):
                hits.append((start, k, left, set(owners[left:right].tolist())))
        return self._judge(hits, min_matches)

    def _judge(self, hits: list[tuple[int, int, int, set]], min_matches: int) -> Match | None:
        """Keep the items with at least min(min_matches, their key count) distinct matched keys
        (a key is named by its length and position in its table)."""
        if not hits:
            return None
        keys_of: dict[int, set] = {}
        for _, k, key, items in hits:
            for item in items:
                keys_of.setdefault(item, set()).add((k, key))
        votes = {item: len(found) for item, found in keys_of.items()}
        if "_item_keys" not in self.__dict__:
            self.__dict__["_item_keys"] = np.bincount(np.concatenate([o for _, o in self.tables.values()]),
                                                      minlength=len(self.item_ids))
        counts = self.__dict__["_item_keys"]
        votes = {item: v for item, v in votes.items() if v >= min(min_matches, counts[item])}
        if not votes:
            return None
        match = Match(votes, [], {})
        for start, k, _, items in hits:
            if items & votes.keys():
                match.spans.append((start, k))
                for item in items & votes.keys():
                    match.first.setdefault(item, (start, k))
        return match


@njit(cache=True)
def _probe(units, slot, shifts, offsets, bits):
    """Every k-gram (k with slot[k] >= 0) of one text whose hash passes table slot[k]'s bit
    filter: (first word, table, hash). One pass: the fold of words i..i+j gives every length."""
    m = len(units)
    maxk = len(slot) - 1
    cap = m * maxk + 1
    pos = np.empty(cap, np.int64)
    tab = np.empty(cap, np.int64)
    out = np.empty(cap, np.uint64)
    c = 0
    for i in range(m):
        h = np.uint64(0)
        for j in range(min(maxk, m - i)):
            h = fold(h, units[i + j])
            t = slot[j + 1]
            if t < 0:
                continue
            key = fmix64(h)
            top = key >> shifts[t]
            byte = offsets[t] + np.int64(top >> np.uint64(3))
            if (np.uint64(bits[byte]) >> (top & np.uint64(7))) & np.uint64(1):
                pos[c] = i
                tab[c] = t
                out[c] = key
                c += 1
    return pos[:c], tab[:c], out[:c]


def cache_key(paths: list[str | Path], **params) -> str:
    """A digest of the benchmark files' names and contents and of the build parameters."""
    h = hashlib.blake2b(json.dumps([FORMAT_VERSION, params], sort_keys=True).encode(), digest_size=10)
    for root in map(Path, paths):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            h.update(f"{path.relative_to(root) if path != root else path.name}\0".encode())
            h.update(hashlib.blake2b(path.read_bytes(), digest_size=16).digest())
    return h.hexdigest()


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curate" / "decontam"


def cached_index(paths: list[str | Path], cache_dir: str | Path | None = None, **params) -> Path:
    """The index file for `paths` and `params`: built on first use, then reused from the cache."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    path = cache / f"index-{cache_key(paths, **params)}.npz"
    if not path.is_file():
        NGramIndex.build(paths, **params).save(path)
    return path


def parse_fields(specs: list[str]) -> dict[str, list[str]]:
    """`["gsm8k=question", "icl=context,question"]` -> {"gsm8k": ["question"], ...}."""
    out = {}
    for spec in specs:
        fmt, sep, names = spec.partition("=")
        if not sep or not names:
            raise ValueError(f"--fields {spec!r} is not FORMAT=field,field (formats: {', '.join(benchmarks.DEFAULT_FIELDS)})")
        out[fmt.strip()] = [name.strip() for name in names.split(",") if name.strip()]
    return out


def summary(index: NGramIndex) -> list[tuple[str, int]]:
    """(benchmark, items) rows of an index, largest first."""
    counts = np.bincount(index.item_benchmark, minlength=len(index.benchmark_names))
    return sorted(zip(index.benchmark_names, counts.tolist()), key=lambda row: (-row[1], row[0]))


# OUT/reports/decontamination.parquet (the stage's `reports()`; the runner runs it after a run): per
# benchmark, the items found, the documents they were found in, how many of those were dropped and
# the characters removed (by a drop, the whole document; by a cut, the lines cut; in annotate mode,
# what a drop would remove), from the decision table, so any number of tasks give one report.
REPORT_SQL = """SELECT decontaminate__benchmark AS benchmark,
       count(DISTINCT decontaminate__item) AS items_found,
       count(*) AS documents,
       count(*) FILTER (WHERE stage = 'decontaminate') AS documents_dropped,
       sum(decontaminate__chars_removed)::BIGINT AS chars_removed
FROM decisions WHERE decontaminate__benchmark IS NOT NULL
GROUP BY 1 ORDER BY documents DESC, benchmark"""
