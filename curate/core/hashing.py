"""curate's 64-bit word and n-gram hashes, and datasketch-compatible MinHash signatures on them.

This module is the one implementation of the hashing that MinHash (`curate.filters.minhash`, its
signatures and band hashes) and decontamination (`curate.filters.decontaminate.index`,
`curate.ablation.decontam`) share:
- `fmix64`: MurmurHash3's 64-bit finaliser (smhasher, MurmurHash3.cpp `fmix64`), compiled with
  numba for np.uint64 scalars, uint64 arrays and other njit code alike;
- `word_hashes` / `unit_hashes`: a word is FNV-1a-64 over its UTF-8 bytes then fmix64, a
  character is fmix64 of its code point;
- `fold` / `ngram_hashes` / `kgram_hashes`: an n-gram folds its units' hashes (`h = h * FOLD + w`,
  mod 2^64) and its 64-bit hash is fmix64 of the fold. Decontamination keys are all 64 bits; the
  MinHash shingle hash is the top 32.

A signature is computed exactly as datasketch >= 2.0 computes `MinHash(num_perm, seed,
hashfunc=shingle_hash)` with its default `affine32` scheme: each shingle's 32-bit hash `h` is
mixed once with the MurmurHash3 32-bit finaliser, then permutation k maps it to `a_k * h + b_k mod
2^32` (`a_k`, `b_k` drawn from `np.random.RandomState(seed)` in datasketch's order) and the
signature keeps the minimum per permutation. So `to_lean_minhash(sig, seed)` is a datasketch
`LeanMinHash` whose hash values, and therefore every Jaccard estimate, equal datasketch's own
MinHash fed the same shingles (`shingles(text)`) with `hashfunc=shingle_hash`
(tests/test_minhash_hashing.py). The hash is compositional so that it is computed without
building shingle strings; numba was measured 10x+ faster than per-word xxhash calls plus numpy,
the next best (bench/minhash.py, docs/PERFORMANCE.md).

Text is normalised by `curate.core.text.lower_collapsed`: case and runs of whitespace do not matter.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from curate.core.text import lower_collapsed

M64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
FMIX64_C1, FMIX64_C2 = 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53  # MurmurHash3's fmix64 multipliers
FOLD = 0x9E3779B97F4A7C15  # odd multiplier of the n-gram fold (the 64-bit golden ratio)
EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's initial value: a signature of no shingles


# -- the hash primitives ------------------------------------------------------------------------

@njit(cache=True, inline="always")
def fmix64(h):
    """MurmurHash3's 64-bit finaliser, mod 2^64: every input bit flips each output bit with
    probability ~1/2. `h` is an np.uint64 or a uint64 array (one compiled version per type);
    from plain Python, `int(fmix64(np.uint64(x)))`."""
    # no augmented assignment: on an array, numba's `h ^= x` would overwrite the caller's array
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(FMIX64_C1)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(FMIX64_C2)
    return h ^ (h >> np.uint64(33))


@njit(cache=True, inline="always")
def fold(h, w):
    """One step of the n-gram fold, `h * FOLD + w` mod 2^64 (np.uint64 scalars or uint64 arrays):
    order-sensitive, so "a b" and "b a" differ."""
    return h * np.uint64(FOLD) + w


@njit(cache=True, inline="always")
def _fmix32(h):
    # MurmurHash3's 32-bit finaliser; numba widens uint32 products to 64 bits: mask back to 32
    # after every multiply
    h = np.uint64(h)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & np.uint64(0xFFFFFFFF)
    return np.uint32(h ^ (h >> np.uint64(16)))


@njit(cache=True)
def unit_hashes(buf, start, end, word_unit):
    """Hashes of the words (UTF-8 bytes split on single spaces) or characters (UTF-32 code points)
    of the text in buf[start:end]."""
    if word_unit:
        count = 1
        for i in range(start, end):
            if buf[i] == 32:
                count += 1
        out = np.empty(count, np.uint64)
        h = np.uint64(FNV_OFFSET)
        k = 0
        for i in range(start, end):
            byte = buf[i]
            if byte == 32:
                out[k] = fmix64(h)
                k += 1
                h = np.uint64(FNV_OFFSET)
            else:
                h = (h ^ np.uint64(byte)) * np.uint64(FNV_PRIME)
        out[k] = fmix64(h)
        return out
    out = np.empty(end - start, np.uint64)
    for i in range(start, end):
        out[i - start] = fmix64(np.uint64(buf[i]))
    return out


def word_hashes(words: list[str]) -> np.ndarray:
    """The uint64 hash of each word (words must not contain a space)."""
    if not words:
        return np.empty(0, np.uint64)
    buf = np.frombuffer(" ".join(words).encode("utf-8"), np.uint8)
    return unit_hashes(buf, 0, len(buf), True)


@njit(cache=True, inline="always")
def ngram_hash(units, start, width):
    """The hash of one n-gram: fmix64 of the fold of units[start:start + width]."""
    h = np.uint64(0)
    for j in range(width):
        h = fold(h, units[start + j])
    return fmix64(h)


@njit(cache=True)
def ngram_hashes(units, n):
    """The hash of every n-gram of `units` (uint64 unit hashes), in order. Fewer than n units are
    one shorter n-gram, as MinHash shingles a short text."""
    width = min(n, len(units))
    out = np.empty(max(1, len(units) - n + 1), np.uint64)
    for i in range(len(out)):
        out[i] = ngram_hash(units, i, width)
    return out


def kgram_hashes(units: np.ndarray, lengths) -> dict[int, np.ndarray]:
    """{k: `ngram_hashes(units, k)`} for each k in `lengths` with 1 <= k <= len(units)."""
    return {k: ngram_hashes(units, k) for k in sorted(set(lengths)) if 1 <= k <= len(units)}


# -- MinHash --------------------------------------------------------------------------------------

def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (`MinHash._init_permutations`), bit for bit."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def shingle_hash(shingle: str) -> int:
    """The 32-bit hash of one shingle as produced by `shingles()`; pass it to datasketch as
    `hashfunc`. A shingle is either a tuple of words joined by single spaces or, for
    character shingles, a `"\\x00"`-prefixed string of characters."""
    if shingle.startswith("\x00"):
        units = fmix64(np.array([ord(char) for char in shingle[1:]], np.uint64))
    else:
        units = word_hashes(shingle.split(" "))
    return int(ngram_hashes(units, len(units))[0] >> np.uint64(32))


def shingles(text: str, n: int = 5, unit: str = "word") -> list[str]:
    """The shingles a signature is computed over, as strings `shingle_hash` understands. A text
    shorter than `n` units is one shingle; an empty text has none."""
    norm = lower_collapsed(text)
    if unit == "word":
        words = norm.split(" ") if norm else []
        if not words:
            return []
        return [" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))]
    if not norm:
        return []
    return ["\x00" + norm[i:i + n] for i in range(max(1, len(norm) - n + 1))]


@njit(cache=True)
def _signatures(buf, offsets, n, word_unit, a, b):
    """Signatures of a batch of normalised texts packed in `buf` (UTF-8 bytes for words, UTF-32
    code points for characters), text i in buf[offsets[i]:offsets[i + 1]]."""
    num_docs = len(offsets) - 1
    num_perm = len(a)
    out = np.empty((num_docs, num_perm), np.uint32)
    for d in range(num_docs):
        sig = out[d]
        sig[:] = np.uint32(0xFFFFFFFF)
        start, end = offsets[d], offsets[d + 1]
        if end == start:
            continue
        units = unit_hashes(buf, start, end, word_unit)
        width = min(n, len(units))
        for i in range(max(1, len(units) - n + 1)):  # the shingles, as `ngram_hashes` (no array)
            hv = _fmix32(np.uint32(ngram_hash(units, i, width) >> np.uint64(32)))
            for p in range(num_perm):
                v = np.uint32(a[p] * hv + b[p])
                if v < sig[p]:
                    sig[p] = v
    return out


def pack(texts: list[str], unit: str = "word") -> tuple[np.ndarray, np.ndarray]:
    """Normalise and pack texts into one buffer with offsets, as the kernel reads them."""
    if unit == "word":
        parts = [lower_collapsed(t).encode("utf-8") for t in texts]
        dtype, width = np.uint8, 1
    else:
        parts = [lower_collapsed(t).encode("utf-32-le") for t in texts]
        dtype, width = np.uint32, 4
    lengths = np.fromiter((len(p) // width for p in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buf = np.frombuffer(b"".join(parts), dtype=dtype) if parts else np.empty(0, dtype)
    if len(buf) == 0:
        buf = np.zeros(1, dtype)  # numba needs a non-empty buffer type-wise only; offsets stay 0
    return buf, offsets


class Signer:
    """Computes signatures of batches of texts; picklable, the kernel compiles (or loads its
    cache) on first use. Example: `Signer(num_perm=112, n=5, seed=1).sign(["some text"])`."""

    def __init__(self, num_perm: int = 112, n: int = 5, unit: str = "word", seed: int = 1):
        if unit not in ("word", "char"):
            raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
        if n < 1 or num_perm < 1:
            raise ValueError("n and num_perm must be positive")
        self.num_perm, self.n, self.unit, self.seed = num_perm, n, unit, seed
        self.a, self.b = permutations(num_perm, seed)

    def sign(self, texts: list[str]) -> np.ndarray:
        buf, offsets = pack(texts, self.unit)
        return _signatures(buf, offsets, self.n, self.unit == "word", self.a, self.b)


def to_lean_minhash(signature: np.ndarray, seed: int = 1):
    """A datasketch LeanMinHash holding this signature (datasketch >= 2.0, scheme affine32)."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=seed, hashvalues=np.asarray(signature, dtype=np.uint32), scheme="affine32")


def datasketch_minhash(text: str, num_perm: int = 112, n: int = 5, unit: str = "word", seed: int = 1):
    """datasketch's own MinHash of `text`'s shingles: the reference `Signer` must equal."""
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)
    m.update_batch(shingles(text, n, unit))
    return m
