"""An ablation run's tables and plots: results, summary with bootstrap CIs, loss curves.

Files (the names and columns `curate report` reads):
- `results.parquet` / `results.csv`: variant, seed, tokens, then one column per metric (mean over items:
  heldout_loss, heldout_ppl, per task `_acc`, `_centered`, `_logprob`, `_bpb`; `core` and `bpb`, their
  means over tasks) and the run's train_seconds / tokens_per_second;
- `summary.parquet`: variant, metric, value, value_ci_low, value_ci_high, delta (vs the baseline),
  ci_low, ci_high (95% CI of the delta, paired bootstrap over seeds and items), n_seeds;
- `curves.parquet`: variant, seed, step, tokens, loss (training loss);
- `loss_curves.{png,svg}` (a distinct colour per run), `heldout_loss.{png,svg}` (points with CIs on
  a zoomed axis): matplotlib when installed, else SVG from `curate.tools.charts` (the kit of `curate report`).

Example:
    tables = write_tables("out/ablate", ["clean", "spam"], seeds=[0, 1, 2], baseline="clean")
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from curate.ablation.evaluate import bootstrap
from curate.tools.charts import COLORS, WIDTH, better, color, dots, lines, standalone, svg, verdict


def _item_scores(out: Path, variant: str, seed: int) -> dict[str, np.ndarray]:
    with np.load(out / "runs" / variant / f"seed{seed}" / "scores.npz") as f:
        scores = {k: f[k] for k in f.files}
    # CORE: the mean over tasks of centred accuracy; `bpb`: the mean over tasks of the gold answer's bits per byte
    for name, suffix in (("core", "_centered"), ("bpb", "_bpb")):
        parts = [k for k in scores if k.endswith(suffix)]
        if parts:
            scores[name] = _task_mean([scores[k] for k in parts])
    return scores


def _task_mean(parts: list[np.ndarray]) -> np.ndarray:
    """The items of every task, reweighted so their mean is the mean of the task means (each task counts once)."""
    weights = np.concatenate([np.full(len(p), 1 / (len(parts) * len(p))) for p in parts])
    return np.concatenate(parts) * weights * len(weights)


def write_tables(out: str | Path, variants: list[str], seeds: list[int], baseline: str, n_boot: int = 1000) -> dict:
    out = Path(out)
    rows, curves = [], []
    scores = {v: {s: _item_scores(out, v, s) for s in seeds} for v in variants}
    for v in variants:
        for s in seeds:
            info = json.loads((out / "runs" / v / f"seed{s}" / "result.json").read_text())
            row = {"variant": v, "seed": s, "tokens": info["tokens"]}
            for metric, items in scores[v][s].items():
                row[metric] = float(items.mean())
                if metric == "heldout_loss":
                    row["heldout_ppl"] = float(np.exp(items.mean()))
            row["train_seconds"], row["tokens_per_second"] = info["train_seconds"], info["tokens_per_second"]
            rows.append(row)
            curves += [{"variant": v, "seed": s, "step": st, "tokens": tk, "loss": loss} for st, tk, loss in info["curve"]]
    results = pa.Table.from_pylist(rows)
    pq.write_table(results, out / "results.parquet")
    pacsv.write_csv(results, out / "results.csv")
    pq.write_table(pa.Table.from_pylist(curves), out / "curves.parquet")

    summary = []
    metrics = list(scores[baseline][seeds[0]])
    for v in variants:
        for metric in metrics + ["heldout_ppl"]:
            source = "heldout_loss" if metric == "heldout_ppl" else metric
            transform = np.exp if metric == "heldout_ppl" else None
            runs = [scores[v][s][source] for s in seeds]
            base = [scores[baseline][s][source] for s in seeds]
            lo, hi, dlo, dhi = bootstrap(runs, base, n=n_boot, transform=transform)
            value = float(np.mean(runs)) if transform is None else float(np.exp(np.mean(runs)))
            base_value = float(np.mean(base)) if transform is None else float(np.exp(np.mean(base)))
            summary.append({"variant": v, "metric": metric, "value": value, "value_ci_low": lo, "value_ci_high": hi,
                            "delta": value - base_value, "ci_low": dlo, "ci_high": dhi, "n_seeds": len(seeds)})
    pq.write_table(pa.Table.from_pylist(summary), out / "summary.parquet")
    plots = write_plots(out, curves, [r for r in summary if r["metric"] == "heldout_loss"])
    return {"results": rows, "summary": summary, "plots": plots}


def render_summary(summary: list[dict], baseline: str) -> str:
    """The ranked table: per metric, variants best first, with the delta vs the baseline and its 95% CI."""
    from curate.tools.display import table

    shown = [m for m in ("heldout_loss", "heldout_ppl", "bpb", "core") if any(r["metric"] == m for r in summary)]
    for suffix in ("_bpb", "_logprob", "_acc"):  # the continuous metrics first: they rank, accuracy rarely does
        shown += sorted({r["metric"] for r in summary if r["metric"].endswith(suffix)})
    rows = []
    for metric in shown:
        ranked = sorted((r for r in summary if r["metric"] == metric),
                        key=lambda r: r["value"] if better(metric) == "lower" else -r["value"])
        for rank, r in enumerate(ranked, 1):
            verdict = ""
            if r["variant"] != baseline:
                sign = -1 if better(metric) == "lower" else 1
                if r["ci_low"] > 0 or r["ci_high"] < 0:
                    verdict = "better" if sign * r["delta"] > 0 else "worse"
                else:
                    verdict = "~"
            rows.append((metric, rank, r["variant"], r["value"], r["value_ci_low"], r["value_ci_high"],
                         r["delta"], r["ci_low"], r["ci_high"], verdict))
    headers = ["metric", "rank", "variant", "value", "value_ci_low", "value_ci_high", "delta", "ci_low", "ci_high",
               f"vs {baseline}"]
    return table(headers, [tuple(round(x, 4) if isinstance(x, float) else x for x in row) for row in rows])


def write_plots(out: Path, curves: list[dict], bars: list[dict]) -> list[str]:
    """Training loss per run (a distinct colour each) and held-out loss per variant (a point with
    its 95% CI on an axis zoomed to the data: a bar from a non-zero origin would mislead)."""
    series: dict[str, list] = {}
    for c in curves:
        series.setdefault(c["variant"], {}).setdefault(c["seed"], []).append((c["tokens"], c["loss"]))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return svg_plots(out, series, bars)
    fig, ax = plt.subplots(figsize=(8, 5))
    runs = [(variant, seed, points) for variant, seeds in series.items() for seed, points in seeds.items()]
    for i, (variant, seed, points) in enumerate(runs):
        ax.plot(*zip(*points), color=color(i), alpha=0.85, label=f"{variant} (seed {seed})")
    ax.set(xlabel="tokens", ylabel="training loss (nats/token)", title="Training loss")
    ax.legend(fontsize="small")
    fig.savefig(out / "loss_curves.png", dpi=120)
    fig, ax = plt.subplots(figsize=(8, 5))
    names = [b["variant"] for b in bars]
    values = np.array([b["value"] for b in bars])
    err = np.array([[v - b["value_ci_low"], b["value_ci_high"] - v] for v, b in zip(values, bars)]).T
    for name, value, e, c in zip(names, values, err.T, _heldout_colors(bars)):
        ax.errorbar([value], [name], xerr=[[e[0]], [e[1]]], fmt="o", capsize=4, color=c)
    ax.set(xlabel="held-out loss (nats/token; lower is better), axis zoomed to the data",
           title="Held-out loss, mean over seeds, 95% CI")
    fig.tight_layout()
    fig.savefig(out / "heldout_loss.png", dpi=120)
    plt.close("all")
    return ["loss_curves.png", "heldout_loss.png"]


def svg_plots(out: Path, series: dict[str, dict[int, list]], bars: list[dict]) -> list[str]:
    """The two plots as SVG files (`curate.tools.charts`, as in `curate report`), for want of matplotlib."""
    runs = {f"{variant} (seed {seed})": points for variant, seeds in series.items() for seed, points in seeds.items()}
    loss = lines(runs, "tokens", "training loss (nats/token)", height=300) if runs else svg(WIDTH, 40, [])
    (out / "loss_curves.svg").write_text(standalone(loss, "Training loss vs tokens"))
    (out / "heldout_loss.svg").write_text(standalone(_heldout_chart(bars),
                                                     "Held-out loss (nats/token), mean over seeds, 95% CI"))
    return ["loss_curves.svg", "heldout_loss.svg"]


def _heldout_chart(bars: list[dict]) -> str:
    """Each variant's held-out loss with its CI, on an axis zoomed to the data (the differences are what
    matters), green or red where its difference from the baseline is separable (95% CI), else grey."""
    if not bars:
        return svg(WIDTH, 40, [])
    return dots([f"{b['variant']}: {b['value']:.3f}" for b in bars], [b["value"] for b in bars],
                [b["value_ci_low"] for b in bars], [b["value_ci_high"] for b in bars],
                "held-out loss (nats/token; lower is better)", _heldout_colors(bars))


def _heldout_colors(bars: list[dict]) -> list[str]:
    """Blue for the baseline (its difference from itself is exactly 0) and rows without one, else the verdict."""
    return [COLORS[0] if "ci_low" not in b or b["ci_low"] == b["ci_high"] == 0 else verdict(b["ci_low"], b["ci_high"], "lower")
            for b in bars]
