"""The clusters pass in bounded memory: equal to a brute-force union-find at tiny buffers (every
spill and merge path runs), peak memory flat in the number of duplicated documents, resumable."""

import random
import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datatrove.io import get_datafolder

from curate.filters.minhash.clusters import DedupClusters
from curate.filters.minhash.extsort import merged, records, spill_runs
from curate.filters.minhash.runs import EDGE, make_ref


def write_inputs(folder, keys: list[list[int]], edges: list[tuple[int, int]], files: int = 3) -> None:
    for rank, k in enumerate(keys):
        table = pa.table({"key": pa.array(k, pa.uint64()), "id": [f"t{rank}d{i}" for i in range(len(k))]})
        with folder.open(f"docs/{rank:05d}.parquet", "wb") as f:
            pq.write_table(table, f)
    array = np.array(edges, EDGE)
    for k in range(files):
        with folder.open(f"edges/{k:05d}.bin", "wb") as f:
            f.write(array[k::files].tobytes())


def brute_force(keys: list[list[int]], edges: list[tuple[int, int]]) -> list[list[dict]]:
    """Union-find, the kept document (smallest (key, ref)) and the matched neighbour, per task."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        parent[find(a)] = find(b)
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    order = {ref: (keys[ref >> 32][ref & 0xFFFFFFFF], ref) for ref in neighbours}
    members: dict[int, list[int]] = {}
    for ref in neighbours:
        members.setdefault(find(ref), []).append(ref)
    rows: list[list[dict]] = [[] for _ in keys]
    name = {ref: f"t{ref >> 32}d{ref & 0xFFFFFFFF}" for ref in neighbours}
    for group in members.values():
        kept = min(group, key=order.get)
        for ref in group:
            partner = kept if kept in neighbours[ref] else min(neighbours[ref], key=order.get)
            rows[ref >> 32].append({"position": ref & 0xFFFFFFFF, "cluster_id": name[kept], "cluster_size": len(group),
                                    "kept": ref == kept, "duplicate_of": None if ref == kept else name[partner],
                                    "earlier": False})
    return [sorted(r, key=lambda row: row["position"]) for r in rows]


def graph(seed: int, tasks: int = 3, per: int = 80, key_range: int = 1000):
    """Chains (long ones need many rounds), stars, cycles, cliques and random pairs over documents
    shuffled across tasks; repeated and reversed edges; key ties when key_range is small."""
    rnd = random.Random(seed)
    keys = [[rnd.randrange(key_range) for _ in range(per)] for _ in range(tasks)]
    refs = [int(make_ref(t, p)) for t in range(tasks) for p in range(per)]
    rnd.shuffle(refs)
    edges, at = [], 0

    def take(n):
        nonlocal at
        at += n
        return refs[at - n:at]

    chain = take(40)
    edges += list(zip(chain, chain[1:]))
    hub, *leaves = take(15)
    edges += [(leaf, hub) if i % 2 else (hub, leaf) for i, leaf in enumerate(leaves)]
    for _ in range(5):
        cycle = take(rnd.randrange(3, 9))
        edges += list(zip(cycle, cycle[1:] + cycle[:1]))
    clique = take(6)
    edges += [(a, b) for i, a in enumerate(clique) for b in clique[i + 1:]]
    while at + 2 <= len(refs) - 10:
        edges.append(tuple(take(2)))
    edges += rnd.sample(edges, 20) + [(b, a) for a, b in rnd.sample(edges, 20)]
    rnd.shuffle(edges)
    return keys, edges


def clusters_of(folder, tasks: int) -> list[list[dict]]:
    return [pq.read_table(folder.open(f"clusters/{r:05d}.parquet", "rb")).to_pylist() for r in range(tasks)]


@pytest.mark.parametrize("seed,key_range,max_records", [(0, 1000, 7), (1, 4, 7), (2, 1 << 60, 100), (3, 4, 1 << 20)])
def test_clusters_equal_a_brute_force_union_find(tmp_path, seed, key_range, max_records):
    folder = get_datafolder(str(tmp_path))
    keys, edges = graph(seed, key_range=key_range)
    write_inputs(folder, keys, edges)
    list(DedupClusters(str(tmp_path), max_records=max_records).run(iter([]), 0, 1))
    assert clusters_of(folder, 3) == brute_force(keys, edges)
    assert not folder.exists("tmp/clusters")


def test_no_edges_gives_empty_cluster_files(tmp_path):
    folder = get_datafolder(str(tmp_path))
    write_inputs(folder, [[1, 2], [3]], [], files=1)
    list(DedupClusters(str(tmp_path), max_records=7).run(iter([]), 0, 1))
    assert clusters_of(folder, 2) == [[], []]


def test_a_killed_clusters_pass_rerun_gives_the_identical_result(tmp_path, monkeypatch):
    folder = get_datafolder(str(tmp_path))
    keys, edges = graph(4)
    write_inputs(folder, keys, edges)

    def killed(self, folder):
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as patch:
        patch.setattr(DedupClusters, "_write", killed)
        with pytest.raises(KeyboardInterrupt):
            list(DedupClusters(str(tmp_path), max_records=7).run(iter([]), 0, 1))
    assert folder.glob("tmp/clusters/**")  # scratch files left behind, as by a kill
    list(DedupClusters(str(tmp_path), max_records=7).run(iter([]), 0, 1))
    assert clusters_of(folder, 3) == brute_force(keys, edges)
    assert not folder.exists("tmp/clusters")


def test_merged_runs_are_sorted_through_several_merge_levels(tmp_path):
    folder = get_datafolder(str(tmp_path))
    rng = np.random.default_rng(0)
    dtype = records("a", "b", "c")
    data = np.zeros(2000, dtype)
    for name in dtype.names:
        data[name] = rng.integers(0, 4, len(data))
    paths = spill_runs(folder, "runs", (data[i:i + 33] for i in range(0, len(data), 33)), dtype, 5)
    assert len(paths) == 400  # > 16 ** 2: two levels of intermediate merges
    out = np.concatenate(list(merged(folder, paths, dtype, 5)))
    assert np.array_equal(out, np.sort(data, order=["a", "b", "c"]))
    assert not folder.glob("runs/*")


def clusters_peak_bytes(tmp_path, duplicated: int, per_task: int = 5000, max_records: int = 1 << 14) -> int:
    """tracemalloc peak (numpy's buffers included) of the clusters pass on `duplicated` documents
    in clusters of 2 to 6 spread over tasks of `per_task` documents."""
    folder = get_datafolder(str(tmp_path))
    rng = np.random.default_rng(0)
    tasks = duplicated // per_task
    for rank in range(tasks):
        table = pa.table({"key": rng.integers(0, 1 << 63, per_task, dtype=np.uint64),
                          "id": [f"t{rank}d{i}" for i in range(per_task)]})
        with folder.open(f"docs/{rank:05d}.parquet", "wb") as f:
            pq.write_table(table, f)
    refs = rng.permutation(np.concatenate([make_ref(r, np.arange(per_task)) for r in range(tasks)]))
    size = rng.integers(2, 7, len(refs))
    same = np.repeat(np.arange(len(refs)), size)[: len(refs)]  # cluster number of each document
    first = np.r_[True, same[1:] != same[:-1]]
    first[-1] = False  # no cluster of one at the end
    edges = np.empty(int((~first).sum()), EDGE)
    edges["a"], edges["b"] = refs[:-1][~first[1:]], refs[1:][~first[1:]]  # a chain through each cluster
    with folder.open("edges/00000.bin", "wb") as f:
        f.write(edges.tobytes())
    del refs, size, same, first, edges
    tracemalloc.start()
    list(DedupClusters(str(tmp_path), max_records=max_records).run(iter([]), 0, 1))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows = sum(pq.read_metadata(folder.resolve_paths(p)).num_rows for p in folder.glob("clusters/*.parquet"))
    assert rows == duplicated  # every document is in a cluster of two or more
    return peak


def test_clusters_memory_does_not_grow_with_the_duplicated_documents(tmp_path):
    small = clusters_peak_bytes(tmp_path / "small", 20_000)
    large = clusters_peak_bytes(tmp_path / "large", 200_000)
    # 10x the duplicated documents (and edges) at the same max_records and task size: measured
    # 4.6 MB and 2.4 MB, at most ~280 bytes per record of max_records (sort buffers and copies)
    assert large < 1.5 * small, (small, large)
    assert large < 400 * (1 << 14), large
