#!/usr/bin/env bash
# The five-target SpamAssassin sweep (0.9, 0.7, 0.5, 0.3, 0.2) with each
# routing: threshold (contextual gates, calibrated τ) and top-k (a fixed k
# heads and groups per token). Each sweep trains the dense point and one
# sparse run per target from the real-data base (scripts/real_data.sh),
# times every sparse checkpoint on the engine and writes its table and its
# quality/compute and quality/latency plots; the two tables are printed.
#
#   scripts/sweep_routing.sh [WORKDIR] [STEPS]    (default /tmp/sparsetune-real, 250 steps;
#                                                  about 40 minutes on 2 cores)
#
# Budget: two runs at once (--parallel 2), one core each, seq-len 128,
# batch 16, evaluation and checkpoint every 50 steps. ROUTINGS=threshold
# (or topk) runs one of the two sweeps.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/real_base.sh "${1:-}"
steps=${2:-250}
ds=$spam
mkdir -p "$work"
go build -o "$work/sparsetune" ./cmd/sparsetune
export SPARSETUNE_THREADS=1 GOMAXPROCS=2
for routing in ${ROUTINGS:-threshold topk}; do
  out=$work/sweep-routing-$routing
  rm -rf "$out"
  echo "== $routing routing → $out" >&2
  "$work/sparsetune" sweep --targets 0.9,0.7,0.5,0.3,0.2 --routing "$routing" --parallel 2 --out-dir "$out" \
    --model "$base" --task classification --id-field - \
    --train "$ds/train.jsonl" --valid "$ds/valid.jsonl" --test "$ds/test.jsonl" \
    --seq-len 128 --batch 16 --steps "$steps" --lr 1e-3 --warmup 25 --dropout 0.1 \
    --eval-every 50 --save-every 50 --log-every 25 --cache-dir "$work/cache" >"$out.json" 2>"$out.log"
  echo "### $routing routing"
  cat "$out/results.md"
done
