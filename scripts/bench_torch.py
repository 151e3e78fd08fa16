#!/usr/bin/python3
"""PyTorch speed baseline: one GPT-2 training step on the CPU.

A step is forward + causal-LM loss + backward + clip_grad_norm_(1.0) + AdamW step +
zero_grad(set_to_none=False), in float32, on random tokens. The model is the same eager GPT-2
(HF GPT2LMHeadModel operation for operation) that writes the test fixtures, from
scripts/torch_reference.py. Run from the repository root, e.g.

    OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2 python3 scripts/bench_torch.py --threads 2

The last line of output is one JSON object:
    {"median_step_s", "tokens_per_s", "gflops", "peak_rss_mb", "impl", "threads"}
"""

import os
import sys

try:
    import torch
except ImportError:  # pragma: no cover - environment fallback
    # Debian's python3-torch is installed for the system interpreter only.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

import argparse
import json
import resource
import statistics
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402  (after the interpreter check above)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=2, help="L, transformer blocks")
    ap.add_argument("--d-model", type=int, default=256, help="D, model width")
    ap.add_argument("--heads", type=int, default=4, help="H, attention heads")
    ap.add_argument("--ffn", type=int, default=1024, help="F, FFN width (n_inner)")
    ap.add_argument("--vocab", type=int, default=4096, help="V, vocabulary size")
    ap.add_argument("--seq", type=int, default=128, help="T, tokens per row")
    ap.add_argument("--batch", type=int, default=8, help="B, rows per step")
    ap.add_argument("--steps", type=int, default=30, help="timed steps after warm-up")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first (allocator, caches)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--rss-steps", type=int, default=0,
                    help="after timing, run this many more steps printing RSS every 50 (0: off)")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


def build(a):
    cfg = ref.gpt2_config()
    cfg.update({"n_layer": a.layers, "n_embd": a.d_model, "n_head": a.heads, "n_inner": a.ffn,
                "vocab_size": a.vocab, "n_positions": a.seq, "initializer_range": 0.02})
    params = ref.gpt2_params(cfg)
    for p in params.values():
        p.requires_grad_(True)
    decay = [p for p in params.values() if p.ndim >= 2]
    no_decay = [p for p in params.values() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    return cfg, params, opt


def flops_per_step(params, a):
    """Standard training estimate (Kaplan et al. 2020 sec. 2.1; PaLM app. B):
    flops per step = 6 * n_params_matmul * B*T + 12 * L * B * T * T * D,
    where n_params_matmul is every parameter except the position table wpe; the tied wte is
    counted once, as the LM head matmul; the second term is QK^T and PV, forward and backward,
    over the full T x T (no discount for the causal mask)."""
    n = sum(p.numel() for name, p in params.items() if name != "transformer.wpe.weight")
    return 6 * n * a.batch * a.seq + 12 * a.layers * a.batch * a.seq * a.seq * a.d_model


def torch_version():
    """Debian builds python3-torch 1.13.1 from a source tree whose version.py says 1.13.0a0, so
    for that package report the packaged upstream version (from dpkg) instead."""
    if torch.__file__.startswith("/usr/lib/python3/dist-packages/"):
        try:
            with open("/var/lib/dpkg/status") as f:
                for para in f.read().split("\n\n"):
                    if para.startswith("Package: python3-torch\n"):
                        v = [l for l in para.splitlines() if l.startswith("Version: ")][0]
                        return v.split()[1].split("+")[0]
        except (OSError, IndexError):
            pass
    return torch.__version__


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg, params, opt = build(a)
    plist = list(params.values())
    gen = torch.Generator().manual_seed(a.seed + 1)

    def step():
        ids = torch.randint(0, a.vocab, (a.batch, a.seq), generator=gen)  # (B,T)
        batch = {"input_ids": ids}
        loss = ref.causal_lm_loss(ref.gpt2_forward(params, cfg, batch, {}), ids)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(plist, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=False)
        return loss.item()

    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        loss = step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    tokens = a.batch * a.seq
    print(f"steps {a.steps} after {a.warmup} warm-up; median {med:.4f} s, min {min(times):.4f} s, "
          f"max {max(times):.4f} s; last loss {loss:.4f}")
    rss_trace = []
    for i in range(a.rss_steps):
        step()
        if (i + 1) % 50 == 0:
            rss_trace.append(round(current_rss_mb(), 1))
            print(f"rss after {i + 1:5d} extra steps: {rss_trace[-1]:.1f} MB")
    result = {
        "median_step_s": round(med, 5),
        "tokens_per_s": round(tokens / med, 1),
        "gflops": round(flops_per_step(params, a) / med / 1e9, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # KiB on Linux
        "impl": "pytorch " + torch_version(),
        "threads": a.threads,
    }
    if rss_trace:
        result["rss_mb_every_50"] = rss_trace
    print(json.dumps(result))


if __name__ == "__main__":
    main()
