import pytest
from datatrove.data import Document

from curate.filters.gopher_repetition import GopherRepetition

PROSE = ("The history of the river town is told in its bridges and mills. Over two centuries the people "
         "who lived there built to cross the water and to use its power, and that work shaped the streets "
         "we walk today. Each generation added something new, and many of the old buildings still stand "
         "beside the water with their stone walls and timber roofs. Visitors come to see them and to learn "
         "how the town grew from a few farms into a busy place of trade. ")


def judge(text, **params):
    doc = Document(text=text, id="x")
    return GopherRepetition(**params).filter(doc), doc.metadata


@pytest.mark.parametrize("text, reason", [
    (PROSE, None),
    ("", "empty"),
    ("   \n\t ", None),  # whitespace only: nothing repeats (datatrove keeps it too)
    ("one line only", "top_2_gram"),  # "one line" is 8 of 13 characters
    ("same paragraph here\n\n" * 5 + PROSE, "dup_para_frac"),
    ("a\n\nb\n\nc\n\n" + "x" * 300 + "\n\n" + "x" * 300 + "\n\n" + PROSE[:600], "dup_para_char_frac"),
    ("\n".join(["repeated line"] * 4 + [f"line {i} differs" for i in range(5)]), "dup_line_frac"),
    ("buy now " * 200, "top_2_gram"),
    (PROSE + " " + "the quick brown fox jumps over it " * 30, "top_3_gram"),
    (PROSE + "\n" + PROSE, "dup_line_frac"),
    ("重复的句子重复的句子。" * 50, "top_2_gram"),
    (PROSE * 50, "dup_5_gram"),
])
def test_gopher_repetition_reasons(text, reason):
    assert judge(text)[0] == reason


def test_thresholds_are_strict_greater_than():
    # 4 lines, one repeat: dup_line_frac = 1/4 exactly
    text = "alpha beta\nalpha beta\ngamma delta\nepsilon zeta"
    assert judge(text, dup_line_frac=0.25, dup_line_char_frac=None, dup_para_frac=None, dup_para_char_frac=None,
                 top_n_grams=[[2, 1.0]], dup_n_grams=[[5, 1.0]])[0] is None
    assert judge(text, dup_line_frac=0.24, dup_line_char_frac=None, dup_para_frac=None, dup_para_char_frac=None,
                 top_n_grams=[[2, 1.0]], dup_n_grams=[[5, 1.0]])[0] == "dup_line_frac"


def test_records_every_signal_when_keeping():
    reason, meta = judge(PROSE)
    assert reason is None
    assert {f"gopher_repetition__{s}" for s in GopherRepetition.signals} <= set(meta)
    assert 0 <= meta["gopher_repetition__top_2_gram_char_frac"] < 0.2


def test_very_long_text_is_fast_enough():
    import time

    start = time.process_time()
    judge(PROSE * 400)
    assert time.process_time() - start < 5


def test_duplicated_ngrams_are_datatrove_scan_exactly():
    """Words whose concatenations collide ("ab" "a" vs "a" "ba"), repeats that overlap the positions
    the scan jumps over, and hashes forced to collide: always datatrove's `find_all_duplicate`."""
    import random

    import numpy as np
    from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate

    from curate.core.textfeatures import TextFeatures

    rng = random.Random(0)
    for _ in range(400):
        vocab = ["a", "ab", "b", "ba", "abc", "c", "bab"][: rng.randint(2, 7)]
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 60)))
        feats, collide = TextFeatures(text, "en"), TextFeatures(text, "en")
        collide.__dict__["_char_hashes"] = np.zeros(len(collide._joined) + 1, dtype=np.uint64)  # equal lengths: equal hashes
        for n in range(1, 11):
            want = find_all_duplicate(feats.words, n)
            assert feats.dup_ngram_chars(n) == want, (text, n)
            assert collide.dup_ngram_chars(n) == want, (text, n)
