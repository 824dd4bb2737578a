"""Dedup against an earlier run's MinHash index (filters/minhash/index.py), issue 18's bar.

A run over half A of a corpus, then a run over half B given A's index, must drop from B exactly
the documents that one run over A + B drops from B, when A's documents come first. In one run the
document a cluster keeps is the one with the smallest order key (a hash of id and source file), so
"A first" is built into the names: every A document gets an id whose key is below 2**63, every B
document one above (a few tries each), and the test checks the keys the run actually used.

The corpus: real pages (WCXB's gold main texts, bench/corpus.py) with edited copies at several
rates, copies of copies (chains), exact copies, and CS336's real near-duplicate licence files, each
document put in A or B at random so clusters straddle the halves; plus "bridges": a B document
whose two edited copies, in A, are too far apart to be paired with each other.
"""

import json
import random

import pytest
import xxhash

from curate.core.config import RecipeError, load_recipe
from curate.pipelines import runner
from tests.dedup_helpers import decisions, kept_ids, mutate

RATES = (0.0, 0.01, 0.03, 0.05)
HALF = 1 << 63


def order_key(doc_id: str, file_path: str) -> int:  # signatures.order_key, recomputed independently
    return xxhash.xxh3_64_intdigest(f"{doc_id}\x00{file_path}".encode())


def named(doc_id: str, file_path: str, first: bool) -> str:
    """`doc_id` with the shortest suffix that puts its order key in A's half (first) or B's."""
    for k in range(10_000):
        candidate = f"{doc_id}~{k}"
        if (order_key(candidate, file_path) < HALF) == first:
            return candidate
    raise AssertionError("no suffix found")


def build_corpus(shared) -> tuple[list[dict], list[dict], list[tuple[str, str, str]]]:
    from bench.corpus import documents

    rnd = random.Random(18)
    bases = documents(300, words=300)
    docs = [{"id": f"p{i}", "text": t} for i, t in enumerate(bases)]
    for i, text in enumerate(bases[:100]):
        copies = [mutate(text, rate, rnd) if rate else text for rate in RATES]
        docs += [{"id": f"p{i}-e{k}", "text": c} for k, c in enumerate(copies)]
        docs.append({"id": f"p{i}-chain", "text": mutate(copies[-1], 0.05, rnd)})  # a copy of a copy
    fuzzy = sorted((shared / "near_dup" / "cs336_fixtures" / "documents_with_fuzzy_duplicates").glob("*.txt"))
    docs += [{"id": f"cs336/{p.name}", "text": p.read_text()} for p in fuzzy]
    a, b = [], []
    for doc in docs:
        (a if rnd.random() < 0.5 else b).append(doc)
    bridges = []
    for i, text in enumerate(bases[200:230]):  # a1 -- b -- a2 with a1, a2 about 0.68 apart
        middle = mutate(text, 0.02, rnd)
        a += [{"id": f"bridge{i}-a1", "text": text}, {"id": f"bridge{i}-a2", "text": mutate(middle, 0.02, rnd)}]
        b.append({"id": f"bridge{i}-b", "text": middle})
        bridges.append((f"bridge{i}-a1", f"bridge{i}-b", f"bridge{i}-a2"))
    return a, b, bridges


def write_half(folder, docs: list[dict], prefix: str, first: bool, files: int = 3) -> dict[str, str]:
    """Write `docs` to `prefix`{k}.jsonl with ids renamed into their half; new id -> old id."""
    folder.mkdir(parents=True)
    names = {}
    for k in range(files):
        path = f"{prefix}{k}.jsonl"
        with open(folder / path, "w") as f:
            for doc in docs[k::files]:
                new = named(doc["id"], path, first)
                names[new] = doc["id"]
                f.write(json.dumps({"id": new, "text": doc["text"]}) + "\n")
    return names


def run_dedup(inputs: list, output, tasks: int = 1, stages=None):
    """A recipe run over several input folders (dedup_helpers.run_dedup takes one)."""
    import yaml

    recipe = {"name": "dedup", "input": [str(p) for p in inputs], "output": str(output),
              "executor": {"type": "local", "tasks": tasks, "workers": 1}, "stages": stages}
    return runner.run(load_recipe(text=yaml.safe_dump(recipe)), progress=False)


