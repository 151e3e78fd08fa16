#!/usr/bin/env bash
# Times our GPT-2 training step and the identical PyTorch step in one
# invocation, same machine and environment, 2 threads each, and prints the
# ratio of median step times (ours / PyTorch) and of peak RSS.
#
#   scripts/bench_vs_torch.sh [--steps N] [SHAPE FLAGS...]   (default 30 timed steps after 5 warm-up)
#
# Shape flags (--layers, --d-model, --heads, --ffn, --vocab, --seq, --batch,
# --warmup) after --steps replace the default shape's on both sides, e.g.
# GPT-2 small: --steps 3 --layers 12 --d-model 768 --heads 12 --ffn 3072
# --vocab 50257 --seq 256 --batch 4 --warmup 1.
#
# Needs Debian's python3-torch for the PyTorch side. SPARSETUNE_BLAS=gonum
# measures the pure-Go fallback instead of OpenBLAS.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=30
if [[ "${1:-}" == "--steps" ]]; then steps=$2; shift 2; fi
shape=(--layers 2 --d-model 256 --heads 4 --ffn 1024 --vocab 4096 --seq 128 --batch 8 --steps "$steps" --warmup 5 "$@")
go build -o /tmp/sparsetune-bench ./cmd/sparsetune
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2 SPARSETUNE_THREADS=2
echo "== sparsetune" >&2
ours=$(/tmp/sparsetune-bench bench train --family gpt2 "${shape[@]}" | tail -1)
echo "$ours" >&2
echo "== pytorch" >&2
theirs=$(/usr/bin/python3 scripts/bench_torch.py "${shape[@]}" --threads 2 | tail -1)
echo "$theirs" >&2
python3 - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "ours_median_step_s": a["median_step_s"], "torch_median_step_s": b["median_step_s"],
    "step_ratio": round(a["median_step_s"] / b["median_step_s"], 3),
    "ours_peak_rss_mb": a["peak_rss_mb"], "torch_peak_rss_mb": b["peak_rss_mb"],
    "rss_ratio": round(a["peak_rss_mb"] / b["peak_rss_mb"], 3),
    "blas": a["blas"],
}))
PY
