"""The dedup recipe on datatrove's RayPipelineExecutor, on a local Ray cluster started here."""

import pytest

from tests.dedup_helpers import decisions, planted_corpus, random_bases, run_dedup, write_jsonl

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'curate[ray]'")

COLUMNS = ("id, stage, reason, exact_dedup__duplicate_of, minhash__cluster_id, minhash__cluster_size, "
           "minhash__duplicate_of, minhash__kept")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_dedup_on_a_local_ray_cluster_equals_the_local_executor(tmp_path, local_ray):
    docs = planted_corpus(random_bases(40, seed=3), seed=3)
    inputs = write_jsonl(tmp_path / "in", docs)
    run_dedup(inputs, tmp_path / "local", tasks=4, workers=2)
    result = run_dedup(inputs, tmp_path / "ray", tasks=4, workers=2, executor="ray")
    assert result.did_work and not result.submitted
    local, on_ray = decisions(tmp_path / "local", COLUMNS), decisions(tmp_path / "ray", COLUMNS)
    assert len(local) == len(docs) and on_ray == local
    assert sum(row[2] is not None for row in local) > 40  # planted copies were found and dropped
    assert (tmp_path / "ray" / "stats.json").is_file()
