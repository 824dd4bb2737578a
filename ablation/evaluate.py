"""Evaluate a trained ablation model: held-out loss on fixed clean text, zero-shot benchmarks, bootstrap CIs.

- Held-out loss: mean next-token cross-entropy over fixed windows of clean text (the same token
  windows for every variant, so losses compare; modded-nanogpt's fixed `val_tokens`). Items are the
  windows; perplexity is exp(loss).
- Benchmarks, zero-shot, as llm-foundry's ICL tasks and DCLM's CORE: multiple choice by the
  highest length-normalised log-likelihood (mean log-probability per continuation token) of each
  choice after the context (HellaSwag, ARC-Easy, PIQA, COPA; WinoGrande scores the shared
  continuation after each context option); LAMBADA counts an item right when greedy decoding
  reproduces the last word exactly. Centred accuracy is (acc - chance) / (1 - chance), chance =
  1 / choices (0 for LAMBADA), so 0 means "no better than guessing" on every task; `core` is its mean.
- Continuous metrics of the gold continuation, per item, next to accuracy: `<task>_logprob`, its mean
  log-likelihood per token (nats; higher is better), and `<task>_bpb`, its bits per byte: the sum of
  -log2 p over its tokens divided by its UTF-8 bytes (lower is better; tokenizer-independent). Accuracy
  of a model this small sits within noise of chance, while the likelihood of the right answer moves
  smoothly with data quality: DataDecide (Magnusson et al. 2025, arXiv:2504.11393; allenai.org/blog/datadecide)
  found such continuous metrics make small-scale rankings of pretraining data agree with the 1B-scale
  winner far more often, and OLMo's in-loop evaluation tracks the same bits per byte of the correct answer.
- `bootstrap`: 95% CIs by resampling seeds and items together; the delta against the baseline uses
  the same resampled items and seeds for both (a paired bootstrap), which is what a
  "did this filter help?" question needs.

Example:
    tasks = load_tasks("../shared/data/benchmarks", max_items=500)
    scores = evaluate(model, tokenizer, heldout_windows, tasks)  # metric -> per-item scores
"""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

TASKS = ("hellaswag", "arc_easy", "piqa", "copa", "winogrande", "lambada")
FILES = {"hellaswag": "hellaswag/hellaswag_val_sample1000.jsonl", "arc_easy": "llm_foundry_icl/arc_easy.jsonl",
         "piqa": "llm_foundry_icl/piqa.jsonl", "copa": "llm_foundry_icl/copa.jsonl",
         "winogrande": "llm_foundry_icl/winogrande.jsonl", "lambada": "llm_foundry_icl/lambada_openai.jsonl"}


def _hellaswag_text(text: str) -> str:
    # lm-evaluation-harness's HellaSwag preprocessing: WikiHow's "[title]" markers and bracketed tags out
    text = text.strip().replace(" [title]", ". ")
    return re.sub(r"\[.*?\]", "", text).replace("  ", " ")


def _join(context: str, continuation: str) -> tuple[str, str]:
    """Context and continuation as one text would hold them: a space between, none before punctuation."""
    context, continuation = context.rstrip(), continuation.strip()
    return context, continuation if continuation[:1] in ",.;:!?'" else " " + continuation


def load_tasks(bench_dir: str | Path, tasks=TASKS, max_items: int | None = 500, seed: int = 0) -> dict[str, list]:
    """task -> items; an item is {"pairs": [(context, continuation), ...], "gold": int}. Fixed sample per seed."""
    out = {}
    for task in tasks:
        if task not in FILES:
            raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
        path = Path(bench_dir) / FILES[task]
        if not path.is_file():
            raise FileNotFoundError(f"benchmark file not found: {path}")
        items = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                row = json.loads(line)
            except ValueError as error:
                raise ValueError(f"{path}:{n}: not JSON ({error})") from None
            if task == "hellaswag":
                context = _hellaswag_text(row["activity_label"] + ": " + row["ctx_a"] + " " + row["ctx_b"].capitalize())
                pairs = [_join(context, _hellaswag_text(e)) for e in row["endings"]]
                gold = int(row["label"])
            elif task == "winogrande":
                pairs = [_join(option, row["continuation"]) for option in row["context_options"]]
                gold = row["gold"]
            elif task == "lambada":
                pairs, gold = [_join(row["context"], row["continuation"])], 0
            else:
                pairs, gold = [_join(row["query"], choice) for choice in row["choices"]], row["gold"]
            items.append({"pairs": pairs, "gold": gold})
        random.Random(seed).shuffle(items)
        out[task] = items[:max_items] if max_items else items
    return out


