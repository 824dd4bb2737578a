"""curate's signatures are datasketch's: same hash values, so the same Jaccard estimates."""

import numpy as np
import pytest

from curate.core.hashing import Signer, datasketch_minhash, shingle_hash, shingles, to_lean_minhash
from curate.filters.minhash.signatures import band_hashes

TEXTS = [
    "The quick brown fox jumps over the lazy dog near the river bank today",
    "The quick brown fox jumped over the lazy dog near the river bank today",
    "Ünïcödé  text\twith   odd\nwhitespace, 東京 and emoji 🙂 in it, Ünïcödé again",
    "short",
    "",
]


@pytest.mark.parametrize("unit,n", [("word", 5), ("word", 1), ("char", 5), ("char", 24)])
def test_signatures_equal_datasketch_minhash_with_the_same_seed_and_shingles(unit, n):
    signer = Signer(num_perm=112, n=n, unit=unit, seed=42)
    ours = signer.sign(TEXTS)
    for text, sig in zip(TEXTS, ours):
        reference = datasketch_minhash(text, num_perm=112, n=n, unit=unit, seed=42)
        assert np.array_equal(reference.hashvalues, sig), text
    for i in range(len(TEXTS)):
        for j in range(len(TEXTS)):
            theirs = datasketch_minhash(TEXTS[i], 112, n, unit, 42).jaccard(datasketch_minhash(TEXTS[j], 112, n, unit, 42))
            assert to_lean_minhash(ours[i], 42).jaccard(to_lean_minhash(ours[j], 42)) == theirs


def test_shingles_normalise_case_and_whitespace_and_short_texts_are_one_shingle():
    assert shingles("A  b\tC d e F", 5) == ["a b c d e", "b c d e f"]
    assert shingles("Two words", 5) == ["two words"]
    assert shingles("", 5) == []
    assert Signer(8, 5).sign(["A B C D E F"]).tolist() == Signer(8, 5).sign(["a b  c\nd e f"]).tolist()
    assert 0 <= shingle_hash("a b c d e") < 2**32


def test_empty_text_has_the_empty_signature_and_different_seeds_differ():
    assert (Signer(16).sign([""]) == 0xFFFFFFFF).all()
    assert not np.array_equal(Signer(16, seed=1).sign(TEXTS[:1]), Signer(16, seed=2).sign(TEXTS[:1]))


def test_band_hashes_match_iff_the_band_rows_match():
    sig = Signer(112).sign(TEXTS[:2])
    bands = band_hashes(sig, 14, 8)
    rows_equal = (sig[0].reshape(14, 8) == sig[1].reshape(14, 8)).all(axis=1)
    assert np.array_equal(bands[0] == bands[1], rows_equal)
