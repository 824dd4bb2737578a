"""Annealing mode (`mode: anneal`): judge data by what it adds to the last, decaying phase of a trained model.

A from-scratch ablation pays a whole pretraining run per variant. Llama 3 (Dubey et al. 2024, section
3.1.3, "Using annealing to assess data quality") instead takes one partly trained model and, per
candidate dataset, anneals its learning rate linearly to 0 on a mix of 30% candidate data and 70% of
the default mix; the gain over annealing on the default mix alone is the candidate's value.
Ultra-FineWeb (Wang et al. 2025, arXiv:2505.05427) reports that such annealing checks cost a small
fraction of from-scratch ablations. Here:

1. one base model is trained on the reference mix (the baseline's documents) with a warmup-then-constant
   learning rate, the stable phase of a warmup-stable-decay schedule (MiniCPM, Hu et al. 2024), so that
   annealing is its natural end; it is cached under a hash of everything that decides its weights
   (tokenizer, reference tokens, train settings, seed) and shared by every variant and later runs;
2. each variant's shard is `share` of its own tokens and `1 - share` reference tokens (the same
   reference tokens for every variant); the baseline's shard, the reference alone, is the comparison;
3. each variant x seed continues the base (weights and Adam moments) for `anneal.tokens` tokens, the
   learning rate falling linearly from `lr` to `min_lr`; seeds change the order of the annealing
   data, and the paired bootstrap of `curate.ablation.report` compares every variant with the baseline.

Config (defaults below; `train:` sets the model, shared by the base and the annealing runs):
    mode: anneal
    anneal: {share: 0.3, tokens: 32768, base_tokens: null (= train.tokens), lr: null (= train.lr),
             min_lr: 0.0, cache: null (= $XDG_CACHE_HOME/curate/anneal_base)}

Example:
    cfg, init, info, manifest = prepare(out, config, variants, tokenizer, log=print)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from curate.ablation import data
from curate.ablation.train import TrainConfig, train

DEFAULTS = {"share": 0.3, "tokens": 32768, "base_tokens": None, "lr": None, "min_lr": 0.0, "cache": None}
# settings that change how fast a run goes, not the weights it ends with: left out of the base's hash
NOT_HASHED = ("threads", "log_every", "checkpoint_every", "device", "compile")


def settings(config: dict) -> dict:
    """The `anneal:` block with defaults; a bad key or share fails naming the valid ones."""
    raw = config.get("anneal") or {}
    bad = set(raw) - set(DEFAULTS)
    if bad:
        raise ValueError(f"unknown anneal setting(s) {sorted(bad)}; valid: {sorted(DEFAULTS)}")
    out = {**DEFAULTS, **raw}
    if not 0 < float(out["share"]) <= 1:
        raise ValueError(f"anneal.share must be in (0, 1], got {out['share']}")
    return out


def cache_dir(setting: str | None) -> Path:
    if setting:
        return Path(setting).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curate" / "anneal_base"


def base_config(config: dict) -> TrainConfig:
    """The base run: the sweep's model, warmup then a constant learning rate, for `base_tokens`."""
    ann = settings(config)
    tokens = ann["base_tokens"] or config["train"].get("tokens", TrainConfig.tokens)
    return TrainConfig(**{**config["train"], "tokens": int(tokens), "schedule": "constant"})


def anneal_config(config: dict) -> TrainConfig:
    """Each annealing run: the same model, the learning rate falling linearly from `lr` to `min_lr`."""
    ann = settings(config)
    lr = ann["lr"] if ann["lr"] is not None else config["train"].get("lr", TrainConfig.lr)
    return TrainConfig(**{**config["train"], "tokens": int(ann["tokens"]), "schedule": "linear_decay",
                          "lr": float(lr), "min_lr": float(ann["min_lr"]), "warmup": 0.0})


