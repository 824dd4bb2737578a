"""Benchmark: annealing mode against from-scratch training, on the planted-damage sweep.

    python -m bench.anneal                  # the tiny configs: about 3 sweeps x 30-60 s on 2 idle cores
    python -m bench.anneal --anneal-config pipelines/ablation_damage_anneal_tiny.yaml --scratch-config ...

Three sweeps of the same variants, seeds, model, tokenizer and held-out windows, each into a fresh folder
(and a fresh base cache, so the base model's training is timed too):
1. from scratch at the scratch config's budget (`train.tokens` per run: every token the variant's);
2. from scratch at the anneal's number of variant tokens (`anneal.share x anneal.tokens` per run);
3. annealing: one base on the reference, then every variant x seed annealed from it.
For each: wall time, summed training seconds, and every damaged variant's held-out loss delta with its
paired 95% CI (separated: the CI lies above zero). Bar (issue 19): annealing separates every damaged
variant, in less time than from-scratch training. Other engineers share this machine's 2 cores: the
load average is printed with every figure, and the CPU seconds of the sweep (this process: the tiny
configs train in it, `workers: 1`) beside its wall time, the steadier figure on a busy machine.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curate.ablation.run import load_config, run_ablation  # noqa: E402


def sweep(label: str, config: dict, folder: Path) -> dict:
    load = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    result = run_ablation(config, output=folder, log=lambda m: None)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    base = config["baseline"].get("name", "baseline")
    loss = {r["variant"]: r for r in result["summary"] if r["metric"] == "heldout_loss" and r["variant"] != base}
    bpb = {r["variant"]: r for r in result["summary"] if r["metric"] == "bpb" and r["variant"] != base}
    train_s = sum(r["train_seconds"] for r in result["results"])
    ann = (result["run"].get("anneal") or {}).get("base") or {}
    row = {"label": label, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "train_s": round(train_s + ann.get("seconds", 0), 1),
           "base_s": ann.get("seconds"), "tokens_per_run": result["results"][0]["tokens"],
           "variant_tokens_per_run": _variant_tokens(result), "loadavg": round(load, 1),
           # the load-independent cost: every token trained on, the base's included
           "train_tokens": sum(r["tokens"] for r in result["results"]) + ann.get("tokens", 0),
           "delta": {v: [round(r["delta"], 4), round(r["ci_low"], 4), round(r["ci_high"], 4)] for v, r in loss.items()},
           "bpb_delta": {v: [round(r["delta"], 4), round(r["ci_low"], 4), round(r["ci_high"], 4)] for v, r in bpb.items()},
           "separated": {v: r["ci_low"] > 0 for v, r in loss.items()}}
    row["all_separated"] = all(row["separated"].values())
    return row


def _variant_tokens(result: dict) -> int:
    first = next(iter(result["run"]["manifest"].values()))
    return int(first.get("variant_tokens", result["results"][0]["tokens"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch-config", default=str(REPO / "pipelines" / "ablation_damage_tiny.yaml"))
    parser.add_argument("--anneal-config", default=str(REPO / "pipelines" / "ablation_damage_anneal_tiny.yaml"))
    parser.add_argument("--output", help="folder for the three sweeps (default: a fresh temporary folder)")
    args = parser.parse_args()
    root = Path(args.output or tempfile.mkdtemp(prefix="bench-anneal-"))
    annealing = load_config(args.anneal_config, [f"anneal.cache={root / 'cache'}"])
    variant_tokens = round(annealing["anneal"]["share"] * annealing["anneal"]["tokens"])
    rows = [sweep("scratch, its own budget", load_config(args.scratch_config), root / "scratch"),
            sweep("scratch, the anneal's variant tokens",
                  load_config(args.scratch_config, [f"train.tokens={variant_tokens}"]), root / "scratch_small"),
            sweep("anneal (base trained now, uncached)", annealing, root / "anneal")]
    print(f"\n{'sweep':<38} {'wall s':>7} {'cpu s':>7} {'train s':>8} {'tokens/run':>10} {'variant tok':>11} {'all tokens':>10} {'load':>5}  "
          "held-out loss delta vs clean [95% CI]")
    for r in rows:
        deltas = ", ".join(f"{v} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]{'' if r['separated'][v] else ' NOT separated'}"
                           for v, (d, lo, hi) in r["delta"].items())
        print(f"{r['label']:<38} {r['wall_s']:>7.1f} {r['cpu_s']:>7.1f} {r['train_s']:>8.1f} {r['tokens_per_run']:>10,} "
              f"{r['variant_tokens_per_run']:>11,} {r['train_tokens']:>10,} {r['loadavg']:>5.1f}  {deltas}")
    scratch, small, ann = rows
    figures = {"sweeps": rows, "anneal_separates_all": ann["all_separated"],
               "anneal_faster_than_scratch": ann["wall_s"] < scratch["wall_s"] and ann["cpu_s"] < scratch["cpu_s"],
               "anneal_train_s_vs_scratch": [ann["train_s"], scratch["train_s"]],
               "anneal_train_tokens_vs_scratch": [ann["train_tokens"], scratch["train_tokens"]],
               "scratch_at_anneal_variant_tokens_separates_all": small["all_separated"], "output": str(root)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
