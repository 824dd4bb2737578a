"""MinHash signatures: shingling, hashing and datasketch-compatible permutations.

A signature is computed exactly as datasketch >= 2.0 computes `MinHash(num_perm, seed,
hashfunc=shingle_hash)` with its default `affine32` scheme: each shingle's 32-bit hash `h` is
mixed once with the MurmurHash3 finaliser, then permutation k maps it to `a_k * h + b_k mod 2^32`
(`a_k`, `b_k` drawn from `np.random.RandomState(seed)` in datasketch's order) and the signature
keeps the minimum per permutation. So `to_lean_minhash(sig, seed)` is a datasketch `LeanMinHash`
whose hash values, and therefore every Jaccard estimate, equal datasketch's own MinHash fed the
same shingles (`shingles(text)`) with `hashfunc=shingle_hash` (tests/test_minhash_hashing.py).

The shingle hash is compositional so that it can be computed without building shingle strings:
a word is FNV-1a-64 over its UTF-8 bytes then fmix64; a word n-gram folds its words' hashes
(`h = h * K + w`, mod 2^64) and keeps the top 32 bits of fmix64 of the fold; a character n-gram
folds fmix64 of each code point the same way. The numba kernels below and the pure-Python
`shingle_hash` implement the same function (bench/minhash.py measured numba 10x+ faster than
per-word xxhash calls plus numpy, the next best; see docs/PERFORMANCE.md).

Text is normalised as `" ".join(text.lower().split())`: case and runs of whitespace do not matter.
"""

from __future__ import annotations

import numpy as np
from numba import njit

M64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
FOLD = 0x9E3779B97F4A7C15  # odd multiplier of the n-gram fold (the 64-bit golden ratio)
EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's initial value: a signature of no shingles


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (`MinHash._init_permutations`), bit for bit."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


# -- pure Python reference (used with datasketch and in tests) ---------------------------------

def _fmix64(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & M64
    return h ^ (h >> 33)


def _word_hash(word: str) -> int:
    h = FNV_OFFSET
    for byte in word.encode("utf-8"):
        h = ((h ^ byte) * FNV_PRIME) & M64
    return _fmix64(h)


def shingle_hash(shingle: str) -> int:
    """The 32-bit hash of one shingle as produced by `shingles()`; pass it to datasketch as
    `hashfunc`. A shingle is either a tuple of words joined by single spaces or, for
    character shingles, a `"\\x00"`-prefixed string of characters."""
    h = 0
    if shingle.startswith("\x00"):
        for char in shingle[1:]:
            h = (h * FOLD + _fmix64(ord(char))) & M64
    else:
        for word in shingle.split(" "):
            h = (h * FOLD + _word_hash(word)) & M64
    return _fmix64(h) >> 32


def shingles(text: str, n: int = 5, unit: str = "word") -> list[str]:
    """The shingles a signature is computed over, as strings `shingle_hash` understands. A text
    shorter than `n` units is one shingle; an empty text has none."""
    norm = normalise(text)
    if unit == "word":
        words = norm.split(" ") if norm else []
        if not words:
            return []
        return [" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))]
    if not norm:
        return []
    return ["\x00" + norm[i:i + n] for i in range(max(1, len(norm) - n + 1))]


# -- compiled kernels --------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _nb_fmix64(h):
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


@njit(cache=True, inline="always")
def _nb_fmix32(h):
    # numba widens uint32 products to 64 bits: mask back to 32 after every multiply
    h = np.uint64(h)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & np.uint64(0xFFFFFFFF)
    return np.uint32(h ^ (h >> np.uint64(16)))


@njit(cache=True)
def _unit_hashes(buf, start, end, word_unit):
    """Hashes of the words (bytes split on single spaces) or characters (code points) of one text."""
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
                out[k] = _nb_fmix64(h)
                k += 1
                h = np.uint64(FNV_OFFSET)
            else:
                h = (h ^ np.uint64(byte)) * np.uint64(FNV_PRIME)
        out[k] = _nb_fmix64(h)
        return out
    out = np.empty(end - start, np.uint64)
    for i in range(start, end):
        out[i - start] = _nb_fmix64(np.uint64(buf[i]))
    return out


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
        units = _unit_hashes(buf, start, end, word_unit)
        m = len(units)
        width = min(n, m)
        for i in range(max(1, m - n + 1)):
            h = np.uint64(0)
            for j in range(width):
                h = h * np.uint64(FOLD) + units[i + j]
            hv = _nb_fmix32(np.uint32(_nb_fmix64(h) >> np.uint64(32)))
            for p in range(num_perm):
                v = np.uint32(a[p] * hv + b[p])
                if v < sig[p]:
                    sig[p] = v
    return out


def pack(texts: list[str], unit: str = "word") -> tuple[np.ndarray, np.ndarray]:
    """Normalise and pack texts into one buffer with offsets, as the kernel reads them."""
    if unit == "word":
        parts = [normalise(t).encode("utf-8") for t in texts]
        dtype, width = np.uint8, 1
    else:
        parts = [normalise(t).encode("utf-32-le") for t in texts]
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