def base_key(tokenizer, tokens: np.ndarray, cfg: TrainConfig, seed: int) -> str:
    """A hash of everything that decides the base's weights."""
    h = hashlib.sha256(tokenizer.to_str().encode())
    h.update(np.ascontiguousarray(tokens, dtype=np.uint16).tobytes())
    h.update(json.dumps({k: v for k, v in asdict(cfg).items() if k not in NOT_HASHED}, sort_keys=True).encode())
    h.update(str(seed).encode())
    return h.hexdigest()[:20]


def base_model(config: dict, reference: list[str], tokenizer, log=print) -> tuple[Path, dict]:
    """The cached base checkpoint (trained now if missing) and its record: key, tokens, seconds, cached."""
    cfg = base_config(config)
    seed = config["seeds"][0]
    tokens, _ = data.sample_tokens(reference, tokenizer, cfg.tokens + 1, seed=0)
    key = base_key(tokenizer, tokens, cfg, seed)
    folder = cache_dir(settings(config)["cache"])
    path, record = folder / f"base-{key}.pt", folder / f"base-{key}.json"
    if path.is_file() and record.is_file():
        log(f"ablation: anneal base {path} (cached)")
        return path, {**json.loads(record.read_text()), "cached": True}
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"base-{key}.partial.pt"  # a killed base run resumes from here
    started = time.perf_counter()
    result = train(cfg, tokens, tokenizer.get_vocab_size(), seed, checkpoint=partial)
    os.replace(partial, path)  # the finished run's last checkpoint is the base
    info = {"key": key, "path": str(path), "tokens": result.steps * cfg.batch_size * cfg.block_size,
            "seconds": round(time.perf_counter() - started, 2), "final_loss": result.curve[-1][2]}
    record.write_text(json.dumps(info))
    log(f"ablation: anneal base trained on {info['tokens']:,} reference tokens in {info['seconds']:.0f} s: {path}")
    return path, {**info, "cached": False}


def write_shards(out: Path, config: dict, variants: dict[str, list[str]], reference: list[str], tokenizer) -> dict:
    """data/<variant>.bin: `share` of the variant's tokens, then reference tokens (the training loop shuffles
    sequences, so they mix); the reference part is the same for every variant. -> manifest per variant."""
    ann = settings(config)
    total = int(ann["tokens"]) + 1
    n_variant = round(float(ann["share"]) * total)
    # seed 1 for the reference part and 2 for the variant part: neither repeats the other, nor the base's
    # sample's order (seed 0); damaged variants keep the baseline's document order, so the baseline's
    # variant part is exactly the clean originals of each damaged variant's part
    ref_tokens, _ = data.sample_tokens(reference, tokenizer, total - n_variant, seed=1) if n_variant < total \
        else (np.empty(0, np.uint16), None)
    manifest = {}
    for name, docs in variants.items():
        shard = out / "data" / f"{name}.bin"
        if not shard.is_file():
            own, info = data.sample_tokens(docs, tokenizer, n_variant, seed=2)
            data.write_shard(shard, np.concatenate([own, ref_tokens]).astype(np.uint16))
            info = {**info, "variant_tokens": int(len(own)), "reference_tokens": int(len(ref_tokens)),
                    "share": float(ann["share"])}
            shard.with_suffix(".json").write_text(json.dumps(info))
        manifest[name] = json.loads(shard.with_suffix(".json").read_text())
    return manifest


def prepare(out: Path, config: dict, variants: dict[str, list[str]], tokenizer,
            log=print) -> tuple[TrainConfig, Path, dict, dict]:
    """(annealing TrainConfig, base checkpoint, record for run.json, data manifest) for `run_ablation`;
    the record is the `anneal:` settings, the reference variant and `base`: the base's key, path, tokens,
    training seconds, final training loss and whether it came from the cache."""
    baseline = config["baseline"].get("name", "baseline")
    reference = variants[baseline]
    init, info = base_model(config, reference, tokenizer, log)
    manifest = write_shards(out, config, variants, reference, tokenizer)
    return anneal_config(config), init, {**settings(config), "reference": baseline, "base": info}, manifest
