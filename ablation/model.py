"""A small LLaMA-style decoder for data ablations: RMSNorm, rotary position embeddings, SwiGLU, tied embeddings.

Read top to bottom like nanoGPT's model.py. It is small on purpose: an ablation compares data, not
architectures, so the model only has to be the same for every variant and cheap enough to train
several seeds of it on a CPU (1-2M parameters: docs/PERFORMANCE.md).

Example:
    model = GPT(GPTConfig(vocab_size=4096, n_layer=4, n_head=4, n_embd=128, block_size=256))
    logits, loss = model(idx, targets)  # idx, targets: (batch, time) int64
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 4096
    block_size: int = 256  # context length
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128


class RMSNorm(nn.Module):
    """LLaMA's norm: rescale by the root mean square, no mean subtraction and no bias."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary_tables(head_dim: int, length: int, base: float = 10000.0):
    """cos and sin of the RoPE angles, (length, head_dim // 2) each (RoFormer, Su et al. 2021)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x, cos, sin):
    # rotate pairs (x1, x2) = (first half, second half) of each head by the position's angle (GPT-NeoX layout)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).type_as(x)


class Attention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=False)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # flash/memory-efficient kernel where there is one
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class SwiGLU(nn.Module):
    """LLaMA's MLP: silu(x W1) * (x W3), then W2; hidden size 8/3 d (so the parameter count matches a 4d GELU MLP),
    rounded up to a multiple of 32 for friendlier matmul shapes."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        hidden = 32 * math.ceil(8 * config.n_embd / 3 / 32)
        self.gate_up = nn.Linear(config.n_embd, 2 * hidden, bias=False)  # W1 and W3 in one matmul
        self.down = nn.Linear(hidden, config.n_embd, bias=False)

    def forward(self, x):
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm1, self.attn = RMSNorm(config.n_embd), Attention(config)
        self.norm2, self.mlp = RMSNorm(config.n_embd), SwiGLU(config)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = RMSNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied embeddings: at this size the embedding is half the parameters
        cos, sin = rotary_tables(config.n_embd // config.n_head, config.block_size)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2's scaled init of the projections that write into the residual stream
        for name, p in self.named_parameters():
            if name.endswith(("proj.weight", "down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())  # tied weights are counted once

    def forward(self, idx, targets=None, reduction: str = "mean"):
        """Logits (B, T, vocab); with targets also the cross-entropy (`reduction="none"`: per token, (B, T))."""
        T = idx.size(1)
        assert T <= self.config.block_size, f"sequence of {T} tokens, block size is {self.config.block_size}"
        x = self.embed(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        for block in self.blocks:
            x = block(x, cos, sin)
        logits = self.head(self.norm(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), reduction=reduction)
        return logits, loss.view(targets.shape) if reduction == "none" else loss
