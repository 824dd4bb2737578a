"""Sorted runs merge exactly; clusters are the connected components; buckets shard by range."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datatrove.io import get_datafolder

from curate.filters.minhash.buckets import bucket_edges, units_of
from curate.filters.minhash.clusters import DedupClusters
from curate.filters.minhash.runs import EDGE, RECORD, RunReader, make_ref, merge_runs, write_run


@pytest.mark.parametrize("lo,hi,block", [(0, 1 << 64, 7), (10, 30, 5), (0, 1 << 64, 100000)])
def test_merge_runs_yields_the_sorted_union_without_splitting_a_key(tmp_path, lo, hi, block):
    rng = np.random.default_rng(0)
    folder = get_datafolder(str(tmp_path))
    everything = []
    for k in range(5):
        records = np.zeros(int(rng.integers(0, 2000)), RECORD)
        records["h"], records["ref"] = rng.integers(0, 50, len(records)), rng.integers(0, 1 << 40, len(records))
        write_run(folder, f"r{k}.bin", records)
        everything.append(records)
    blocks = list(merge_runs([RunReader(folder, f"r{k}.bin", block=block, lo=lo, hi=hi) for k in range(5)]))
    expected = np.sort(np.concatenate(everything), order=["h", "ref"])
    expected = expected[(expected["h"] >= lo) & (expected["h"] < hi)]
    assert np.array_equal(np.concatenate(blocks), expected)
    keys = [set(b["h"].tolist()) for b in blocks]
    assert all(not (a & b) for a, b in zip(keys, keys[1:]))


def test_bucket_edges_join_each_bucket_to_its_first_document():
    block = np.array([(1, 10), (1, 11), (1, 12), (2, 13), (3, 14), (3, 15)], RECORD)
    assert bucket_edges(block).tolist() == [(10, 11), (10, 12), (14, 15)]


def test_bucket_edges_join_each_bucket_to_its_smallest_key_whatever_the_refs():
    """The representative is chosen by order key, so another split into tasks (other refs for the
    same documents) gives the same edges; singleton buckets cost no key lookup."""
    keys = {"a": 7, "b": 3, "c": 9, "d": 1, "e": 5, "f": 5}
    buckets = [(1, "a"), (1, "b"), (1, "c"), (2, "d"), (3, "e"), (3, "f")]
    found = []
    for refs in ({"a": 10, "b": 11, "c": 12, "d": 13, "e": 14, "f": 15},
                 {"a": 1 << 32, "b": 5, "c": 2, "d": 0, "e": 3, "f": 4}):
        names = {ref: name for name, ref in refs.items()}
        looked_up = []

        def key_of(r, names=names, looked_up=looked_up):
            looked_up.extend(r.tolist())
            return np.array([keys[names[int(x)]] for x in r], np.uint64)

        block = np.sort(np.array([(h, refs[name]) for h, name in buckets], RECORD), order=["h", "ref"])
        found.append(sorted((names[a], names[b]) for a, b in bucket_edges(block, key_of).tolist()))
        assert refs["d"] not in looked_up
    # b has the smallest key of bucket 1; e and f tie on the key and the smaller ref wins
    assert found[0][:2] == found[1][:2] == [("b", "a"), ("b", "c")]
    assert found[0][2] == ("e", "f") and found[1][2] == ("e", "f")
    assert len(bucket_edges(np.array([(1, 5), (2, 6)], RECORD), lambda r: r)) == 0  # singletons only


def test_units_cover_every_band_and_hash_range_exactly_once():
    for world in (1, 3, 14, 20, 40):
        units = [u for rank in range(world) for u in units_of(rank, world, 14)]
        assert sorted({band for band, _, _ in units}) == list(range(14))
        for band in range(14):
            ranges = sorted((lo, hi) for b, lo, hi in units if b == band)
            assert ranges[0][0] == 0 and ranges[-1][1] == 1 << 64
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def test_clusters_are_connected_components_keeping_the_smallest_key(tmp_path):
    folder = get_datafolder(str(tmp_path))
    # task 0: positions 0..5, task 1: positions 0..3; a chain 0-1-2 (task 0) + 1:0, a pair 4-5, a pair 0:3-1:3
    keys = {0: [50, 40, 30, 99, 7, 8], 1: [20, 1, 1, 5]}
    for rank, k in keys.items():
        table = pa.table({"key": pa.array(k, pa.uint64()), "id": [f"t{rank}d{i}" for i in range(len(k))]})
        with folder.open(f"docs/{rank:05d}.parquet", "wb") as f:
            pq.write_table(table, f)
    pairs = [((0, 1), (0, 0)), ((0, 2), (0, 1)), ((1, 0), (0, 2)), ((0, 4), (0, 5)), ((0, 3), (1, 3)), ((0, 1), (0, 2))]
    edges = np.array([(int(make_ref(*a)), int(make_ref(*b))) for a, b in pairs], EDGE)
    with folder.open("edges/00000.bin", "wb") as f:
        f.write(edges.tobytes())
    list(DedupClusters(str(tmp_path), max_records=2).run(iter([]), 0, 1))
    rows = {r: pq.read_table(folder.open(f"clusters/{r:05d}.parquet", "rb")).to_pylist() for r in (0, 1)}
    assert not any(row.pop("earlier") for r in rows.values() for row in r)  # no earlier run's index here
    # duplicate_of: the kept document when it is a neighbour, else the neighbour with the smallest key
    assert rows[0] == [
        {"position": 0, "cluster_id": "t1d0", "cluster_size": 4, "kept": False, "duplicate_of": "t0d1"},
        {"position": 1, "cluster_id": "t1d0", "cluster_size": 4, "kept": False, "duplicate_of": "t0d2"},
        {"position": 2, "cluster_id": "t1d0", "cluster_size": 4, "kept": False, "duplicate_of": "t1d0"},
        {"position": 3, "cluster_id": "t1d3", "cluster_size": 2, "kept": False, "duplicate_of": "t1d3"},
        {"position": 4, "cluster_id": "t0d4", "cluster_size": 2, "kept": True, "duplicate_of": None},
        {"position": 5, "cluster_id": "t0d4", "cluster_size": 2, "kept": False, "duplicate_of": "t0d4"},
    ]
    assert rows[1] == [{"position": 0, "cluster_id": "t1d0", "cluster_size": 4, "kept": True, "duplicate_of": None},
                       {"position": 3, "cluster_id": "t1d3", "cluster_size": 2, "kept": True, "duplicate_of": None}]
