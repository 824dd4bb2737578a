"""Exact dedup: identical normalised texts collapse to one, the same one whatever the task count."""

from tests.dedup_helpers import decisions, kept_ids, run_dedup, write_jsonl

DOCS = [
    {"id": "a", "text": "The same text, word for word."},
    {"id": "b", "text": "the  SAME text,\nword for word."},  # differs only in case and whitespace
    {"id": "c", "text": "The same text, word for word!"},  # punctuation differs: not an exact copy
    {"id": "d", "text": "Something else entirely."},
    {"id": "e", "text": "The same text, word for word."},
]


def test_exact_duplicates_are_dropped_naming_the_kept_copy(tmp_path):
    inputs = write_jsonl(tmp_path / "in", DOCS, files=2)
    run_dedup(inputs, tmp_path / "one", tasks=1, stages=[{"exact_dedup": {}}])
    rows = {r[0]: r[1:] for r in decisions(tmp_path / "one", "id, reason, exact_dedup__duplicate_of, "
                                           "exact_dedup__cluster_size, exact_dedup__kept")}
    group = [k for k in "abe"]
    kept = [k for k in group if rows[k][0] is None]
    assert len(kept) == 1
    for k in group:
        if k not in kept:
            assert rows[k] == ("exact_dedup:duplicate", kept[0], 3, False)
    assert rows["c"] == (None, None, 1, True) and rows["d"] == (None, None, 1, True)
    run_dedup(inputs, tmp_path / "two", tasks=2, stages=[{"exact_dedup": {}}])
    assert kept_ids(tmp_path / "two") == kept_ids(tmp_path / "one") == {kept[0], "c", "d"}


def test_annotate_mode_drops_nothing(tmp_path):
    run_dedup(write_jsonl(tmp_path / "in", DOCS, files=1), tmp_path / "out", mode="annotate",
              stages=[{"exact_dedup": {}}])
    assert len(kept_ids(tmp_path / "out")) == 5
    reasons = [r[0] for r in decisions(tmp_path / "out", "exact_dedup__reason")]
    assert reasons.count("exact_dedup:duplicate") == 2