def stages(**extra):
    return [{"minhash": {"buffer_records": 3000, **extra}}]


@pytest.fixture(scope="module")
def runs(shared, tmp_path_factory):
    root = tmp_path_factory.mktemp("index")
    a, b, bridges = build_corpus(shared)
    names_a = write_half(root / "A", a, "a", first=True)
    names_b = write_half(root / "B", b, "b", first=False)
    run_dedup([root / "A", root / "B"], root / "single", tasks=2, stages=stages())
    run_dedup([root / "A"], root / "runA", tasks=16, stages=stages())  # 16 tasks > 14 bands: split hash ranges
    run_dedup([root / "B"], root / "runB", tasks=3, stages=stages(against=[str(root / "runA")]))
    return {"root": root, "A": names_a, "B": names_b, "bridges": bridges}


def rows(out, ids):
    return {r[0]: r[1:] for r in decisions(out, "id, reason, minhash__cluster_size, minhash__duplicate_of")
            if r[0] in ids}


def test_a_files_come_first_in_the_single_run(runs):
    import duckdb

    keys = duckdb.sql(f"SELECT id, key FROM '{runs['root']}/single/dedup/minhash/docs/*.parquet'").fetchall()
    assert len(keys) == len(runs["A"]) + len(runs["B"])
    assert max(k for i, k in keys if i in runs["A"]) < min(k for i, k in keys if i in runs["B"])


def test_run_b_against_a_drops_the_same_documents_as_one_run_over_a_and_b(runs):
    root = runs["root"]
    single, two = rows(root / "single", runs["B"]), rows(root / "runB", runs["B"])
    assert set(single) == set(two) == set(runs["B"])
    dropped_single = {i for i, r in single.items() if r[0] is not None}
    dropped_two = {i for i, r in two.items() if r[0] is not None}
    assert dropped_two == dropped_single
    reasons = [r[0] for r in two.values() if r[0] is not None]
    print(f"\nB: {len(two)} documents; dropped by one run over A+B: {len(dropped_single)}; "
          f"by a run over B against A's index: {len(dropped_two)} "
          f"({reasons.count('minhash:duplicate_of_earlier_run')} as duplicate_of_earlier_run)")
    assert reasons.count("minhash:duplicate_of_earlier_run") >= 50 and reasons.count("minhash:duplicate") >= 10
    # an earlier-run duplicate names the neighbour it matched: a document of A, or a B document
    # itself matched to A (a chain); a kept document's cluster is B's own, the same size in both
    reasons_earlier = "minhash:duplicate_of_earlier_run"
    named_a = [r[2] in runs["A"] for r in two.values() if r[0] == reasons_earlier]
    assert all(r[2] in runs["A"] or two[r[2]][0] == r[0] for r in two.values() if r[0] == reasons_earlier)
    assert sum(named_a) >= 0.8 * len(named_a)
    assert {i: r[1] for i, r in two.items() if r[0] is None} == {i: r[1] for i, r in single.items() if r[0] is None}


def test_every_kept_document_has_a_cluster_size(runs):
    kept = [r for r in decisions(runs["root"] / "runB", "reason, minhash__cluster_size") if r[0] is None]
    assert kept and all(size is not None and size >= 1 for _, size in kept)
    assert {size for _, size in kept} >= {1, 2}  # B keeps singletons and members of B-only clusters


def test_a_b_document_bridging_two_a_documents(runs):
    """In one run, b links a1 and a2 into one cluster, so that run drops one of them; run A kept
    both (they are too far apart to pair). B's side agrees: b is dropped by both."""
    root, rename = runs["root"], {old: new for new, old in {**runs["A"], **runs["B"]}.items()}
    run_a, single, two = (rows(root / name, set(rename.values())) for name in ("runA", "single", "runB"))
    bridged = [(rename[a1], rename[b], rename[a2]) for a1, b, a2 in runs["bridges"]
               if run_a[rename[a1]][0] is None and run_a[rename[a2]][0] is None]
    merged = [t for t in bridged if single[t[0]][0] is not None or single[t[2]][0] is not None]
    print(f"\nbridges: {len(bridged)} with both A ends kept by run A, {len(merged)} merged by the single run")
    assert merged  # the corner case happens: one run drops an A document that run A kept
    for a1, b, a2 in merged:
        assert single[b][0] is not None and two[b][0] == "minhash:duplicate_of_earlier_run"
        assert two[b][2] in (a1, a2)


