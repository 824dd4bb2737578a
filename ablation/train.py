"""Train one small decoder on one token shard, for one seed: the inner loop of an ablation.

Reads top to bottom like nanoGPT's train.py: config dataclass, device and precision, data order,
model and optimizer, checkpoint resume, then the loop (cosine schedule with linear warmup,
gradient clipping, AdamW). Everything that varies between two runs of the same variant comes from
`seed` (initial weights and the order of training sequences), so a run is reproducible, and a
checkpoint is written every `checkpoint_every` steps so a killed sweep resumes mid-run.

Example:
    result = train(TrainConfig(tokens=1_000_000), read_shard("run/data/clean.bin"), vocab_size=4096,
                   seed=0, checkpoint="run/runs/clean/seed0/ckpt.pt")
    result.model, result.curve  # the trained model; [(step, tokens, loss), ...]
"""

from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from curate.ablation.model import GPT, GPTConfig


@dataclass
class TrainConfig:
    tokens: int = 1_000_000  # training tokens per run (the same for every variant)
    batch_size: int = 16
    block_size: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    lr: float = 3e-3  # small models take a high peak learning rate
    min_lr: float = 3e-4  # the cosine ends here (10% of the peak, as LLaMA)
    warmup: float = 0.05  # fraction of the steps spent warming up linearly
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    threads: int = 2  # torch.set_num_threads on CPU
    device: str = "auto"  # auto: cuda if available, else cpu
    compile: str | bool = "auto"  # torch.compile; auto: on CUDA only (on CPU its compile time eats small runs)
    bf16: str | bool = "auto"  # bf16 autocast; auto: on CUDA, and on CPUs with native bf16 (AVX512-BF16/AMX)
    # cosine: warmup then cosine to min_lr (a from-scratch run); constant: warmup then lr (the stable phase of
    # a warmup-stable-decay schedule, MiniCPM, Hu et al. 2024: an annealing base); linear_decay: lr down to
    # min_lr linearly from the first step, no warmup (Llama 3's annealing phase, 2024, section 3.1.3)
    schedule: str = "cosine"
    log_every: int = 10  # steps between points of the loss curve
    checkpoint_every: int = 100  # steps between checkpoints

    def model_config(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(vocab_size=vocab_size, block_size=self.block_size, n_layer=self.n_layer,
                         n_head=self.n_head, n_embd=self.n_embd)


@dataclass
class TrainResult:
    model: GPT
    curve: list[tuple[int, int, float]]  # (step, tokens seen, training loss)
    seconds: float  # wall time of the steps run in this process (not counting resumed ones)
    tokens_per_second: float
    steps: int


def resolve_device(cfg: TrainConfig) -> tuple[str, bool, bool]:
    """(device, use bf16 autocast, use torch.compile) for this machine."""
    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.bf16 == "auto":
        bf16 = device == "cuda" or _cpu_has_native_bf16()
    else:
        bf16 = bool(cfg.bf16)
    use_compile = device == "cuda" if cfg.compile == "auto" else bool(cfg.compile)
    return device, bf16, use_compile


def _cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def batches(n_tokens: int, cfg: TrainConfig, seed: int) -> np.ndarray:
    """Start offsets of every training sequence, in this seed's order: one pass, each token once."""
    n_seq = (n_tokens - 1) // cfg.block_size
    order = np.random.default_rng(seed).permutation(n_seq) * cfg.block_size
    steps = n_seq // cfg.batch_size
    return order[: steps * cfg.batch_size].reshape(steps, cfg.batch_size)


SCHEDULES = ("cosine", "constant", "linear_decay")


def get_lr(step: int, steps: int, cfg: TrainConfig) -> float:
    if cfg.schedule == "linear_decay":
        return cfg.lr + (cfg.min_lr - cfg.lr) * step / max(1, steps - 1)
    if cfg.schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {cfg.schedule!r}; valid: {', '.join(SCHEDULES)}")
    warmup = max(1, int(cfg.warmup * steps))
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - warmup) / max(1, steps - warmup)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


def train(cfg: TrainConfig, tokens: np.ndarray, vocab_size: int, seed: int,
          checkpoint: str | Path | None = None, log=None, stop_at: int | None = None, progress=None,
          init: str | Path | None = None) -> TrainResult:
    """Train from scratch (or from `checkpoint` if it exists); `stop_at` ends early after that step, checkpointed.
    `progress(step, steps)` after every step. `init`: a finished run's checkpoint to continue from (its
    weights and Adam moments, with a fresh step count and this schedule): the annealing phase of a base
    model; an existing `checkpoint` still wins (a resume)."""
    device, bf16, use_compile = resolve_device(cfg)
    if device == "cpu":
        torch.set_num_threads(cfg.threads)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    autocast = torch.autocast(device, dtype=torch.bfloat16) if bf16 else nullcontext()

    order = batches(len(tokens), cfg, seed)
    steps = len(order)
    # sequences are cut from the shard with one gather: x is positions 0..T-1, y the next token of each
    window = np.arange(cfg.block_size + 1)
    data = torch.from_numpy(np.asarray(tokens, dtype=np.int64))

    torch.manual_seed(seed)  # the initial weights are the seed's
    model = GPT(cfg.model_config(vocab_size)).to(device)
    # weight decay on matrices only, not on norms (nanoGPT's rule); fused AdamW: one kernel for all parameters
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=True)

    start, curve = 0, []
    if init and not (checkpoint and Path(checkpoint).is_file()):
        state = torch.load(init, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])  # the same run continued: Adam's moments carry over
        for group in optimizer.param_groups:  # the loaded groups hold the base's settings: this run's apply
            group["weight_decay"] = cfg.weight_decay if group["weight_decay"] else 0.0
            group["betas"] = (cfg.beta1, cfg.beta2)
    if checkpoint and Path(checkpoint).is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, curve = state["step"], state["curve"]
        if log:
            log(f"resumed from {checkpoint} at step {start}/{steps}")
    step_fn = torch.compile(model) if use_compile else model

    model.train()
    t0 = time.perf_counter()
    for step in range(start, steps):
        idx = torch.from_numpy(order[step][:, None] + window)
        batch = data[idx].to(device, non_blocking=True)
        x, y = batch[:, :-1], batch[:, 1:]
        for group in optimizer.param_groups:
            group["lr"] = get_lr(step, steps, cfg)
        with autocast:
            _, loss = step_fn(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

        if step % cfg.log_every == 0 or step == steps - 1:
            loss_value = loss.item()  # .item() syncs with the device, so only every log_every steps
            curve.append((step, (step + 1) * cfg.batch_size * cfg.block_size, loss_value))
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"training diverged at step {step} (loss {loss_value})")
            if log:
                log(f"step {step}/{steps} loss {loss_value:.4f}")
        if progress:
            progress(step + 1, steps)
        if checkpoint and ((step + 1) % cfg.checkpoint_every == 0 or step == steps - 1):
            save_checkpoint(checkpoint, model, optimizer, step + 1, curve, cfg)
        if stop_at is not None and step + 1 >= stop_at:
            if checkpoint:
                save_checkpoint(checkpoint, model, optimizer, step + 1, curve, cfg)
            steps = step + 1
            break
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    done = max(0, steps - start) * cfg.batch_size * cfg.block_size
    model.eval()
    return TrainResult(model, curve, seconds, done / seconds if seconds > 0 else 0.0, steps)


def save_checkpoint(path: str | Path, model, optimizer, step: int, curve, cfg: TrainConfig) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "curve": curve, "config": asdict(cfg)}, tmp)
    os.replace(tmp, path)  # atomic: a kill mid-write leaves the previous checkpoint intact