def heldout_windows(tokens: np.ndarray, block_size: int, n_tokens: int) -> np.ndarray:
    """Non-overlapping (block_size + 1)-token windows, n_tokens in all: the fixed held-out set."""
    n = min(n_tokens // block_size, (len(tokens) - 1) // block_size)
    if n == 0:
        raise ValueError(f"held-out text has {len(tokens)} tokens, fewer than one window of {block_size + 1}")
    return np.stack([np.asarray(tokens[i * block_size:(i + 1) * block_size + 1], dtype=np.int64) for i in range(n)])


@torch.no_grad()
def heldout_losses(model, windows: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Mean cross-entropy (nats per token) of each window."""
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(windows), batch_size):
        batch = torch.from_numpy(windows[start:start + batch_size]).to(device)
        _, loss = model(batch[:, :-1], batch[:, 1:], reduction="none")
        out.append(loss.float().mean(dim=1).cpu().numpy())
    return np.concatenate(out)


@torch.no_grad()
def score_pairs(model, tokenizer, pairs: list[tuple[str, str]],
                batch_size: int = 32) -> list[tuple[float, int, bool, int]]:
    """(sum of log-probabilities of the continuation, its token count, greedy decoding reproduces it,
    UTF-8 bytes of the scored continuation) per pair."""
    device = next(model.parameters()).device
    block = model.config.block_size
    encoded = []
    for context, continuation in pairs:
        ctx = tokenizer.encode(context, add_special_tokens=False).ids
        enc = tokenizer.encode(continuation, add_special_tokens=False)
        cont = enc.ids
        seq = (ctx + cont)[-(block + 1):]  # long contexts lose their beginning, never the continuation
        n = min(len(cont), len(seq) - 1)
        # bytes of the tokens scored: all of the continuation, unless it is longer than the context window
        scored = continuation if n == len(cont) else continuation[enc.offsets[len(cont) - n][0]:]
        encoded.append((seq, n, len(scored.encode("utf-8"))))
    results: list = [None] * len(pairs)
    order = sorted(range(len(pairs)), key=lambda i: len(encoded[i][0]))  # similar lengths together: less padding
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        width = max(len(encoded[i][0]) for i in chunk) - 1
        x = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, i in enumerate(chunk):
            seq = encoded[i][0]
            x[row, :len(seq) - 1] = torch.tensor(seq[:-1])
        logits, _ = model(x.to(device))
        logprobs = F.log_softmax(logits.float(), dim=-1).cpu()
        for row, i in enumerate(chunk):
            seq, n, n_bytes = encoded[i]
            positions = torch.arange(len(seq) - 1 - n, len(seq) - 1)
            targets = torch.tensor(seq[-n:])
            lp = logprobs[row, positions]
            results[i] = (lp.gather(1, targets[:, None]).sum().item(), n, bool((lp.argmax(1) == targets).all()),
                          n_bytes)
    return results


def evaluate(model, tokenizer, windows: np.ndarray, tasks: dict[str, list]) -> dict[str, np.ndarray]:
    """metric -> per-item scores: `heldout_loss` per window; `<task>_acc`, `<task>_centered`,
    `<task>_logprob` and `<task>_bpb` per item."""
    scores = {"heldout_loss": heldout_losses(model, windows)}
    for task, items in tasks.items():
        flat = [pair for item in items for pair in item["pairs"]]
        scored = iter(score_pairs(model, tokenizer, flat))
        correct, chance, logprob, bpb = [], [], [], []
        for item in items:
            results = [next(scored) for _ in item["pairs"]]
            if task == "lambada":
                correct.append(float(results[0][2]))
                chance.append(0.0)
            else:
                normalised = [lp / max(n, 1) for lp, n, *_ in results]
                correct.append(float(int(np.argmax(normalised)) == item["gold"]))
                chance.append(1.0 / len(results))
            lp, n, _, n_bytes = results[item["gold"]]
            logprob.append(lp / max(n, 1))
            bpb.append(-lp / math.log(2) / max(n_bytes, 1))
        correct, chance = np.array(correct), np.array(chance)
        scores[f"{task}_acc"] = correct
        # per-item centring keeps the mean equal to (acc - chance) / (1 - chance) when chance is the same for all
        scores[f"{task}_centered"] = (correct - chance) / (1 - chance)
        scores[f"{task}_logprob"], scores[f"{task}_bpb"] = np.array(logprob), np.array(bpb)
    return scores


def bootstrap(runs: list[np.ndarray], baseline: list[np.ndarray] | None = None, n: int = 1000,
              seed: int = 0, transform=None) -> tuple[float, float, float, float]:
    """95% CIs of the mean over (seeds x items), resampling both; `runs` holds one item-score array per seed.

    Returns (value ci_low, value ci_high, delta ci_low, delta ci_high); the delta CI is paired: the same
    resampled seeds and items for the baseline (whose seeds and items are the same as the variant's).
    `transform` maps a mean to the reported statistic (np.exp: perplexity from per-window loss).
    """
    transform = transform or (lambda x: x)
    rng = np.random.default_rng(seed)
    a = np.stack(runs)  # (seeds, items)
    b = np.stack(baseline) if baseline is not None else None
    values, deltas = np.empty(n), np.empty(n)
    for k in range(n):
        s = rng.integers(0, a.shape[0], a.shape[0])
        i = rng.integers(0, a.shape[1], a.shape[1])
        values[k] = transform(a[s][:, i].mean())
        if b is not None:
            deltas[k] = values[k] - transform(b[s][:, i].mean())
    lo, hi = np.percentile(values, [2.5, 97.5])
    dlo, dhi = np.percentile(deltas, [2.5, 97.5]) if b is not None else (np.nan, np.nan)
    return float(lo), float(hi), float(dlo), float(dhi)