def test_the_index_is_saved_with_its_parameters(runs):
    index = runs["root"] / "runB" / "dedup" / "minhash" / "index"
    manifest = json.loads((index / "manifest.json").read_text())
    assert {k: manifest[k] for k in ("num_perm", "bands", "rows", "n", "unit", "seed", "tasks")} == {
        "num_perm": 112, "bands": 14, "rows": 8, "n": 5, "unit": "word", "seed": 1, "tasks": 3}
    import numpy as np

    from curate.filters.minhash.runs import RECORD

    for band in range(14):
        files = sorted((index / "bands" / f"{band:03d}").glob("*.bin"))
        records = np.concatenate([np.fromfile(f, RECORD) for f in files])
        assert (np.diff(records["h"].astype(np.float64)) >= 0).all()  # sorted across the range files
        signed = len(runs["B"])  # every B document is signed (none is dropped before the stage)
        assert len(records) == signed
    assert not any(index.rglob("*.txt")) and not any(index.rglob("*.jsonl*"))  # no text is saved


def test_an_index_built_with_other_parameters_is_refused(runs, tmp_path):
    with pytest.raises(RecipeError, match=r"built with bands=14, this run has bands=16") as error:
        run_dedup([runs["root"] / "B"], tmp_path / "out", stages=[{"minhash": {
            "bands": 16, "rows": 7, "against": [str(runs["root"] / "runA")]}}])
    assert "\n" not in str(error.value)
    with pytest.raises(RecipeError, match="holds no MinHash index"):
        run_dedup([runs["root"] / "B"], tmp_path / "out2", stages=stages(against=[str(tmp_path)]))


def test_a_third_run_against_both_earlier_runs(runs, tmp_path):
    """C = copies of A and B documents: dropped against both indexes, kept against none."""
    root = runs["root"]
    rnd = random.Random(3)
    sources = [json.loads(line) for path in sorted((root / "A").glob("*.jsonl")) + sorted((root / "B").glob("*.jsonl"))
               for line in path.read_text().splitlines()]
    picked = rnd.sample(sources, 40)
    folder = tmp_path / "C"
    folder.mkdir()
    (folder / "c.jsonl").write_text("".join(json.dumps({"id": f"c-{d['id']}", "text": d["text"]}) + "\n"
                                            for d in picked))
    run_dedup([folder], tmp_path / "runC", stages=stages(against=[str(root / "runA"), str(root / "runB")]))
    reasons = [r[0] for r in decisions(tmp_path / "runC", "reason")]
    assert reasons == ["minhash:duplicate_of_earlier_run"] * 40
    assert not kept_ids(tmp_path / "runC")


def test_an_earlier_document_represents_its_bucket_whatever_its_key():
    """In a bucket, documents of earlier indexes come first (index order), then the run's own, each
    by order key: the edges go to the earliest, and none joins two earlier documents."""
    import numpy as np

    from curate.filters.minhash.buckets import bucket_edges
    from curate.filters.minhash.index import EARLIER, TASK_BITS, is_earlier
    from curate.filters.minhash.runs import RECORD

    def ref(task, position):
        return (task << 32) | position

    own, first_index, second_index = ref(0, 5), ref(EARLIER, 7), ref(EARLIER + (1 << TASK_BITS), 3)
    block = np.array([(9, own), (9, first_index), (9, second_index), (9, ref(1, 2))], RECORD)
    block.sort(order=["h", "ref"])
    keys = {own: 1, ref(1, 2): 2, first_index: 900, second_index: 5}  # the earlier ones have larger keys
    edges = bucket_edges(block, lambda refs: np.array([keys[int(r)] for r in refs], np.uint64))
    assert sorted(map(tuple, edges.tolist())) == [(first_index, own), (first_index, ref(1, 2))]
    alone = bucket_edges(block[~is_earlier(block["ref"])], lambda refs: np.array([keys[int(r)] for r in refs], np.uint64))
    assert alone.tolist() == [(own, ref(1, 2))]  # without earlier documents: the smallest key, as before
