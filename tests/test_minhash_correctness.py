"""MinHash against brute force: real pages with planted near-duplicates at known edit rates.

Two corpora: `tuning`, on which `min_similarity` was chosen, and `held-out` (other pages, other
edits), which checks that choice. Every pair's exact Jaccard on the very shingles the signatures use is computed by brute force
(sparse matrix product); a pair is *caught* when both documents end in the same cluster. Bars
(issue 5): pairs with J >= 0.8 caught with recall >= 0.97; >= 97% of reported duplicate pairs
(a dropped document and the one it names as `duplicate_of`) have J >= 0.7. Run with -s to see the table beside
the S-curve 1 - (1 - J^rows)^bands of the chosen 14 x 8.
"""

import random

import numpy as np
import pytest

from curate.core.hashing import shingles
from tests.dedup_helpers import decisions, mutate, run_dedup, write_jsonl

pytestmark = pytest.mark.integration
BANDS, ROWS = 14, 8
RATES = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08)


def corpus(shared, split: str) -> list[dict]:
    """`tuning`: the corpus `min_similarity` was chosen on; `held-out`: other pages, other edits."""
    from bench.corpus import documents

    bases = documents(720, words=300)
    bases, seed = (bases[:360], 5) if split == "tuning" else (bases[360:], 11)
    rnd = random.Random(seed)
    docs = [{"id": f"p{i}", "text": t} for i, t in enumerate(bases)]
    for i, text in enumerate(bases[:120]):
        for k, rate in enumerate(RATES):
            docs.append({"id": f"p{i}-e{k}", "text": mutate(text, rate, rnd)})
    fixtures = shared / "near_dup" / "cs336_fixtures"
    for path in sorted(fixtures.rglob("*.txt")):
        text = path.read_text(errors="replace")
        if text.strip():
            docs.append({"id": f"cs336/{path.parent.name}/{path.name}", "text": text})
    rnd.shuffle(docs)
    return docs


def exact_jaccard(texts: list[str]) -> np.ndarray:
    from scipy.sparse import csr_matrix

    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        for s in set(shingles(text, 5)):
            rows.append(i)
            cols.append(vocab.setdefault(s, len(vocab)))
    x = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(texts), len(vocab)))
    inter = (x @ x.T).toarray()
    sizes = np.asarray(x.sum(axis=1)).ravel()
    union = sizes[:, None] + sizes[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def s_curve(j: float) -> float:
    return 1 - (1 - j**ROWS) ** BANDS


@pytest.mark.parametrize("split", ["tuning", "held-out"])
def test_recall_and_precision_against_brute_force_jaccard(shared, tmp_path, split):
    docs = corpus(shared, split)
    run_dedup(write_jsonl(tmp_path / "in", docs), tmp_path / "out", tasks=2, mode="annotate", stages=[{"minhash": {}}])
    index = {d["id"]: i for i, d in enumerate(docs)}
    jac = exact_jaccard([d["text"] for d in docs])
    cluster = np.full(len(docs), -1)
    names: dict[str, int] = {}
    reported = []
    for doc_id, cluster_id, dup_of in decisions(tmp_path / "out", "id, minhash__cluster_id, minhash__duplicate_of"):
        if cluster_id is not None:
            cluster[index[doc_id]] = names.setdefault(cluster_id, len(names))
        if dup_of is not None:
            reported.append((index[doc_id], index[dup_of]))
    i, j = np.triu_indices(len(docs), k=1)
    pair_j = jac[i, j]
    caught = (cluster[i] == cluster[j]) & (cluster[i] >= 0)
    edges = [0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0001]
    print(f"\n{split}: {len(docs)} documents, {len(reported)} reported duplicates; word 5-grams, {BANDS} x {ROWS}")
    print(f"{'Jaccard':>12} {'pairs':>8} {'caught':>8} {'recall':>7} {'S-curve':>8}")
    for lo, hi in zip(edges, edges[1:]):
        sel = (pair_j >= lo) & (pair_j < hi)
        n = int(sel.sum())
        rate = caught[sel].mean() if n else float("nan")
        print(f"[{lo:.2f},{min(hi, 1):.2f}{')' if hi < 1 else ']'} {n:8d} {int(caught[sel].sum()):8d} {rate:7.3f} "
              f"{s_curve((lo + min(hi, 1)) / 2):8.3f}")
    high = pair_j >= 0.8
    recall = caught[high].mean()
    precision = np.mean([jac[a, b] >= 0.7 for a, b in reported])
    print(f"recall (J >= 0.8) = {recall:.4f} over {int(high.sum())} pairs; "
          f"precision (reported pairs with J >= 0.7) = {precision:.4f} over {len(reported)} pairs")
    assert high.sum() >= 300 and len(reported) >= 300
    assert recall >= 0.97
    assert precision >= 0.97
