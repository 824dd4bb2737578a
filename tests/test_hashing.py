"""curate.core.hashing is the one implementation of fmix64 and the n-gram fold: its call paths
(uint64 arrays, np.uint64 scalars, inside other numba code) agree with each other and with the
algorithm written out on Python ints, and decontamination's keys are that fold over the same word
hashes."""

import json

import numpy as np
import pytest
from numba import njit

from curate.ablation.decontam import N, _ngrams
from curate.core import hashing
from curate.core.hashing import FOLD, M64, fmix64, fold, kgram_hashes, ngram_hashes, shingle_hash, word_hashes
from curate.core.text import words
from curate.filters.decontaminate.index import NGramIndex, _probe
from curate.resources import benchmarks

TEXT = ("Janet’s ducks lay 16 eggs per day; she eats three for breakfast every morning and bakes muffins "
        "for her friends every day with four. Ünïcödé words, 東京 and 🙂 too: don't split them oddly")


def py_fmix64(h: int) -> int:
    """MurmurHash3's fmix64 (smhasher, MurmurHash3.cpp) on Python ints, written out independently."""
    h ^= h >> 33
    h = (h * hashing.FMIX64_C1) & M64
    h ^= h >> 33
    h = (h * hashing.FMIX64_C2) & M64
    return h ^ (h >> 33)


def py_word_hash(word: str) -> int:
    h = hashing.FNV_OFFSET
    for byte in word.encode("utf-8"):
        h = ((h ^ byte) * hashing.FNV_PRIME) & M64
    return py_fmix64(h)


def py_ngram_keys(units: list[int], n: int) -> list[int]:
    """fmix64 of `h = h * FOLD + w` over every window of n units (one window when fewer)."""
    keys = []
    for i in range(max(1, len(units) - n + 1)):
        h = 0
        for w in units[i:i + n]:
            h = (h * FOLD + w) & M64
        keys.append(py_fmix64(h))
    return keys


@njit
def fmix64_in_a_loop(values):
    out = np.empty_like(values)
    for i in range(len(values)):
        out[i] = fmix64(values[i])
    return out


@pytest.fixture(scope="module")
def values():
    rng = np.random.default_rng(0)
    edges = np.array([0, 1, 2**32 - 1, 2**63, 2**64 - 1], np.uint64)
    return np.concatenate([edges, rng.integers(0, 2**64 - 1, 3000, dtype=np.uint64, endpoint=True)])


def test_fmix64_array_scalar_njit_and_python_paths_agree(values):
    before = values.copy()
    mixed = fmix64(values)
    assert np.array_equal(values, before)  # the array path does not write into its input
    assert mixed.dtype == np.uint64
    assert mixed.tolist() == [py_fmix64(int(v)) for v in values]
    assert np.array_equal(fmix64_in_a_loop(values), mixed)
    assert [int(fmix64(v)) for v in values[:100]] == mixed[:100].tolist()
    strided = values[:3000].reshape(60, 50)[:, ::3]  # a non-contiguous 2-D view, as band_hashes passes
    assert np.array_equal(fmix64(strided), mixed[:3000].reshape(60, 50)[:, ::3])
    assert len(set(mixed.tolist())) == len(set(values.tolist()))  # a bijection: no collisions


@pytest.mark.parametrize("n", [1, 2, 5, 13, 40, 41, 100])
def test_fold_kernel_vectorised_and_python_paths_agree(values, n):
    units = values[5:45]
    keys = ngram_hashes(units, n)
    assert keys.tolist() == py_ngram_keys(units.tolist(), n)
    if n <= len(units):
        h = np.zeros(len(units) - n + 1, np.uint64)
        for j in range(n):
            h = fold(h, units[j:j + len(h)])
        assert np.array_equal(fmix64(h), keys)
        assert np.array_equal(kgram_hashes(units, [n, n])[n], keys)
    else:
        assert n not in kgram_hashes(units, [n])
    a, b = values[100:110], values[200:210]
    assert [int(fold(x, y)) for x, y in zip(a, b)] == [(int(x) * FOLD + int(y)) & M64 for x, y in zip(a, b)]


def test_word_hashes_are_fnv1a_then_fmix64_and_shingle_hash_is_the_top_32_bits():
    ws = words(TEXT)
    units = word_hashes(ws)
    assert units.tolist() == [py_word_hash(w) for w in ws]
    assert word_hashes([]).tolist() == []
    for i in (0, 7):
        key = py_ngram_keys(units[i:i + 5].tolist(), 5)[0]
        assert shingle_hash(" ".join(ws[i:i + 5])) == key >> 32
    chars = "\x00" + "tokyo 東京"
    assert shingle_hash(chars) == py_ngram_keys([py_fmix64(ord(c)) for c in chars[1:]], 9)[0] >> 32


def test_decontamination_keys_are_the_fold_over_core_word_hashes(tmp_path):
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text(json.dumps({"question": TEXT, "answer": "#### 4"}) + "\n")
    item = benchmarks.items([tmp_path])[0]
    units = [py_word_hash(w) for w in words(item.text(benchmarks.DEFAULT_FIELDS["gsm8k"]))]
    index = NGramIndex.build([tmp_path], n=13)
    assert index.tables[13][0].tolist() == sorted(set(py_ngram_keys(units, 13)))
    assert _ngrams(TEXT).tolist() == py_ngram_keys([py_word_hash(w) for w in words(TEXT)], N)  # the ablation's

    # the lookup kernel folds every length from each word on; with filters that pass everything
    # (one table per length k = 1..13) it returns every k-gram's key
    doc = word_hashes(words(TEXT))
    slot = np.arange(-1, 13, dtype=np.int64)
    shifts, offsets = np.full(13, 48, np.uint64), np.zeros(13, np.int64)
    positions, tables, keys = _probe(doc, slot, shifts, offsets, np.full(1 << 13, 255, np.uint8))
    assert len(keys) == sum(len(doc) - k + 1 for k in range(1, 14))
    for i, t, key in zip(positions.tolist(), tables.tolist(), keys.tolist()):
        assert key == py_ngram_keys(doc[i:i + t + 1].tolist(), t + 1)[0]
