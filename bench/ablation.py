"""Benchmark: the ablation trainer, against a plain eager PyTorch loop, and the planted-damage sweep.

    python -m bench.ablation              # throughput table, then pipelines/ablation_damage.yaml (6 x 3 x 1M tokens)
    python -m bench.ablation --quick      # throughput only, few steps: under a minute
    python -m bench.ablation --sweep-only # the sweep only

1. Throughput (bar: >= 1.3x). The same model (ablation/model.py at the sweep's size), the same batch
   and the same random tokens, trained for the same steps: a plain eager loop (fp32,
   torch.optim.AdamW defaults, `threads` threads), then curate.ablation.train.train as the sweep runs it
   (bf16 autocast where the CPU has native bf16, fused AdamW), then two such runs side by side in
   two 1-thread processes (the sweep's `workers: 2`), counted as their summed tokens/s.
2. The sweep (bars: every damaged variant's held-out loss CI above the clean baseline's, and the
   whole 6-variant x 3-seed sweep, >= 1M training tokens per run, in < 30 min), timed end to end
   into a fresh folder (the decontamination index may come from the cache).

Other engineers share this machine's 2 cores: the load average is printed beside every figure.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from curate.ablation.model import GPT  # noqa: E402
from curate.ablation.train import TrainConfig, resolve_device, train  # noqa: E402


def plain_loop(cfg: TrainConfig, tokens: np.ndarray, vocab: int, steps: int) -> float:
    """tokens/s of the textbook loop: eager, fp32, default AdamW, same model and batch."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(0)
    model = GPT(cfg.model_config(vocab))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                  weight_decay=cfg.weight_decay)
    data = torch.from_numpy(tokens.astype(np.int64))
    rng = np.random.default_rng(0)
    start = None
    for step in range(steps + 3):
        if step == 3:  # the first steps allocate; time the rest
            start = time.perf_counter()
        i = torch.from_numpy(rng.integers(0, len(tokens) - cfg.block_size - 1, cfg.batch_size))[:, None]
        batch = data[i + torch.arange(cfg.block_size + 1)]
        _, loss = model(batch[:, :-1], batch[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad()
    return steps * cfg.batch_size * cfg.block_size / (time.perf_counter() - start)


def ours(cfg: TrainConfig, tokens: np.ndarray, vocab: int, steps: int) -> float:
    n = (steps + 3) * cfg.batch_size * cfg.block_size + 1
    result = train(TrainConfig(**{**cfg.__dict__, "tokens": n - 1, "log_every": 10**9}), tokens[:n], vocab, seed=0)
    return result.tokens_per_second


def _ours_one_thread(args) -> float:
    cfg, tokens, vocab, steps = args
    return ours(TrainConfig(**{**cfg.__dict__, "threads": 1}), tokens, vocab, steps)


def throughput(cfg: TrainConfig, vocab: int, steps: int) -> dict:
    tokens = np.random.default_rng(0).integers(1, vocab, (steps + 4) * cfg.batch_size * cfg.block_size + 2,
                                               dtype=np.uint16)
    params = GPT(cfg.model_config(vocab)).num_params()
    device, bf16, _ = resolve_device(cfg)
    rows = []
    load = os.getloadavg()[0]
    rows.append(("plain eager loop (fp32, AdamW defaults)", plain_loop(cfg, tokens, vocab, steps), load))
    load = os.getloadavg()[0]
    rows.append((f"curate.ablation.train (bf16 {bf16}, fused AdamW), {cfg.threads} thread(s)", ours(cfg, tokens, vocab, steps),
                 load))
    load = os.getloadavg()[0]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        two = sum(pool.map(_ours_one_thread, [(cfg, tokens, vocab, steps)] * 2))
    rows.append(("curate.ablation.train x 2 processes, 1 thread each (workers: 2)", two, load))
    base = rows[0][1]
    print(f"\nmodel: {params:,} parameters ({params / 1e6:.2f}M), vocab {vocab}, context {cfg.block_size}, "
          f"batch {cfg.batch_size}, {steps} steps, device {device}")
    print(f"{'trainer':<62} {'tokens/s':>10} {'ratio':>6} {'load':>5}")
    for name, tps, ld in rows:
        print(f"{name:<62} {tps:>10,.0f} {tps / base:>6.2f} {ld:>5.1f}")
    return {"params": params, "plain_tokens_per_s": round(base), "ours_tokens_per_s": round(rows[1][1]),
            "ours_2proc_tokens_per_s": round(two), "ratio": round(rows[1][1] / base, 2),
            "ratio_2proc": round(two / base, 2)}


def sweep(config_path: Path, output: Path | None) -> dict:
    from curate.ablation.run import load_config, run_ablation

    out = Path(output) if output else Path(tempfile.mkdtemp(prefix="bench-ablation-"))
    shutil.rmtree(out, ignore_errors=True)
    load0 = os.getloadavg()
    start = time.perf_counter()
    result = run_ablation(load_config(config_path), output=out, log=lambda m: print(m, flush=True))
    seconds = time.perf_counter() - start
    loss = {r["variant"]: r for r in result["summary"] if r["metric"] == "heldout_loss"}
    base = result["run"]["config"]["baseline"].get("name", "baseline")
    separated = {v: r["value_ci_low"] > loss[base]["value_ci_high"] for v, r in loss.items() if v != base}
    runs = result["results"]
    print(f"\nsweep: {len(loss)} variants x {len(result['run']['config']['seeds'])} seeds, "
          f"{runs[0]['tokens']:,} training tokens per run, model {result['run']['model_params']:,} parameters: "
          f"{seconds / 60:.1f} min; load average at start {load0[0]:.1f}, at end {os.getloadavg()[0]:.1f}")
    print("damaged variants whose held-out loss CI lies above the baseline's: "
          + ", ".join(f"{v}={'yes' if ok else 'NO'}" for v, ok in separated.items()))
    return {"sweep_minutes": round(seconds / 60, 2), "variants": len(loss), "runs": len(runs),
            "tokens_per_run": runs[0]["tokens"], "model_params": result["run"]["model_params"],
            "mean_train_tokens_per_s": round(float(np.mean([r["tokens_per_second"] for r in runs]))),
            "separated": separated, "all_separated": all(separated.values()), "output": str(out),
            "loadavg_start": round(load0[0], 1), "loadavg_end": round(os.getloadavg()[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="throughput only, few steps")
    parser.add_argument("--sweep-only", action="store_true")
    parser.add_argument("--config", default=str(REPO / "pipelines" / "ablation_damage.yaml"))
    parser.add_argument("--output", help="sweep folder (default: a fresh temporary folder)")
    args = parser.parse_args()
    from curate.ablation.run import load_config

    config = load_config(args.config)
    cfg = TrainConfig(**config["train"])
    vocab = config["tokenizer"]["vocab_size"]
    figures = {"loadavg": round(os.getloadavg()[0], 1)}
    if not args.sweep_only:
        figures["throughput"] = throughput(cfg, vocab, steps=10 if args.quick else 40)
    if not args.quick:
        figures["sweep"] = sweep(Path(args.config), args.output)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
