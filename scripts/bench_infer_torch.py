#!/usr/bin/python3
"""PyTorch speed baseline for the inference engine: eval() forward of a GPT-2.

The model is a GPT-2 written with torch.nn modules as Hugging Face's GPT2LMHeadModel computes it
(pre-LayerNorm blocks, fused QKV, causal softmax attention, GELU-tanh MLP, tied LM head), run
under model.eval() and torch.no_grad() on random tokens: one scoring batch of B×T tokens
(forward pass and next-token logits of every position), timed as the median of --reps runs
after one warm-up. Run from the repository root, e.g.

    OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2 python3 scripts/bench_infer_torch.py --threads 2

The last line of output is one JSON object: {"score_ms", "threads", "torch"}.
"""

import os
import sys

try:
    import torch
except ImportError:  # pragma: no cover - environment fallback
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

import argparse
import json
import math
import statistics
import time

from torch import nn


class Block(nn.Module):
    def __init__(self, d, h, f):
        super().__init__()
        self.h = h
        self.ln_1, self.ln_2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, f), nn.Linear(f, d)
        self.act = nn.GELU(approximate="tanh")

    def forward(self, x, mask):
        B, T, D = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q, k, v = (t.view(B, T, self.h, D // self.h).transpose(1, 2) for t in (q, k, v))
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D // self.h)
        w = w.masked_fill(mask[:T, :T], float("-inf")).softmax(dim=-1)
        a = torch.matmul(w, v).transpose(1, 2).reshape(B, T, D)
        x = x + self.c_proj(a)
        return x + self.mlp_proj(self.act(self.c_fc(self.ln_2(x))))


class GPT2(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(a.vocab, a.d_model), nn.Embedding(1024, a.d_model)
        self.blocks = nn.ModuleList(Block(a.d_model, a.heads, a.ffn) for _ in range(a.layers))
        self.ln_f = nn.LayerNorm(a.d_model, eps=1e-5)
        self.register_buffer("mask", torch.ones(1024, 1024, dtype=torch.bool).triu(1))
        for p in self.parameters():
            nn.init.normal_(p, std=0.02)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for b in self.blocks:
            x = b(x, self.mask)
        return self.ln_f(x) @ self.wte.weight.t()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--d-model", type=int, default=512)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--ffn", type=int, default=2048)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    model = GPT2(a).eval()
    ids = torch.randint(0, a.vocab, (a.batch, a.seq))
    times = []
    with torch.no_grad():
        for rep in range(a.reps + 1):
            start = time.perf_counter()
            model(ids)
            if rep > 0:
                times.append((time.perf_counter() - start) * 1e3)
            print(f"rep {rep} score {times[-1] if rep else 0:.1f} ms", file=sys.stderr)
    print(json.dumps({"score_ms": statistics.median(times), "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
