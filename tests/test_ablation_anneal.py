"""Annealing mode (ablation/anneal.py): the schedules, continuing a base, the base cache, and the issue's bar."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from curate.ablation import anneal  # noqa: E402
from curate.ablation.run import load_config, run_ablation  # noqa: E402
from curate.ablation.train import TrainConfig, get_lr, train  # noqa: E402
from curate.core.config import RecipeError  # noqa: E402
from tests.conftest import REPO  # noqa: E402

TINY = dict(n_layer=1, n_head=2, n_embd=32, block_size=16, batch_size=4, threads=1, log_every=1)
CONFIG = REPO / "pipelines" / "ablation_damage_anneal_tiny.yaml"


def test_schedules_constant_base_then_linear_decay():
    base = TrainConfig(lr=1.0, min_lr=0.1, warmup=0.1, schedule="constant")
    lrs = [get_lr(s, 100, base) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and all(lr == 1.0 for lr in lrs[9:])
    decay = TrainConfig(lr=1.0, min_lr=0.0, warmup=0.5, schedule="linear_decay")  # no warmup, whatever it says
    lrs = [get_lr(s, 11, decay) for s in range(11)]
    assert lrs == pytest.approx([1.0 - s / 10 for s in range(11)])
    with pytest.raises(ValueError, match="unknown schedule"):
        get_lr(0, 10, TrainConfig(schedule="step"))


def test_annealing_continues_the_base_and_resumes_exactly(tmp_path):
    tokens = (np.arange(4 * 16 * 12 + 1) % 7).astype(np.uint16)  # a pattern the base learns in 12 steps
    base_ckpt = tmp_path / "base.pt"
    train(TrainConfig(tokens=len(tokens) - 1, schedule="constant", lr=1e-2, **TINY), tokens, 64, 0, checkpoint=base_ckpt)
    base = torch.load(base_ckpt, weights_only=False)["model"]
    # at a learning rate of 0 an annealing run leaves the base's weights as they are: it starts from them
    frozen = train(TrainConfig(tokens=len(tokens) - 1, schedule="linear_decay", lr=0.0, min_lr=0.0, **TINY),
                   tokens, 64, seed=5, init=base_ckpt)
    assert all(torch.equal(p, base[k]) for k, p in frozen.model.state_dict().items() if k in base)
    cfg = TrainConfig(tokens=len(tokens) - 1, schedule="linear_decay", lr=3e-3, min_lr=0.0, **TINY)
    whole = train(cfg, tokens, 64, seed=1, init=base_ckpt)
    scratch = train(cfg, tokens, 64, seed=1)
    assert whole.curve[0][2] < scratch.curve[0][2] - 0.5  # it starts where the base ended, not at ln(64)
    # killed mid-anneal and rerun: the run's own checkpoint wins over `init`, and it ends where the whole run does
    ckpt = tmp_path / "anneal.pt"
    train(cfg, tokens, 64, seed=1, init=base_ckpt, checkpoint=ckpt, stop_at=5)
    resumed = train(cfg, tokens, 64, seed=1, init=base_ckpt, checkpoint=ckpt)
    assert resumed.curve == whole.curve


def test_base_key_follows_what_decides_the_weights():
    from curate.tools.tokenizer import load_tokenizer

    tok = load_tokenizer("bytes")
    tokens = np.arange(100, dtype=np.uint16)
    cfg = TrainConfig(tokens=99, schedule="constant")
    key = anneal.base_key(tok, tokens, cfg, 0)
    assert anneal.base_key(tok, tokens, TrainConfig(tokens=99, schedule="constant", threads=7), 0) == key
    assert anneal.base_key(tok, tokens[::-1].copy(), cfg, 0) != key
    assert anneal.base_key(tok, tokens, TrainConfig(tokens=99, schedule="constant", lr=1e-4), 0) != key
    assert anneal.base_key(tok, tokens, cfg, 1) != key


def test_config_checks_mode_and_anneal_settings(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("baseline: {name: clean, input: [x]}\nmode: anneal\nanneal: {share: 0.3, tokns: 5}\n")
    with pytest.raises(RecipeError, match="tokns"):
        load_config(path)
    with pytest.raises(RecipeError, match="share"):
        load_config(path, ["anneal.tokns=null", "anneal={share: 1.5}"])
    with pytest.raises(RecipeError, match="unknown mode"):
        load_config(path, ["mode=warm"])


@pytest.mark.integration
def test_annealing_separates_every_damaged_variant_and_shares_one_base(shared, tmp_path, monkeypatch):
    """The issue's bar, tiny: one base model trained on the clean text, then every variant annealed from it on
    30% of its own tokens: each damaged variant's held-out loss is worse than annealing on the clean reference
    alone, the paired 95% CI above zero. A second sweep finds the base in the cache instead of training it."""
    monkeypatch.setenv("CURATE_SHARED_DATA", str(shared))
    cache = tmp_path / "cache"
    config = load_config(CONFIG, [f"anneal.cache={cache}"])
    result = run_ablation(config, output=tmp_path / "run", log=lambda m: None)
    loss = {r["variant"]: r for r in result["summary"] if r["metric"] == "heldout_loss"}
    for name in ("boilerplate", "foreign", "spam"):
        assert loss[name]["ci_low"] > 0, (name, loss[name])
    run = result["run"]
    assert run["mode"] == "anneal" and run["anneal"]["base"]["cached"] is False and run["train_config"]["schedule"] == "linear_decay"
    assert len(list(cache.glob("base-*.pt"))) == 1
    manifest = run["manifest"]
    share = config["anneal"]["share"]
    for name in loss:  # every shard: `share` of the variant's tokens, the same reference tokens after them
        assert manifest[name]["variant_tokens"] == pytest.approx(share * (config["anneal"]["tokens"] + 1), abs=1)
    shards = {name: np.fromfile(tmp_path / "run" / "data" / f"{name}.bin", dtype=np.uint16)[512:] for name in loss}
    n_ref = manifest["clean"]["reference_tokens"]
    assert all(np.array_equal(s[-n_ref:], shards["clean"][-n_ref:]) for s in shards.values())
    # another sweep over the same reference (here: only its clean variant, one seed) reuses the base
    again = run_ablation(load_config(CONFIG, [f"anneal.cache={cache}", "variants=[]", "seeds=[0]"]),
                         output=tmp_path / "run2", log=lambda m: None)
    assert again["run"]["anneal"]["base"]["cached"] is True and len(list(cache.glob("base-*.pt"))) == 1
    assert again["run"]["anneal"]["base"]["key"] == run["anneal"]["base"]["key"]
    assert run["anneal"]["base"]["tokens"] == config["anneal"]["base_tokens"]
    results = pq.read_table(tmp_path / "run" / "results.parquet").to_pylist()
    assert {r["tokens"] for r in results} == {config["anneal"]["tokens"]}
    assert json.loads((tmp_path / "run" / "run.json").read_text())["anneal"]["base"]["key"] == run["anneal"]["base"]["key"]
