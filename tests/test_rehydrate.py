"""FineWeb-2's rehydration weights (curate/tools/rehydrate.py) against the README's table, and on
the cluster sizes a MinHash run records on every kept document."""

import numpy as np
import pytest

from curate.tools.rehydrate import rehydrated_tokens, rehydration_weight, rehydration_weights
from tests.dedup_helpers import decisions, planted_corpus, random_bases, run_dedup, write_jsonl

# FineWeb-2 README, "Deduplication": the prose table, one row per range, its edges included
TABLE = [(1, 1), (2, 2), (3, 3), (4, 3), (5, 5), (50, 5), (99, 5), (100, 8), (500, 8), (999, 8),
         (1000, 1), (10**6, 1)]


@pytest.mark.parametrize("size,copies", TABLE)
def test_fineweb2_weights(size, copies):
    assert rehydration_weight(size) == copies


def test_the_array_form_agrees_and_nulls_count_as_singletons():
    sizes = [s for s, _ in TABLE]
    assert rehydration_weights(sizes).tolist() == [c for _, c in TABLE]
    assert rehydration_weights([None, float("nan"), 2]).tolist() == [1, 1, 2]
    assert rehydration_weight(None) == 1
    assert rehydrated_tokens([100, 10, 7], [1, 3, 1000]) == 100 + 30 + 7


def test_another_table_and_bad_sizes():
    assert rehydration_weight(7, {1: 1, 5: 2}) == 2 and rehydration_weight(4, {1: 1, 5: 2}) == 1
    with pytest.raises(ValueError, match="at least one document"):
        rehydration_weight(0)
    with pytest.raises(ValueError, match="at least one document"):
        rehydration_weights(np.array([3, 0]))
    with pytest.raises(ValueError, match="start at cluster size 2"):
        rehydration_weight(1, {2: 4})


def test_on_a_minhash_run_every_kept_document_gets_a_weight(tmp_path):
    """Every third base has four copies (one exact): a kept base of a caught family has cluster
    size 5 and weight 5; a base without copies, size 1 and weight 1."""
    docs = planted_corpus(random_bases(60))
    run_dedup(write_jsonl(tmp_path / "in", docs), tmp_path / "out", stages=[{"minhash": {}}])
    kept = [(i, size) for i, reason, size in decisions(tmp_path / "out", "id, reason, minhash__cluster_size")
            if reason is None]
    assert all(size is not None for _, size in kept)
    weights = dict(zip([i for i, _ in kept], rehydration_weights([s for _, s in kept]).tolist()))
    singles = [f"b{i}" for i in range(60) if i % 3]
    assert all(weights[i] == 1 for i in singles)
    families = [w for i, w in weights.items() if i.split("-")[0] in {f"b{k}" for k in range(0, 60, 3)}]
    assert sum(families) >= 5 * 20 - 4  # 20 families of 5; a missed 2% copy splits one off (5 -> 3 + 1)
    assert families.count(5) >= 16
