"""An ablation run's tables and plots: results, summary with bootstrap CIs, loss curves.

Files (the names and columns `curate report` reads):
- `results.parquet` / `results.csv`: variant, seed, tokens, then one column per metric (mean over items)
  and the run's train_seconds / tokens_per_second;
- `summary.parquet`: variant, metric, value, value_ci_low, value_ci_high, delta (vs the baseline),
  ci_low, ci_high (95% CI of the delta, paired bootstrap over seeds and items), n_seeds;
- `curves.parquet`: variant, seed, step, tokens, loss (training loss);
- `loss_curves.{png,svg}`, `heldout_loss.{png,svg}`: matplotlib when installed, else SVG written here.

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

LOWER_IS_BETTER = ("heldout_loss", "heldout_ppl")
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"]


def _item_scores(out: Path, variant: str, seed: int) -> dict[str, np.ndarray]:
    with np.load(out / "runs" / variant / f"seed{seed}" / "scores.npz") as f:
        scores = {k: f[k] for k in f.files}
    centered = [k for k in scores if k.endswith("_centered")]
    if centered:  # CORE: the mean over tasks of centred accuracy; items weighted so every task counts once
        weights = np.concatenate([np.full(len(scores[k]), 1 / (len(centered) * len(scores[k]))) for k in centered])
        scores["core"] = np.concatenate([scores[k] for k in centered]) * weights * len(weights)
    return scores


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

    shown = [m for m in ("heldout_loss", "heldout_ppl", "core") if any(r["metric"] == m for r in summary)]
    shown += sorted({r["metric"] for r in summary if r["metric"].endswith("_acc")})
    rows = []
    for metric in shown:
        ranked = sorted((r for r in summary if r["metric"] == metric),
                        key=lambda r: r["value"] if metric in LOWER_IS_BETTER else -r["value"])
        for rank, r in enumerate(ranked, 1):
            verdict = ""
            if r["variant"] != baseline:
                sign = -1 if metric in LOWER_IS_BETTER else 1
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
    series: dict[str, list] = {}
    for c in curves:
        series.setdefault(c["variant"], {}).setdefault(c["seed"], []).append((c["tokens"], c["loss"]))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        (out / "loss_curves.svg").write_text(_svg_lines(series))
        (out / "heldout_loss.svg").write_text(_svg_bars(bars))
        return ["loss_curves.svg", "heldout_loss.svg"]
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, (variant, runs) in enumerate(series.items()):
        for j, points in enumerate(runs.values()):
            ax.plot(*zip(*points), color=COLORS[i % len(COLORS)], alpha=0.7, label=variant if j == 0 else None)
    ax.set(xlabel="tokens", ylabel="training loss", title="Training loss")
    ax.legend()
    fig.savefig(out / "loss_curves.png", dpi=120)
    fig, ax = plt.subplots(figsize=(8, 5))
    names = [b["variant"] for b in bars]
    values = np.array([b["value"] for b in bars])
    err = np.array([[v - b["value_ci_low"], b["value_ci_high"] - v] for v, b in zip(values, bars)]).T
    ax.bar(names, values, yerr=err, capsize=4, color=COLORS[: len(names)])
    ax.set(ylabel="held-out loss (nats/token)", title="Held-out loss, 95% CI", ylim=(values.min() * 0.95, None))
    fig.savefig(out / "heldout_loss.png", dpi=120)
    plt.close("all")
    return ["loss_curves.png", "heldout_loss.png"]


def _svg(width: int, height: int, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(body) + "\n</svg>\n")


def _svg_lines(series: dict[str, dict[int, list]], width: int = 720, height: int = 420) -> str:
    points = [p for runs in series.values() for pts in runs.values() for p in pts]
    if not points:
        return _svg(width, height, [])
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    left, top, w, h = 60, 30, width - 220, height - 80

    def xy(x, y):
        return left + w * (x - x0) / max(x1 - x0, 1e-9), top + h * (1 - (y - y0) / max(y1 - y0, 1e-9))

    body = [f'<text x="{left}" y="18">Training loss vs tokens</text>',
            f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>',
            f'<text x="{left}" y="{top + h + 20}">{x0:,.0f}</text>',
            f'<text x="{left + w}" y="{top + h + 20}" text-anchor="end">{x1:,.0f} tokens</text>',
            f'<text x="{left - 5}" y="{top + 10}" text-anchor="end">{y1:.2f}</text>',
            f'<text x="{left - 5}" y="{top + h}" text-anchor="end">{y0:.2f}</text>']
    for i, (variant, runs) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        for pts in runs.values():
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in (xy(x, y) for x, y in pts))
            body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.2" opacity="0.8"/>')
        body.append(f'<text x="{left + w + 10}" y="{top + 15 + 18 * i}" fill="{color}">{variant}</text>')
    return _svg(width, height, body)


def _svg_bars(bars: list[dict], width: int = 720, height: int = 420) -> str:
    if not bars:
        return _svg(width, height, [])
    lo = min(b["value_ci_low"] for b in bars) * 0.98
    hi = max(b["value_ci_high"] for b in bars) * 1.01
    left, top, w, h = 60, 30, width - 80, height - 110
    step = w / len(bars)

    def y(v):
        return top + h * (1 - (v - lo) / max(hi - lo, 1e-9))

    body = [f'<text x="{left}" y="18">Held-out loss (nats/token), mean over seeds, 95% CI</text>',
            f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#999"/>',
            f'<text x="{left - 5}" y="{y(hi):.1f}" text-anchor="end">{hi:.2f}</text>',
            f'<text x="{left - 5}" y="{top + h}" text-anchor="end">{lo:.2f}</text>']
    for i, b in enumerate(bars):
        x = left + i * step + step * 0.2
        body.append(f'<rect x="{x:.1f}" y="{y(b["value"]):.1f}" width="{step * 0.6:.1f}" '
                    f'height="{top + h - y(b["value"]):.1f}" fill="{COLORS[i % len(COLORS)]}"/>')
        cx = x + step * 0.3
        body.append(f'<line x1="{cx:.1f}" y1="{y(b["value_ci_low"]):.1f}" x2="{cx:.1f}" '
                    f'y2="{y(b["value_ci_high"]):.1f}" stroke="black" stroke-width="1.5"/>')
        body.append(f'<text x="{cx:.1f}" y="{top + h + 16}" text-anchor="middle">{b["variant"]}</text>')
        body.append(f'<text x="{cx:.1f}" y="{top + h + 32}" text-anchor="middle">{b["value"]:.3f}</text>')
    return _svg(width, height, body)
