#!/usr/bin/env bash
# The inference engine's speed figures in one invocation, same machine and
# environment, 2 threads: sparse vs dense in the same engine (scoring a
# 16×128 batch and batch-1 greedy decoding) on a GPT-2 with d 512, 8 layers,
# 8 heads, FFN 2048 and routers calibrated to compute 0.5, then PyTorch's
# eval() forward of the same model shape for the dense scoring comparison
# (before and after our engine; the mean of the two).
#
#   scripts/bench_infer.sh [--reps N] [--vocab V]   (defaults 5 and 4096)
#
# Needs Debian's python3-torch for the PyTorch side.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=5 vocab=4096
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --vocab) vocab=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
go build -o /tmp/sparsetune-bench ./cmd/sparsetune
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2 SPARSETUNE_THREADS=2 GOMAXPROCS=2
shape=(--layers 8 --d-model 512 --heads 8 --ffn 2048 --vocab "$vocab")
# PyTorch runs before and after our engine, and the comparison takes the
# mean of its two medians, so that a drift of the machine's speed during
# the run does not favour either side.
torch() {
  echo "== pytorch eval() ($1)" >&2
  /usr/bin/python3 scripts/bench_infer_torch.py "${shape[@]}" --batch 16 --seq 128 --reps "$reps" --threads 2 | tail -1
}
before=$(torch before)
echo "$before" >&2
echo "== sparsetune engine, dense and sparse" >&2
ours=$(/tmp/sparsetune-bench bench infer --synthetic --family gpt2 "${shape[@]}" --target 0.5 --reps "$reps" | tail -1)
echo "$ours" >&2
after=$(torch after)
echo "$after" >&2
python3 - "$ours" "$before" "$after" <<'PY'
import json, sys
a, b, c = (json.loads(x) for x in sys.argv[1:])
a["torch_score_ms_before"], a["torch_score_ms_after"] = b["score_ms"], c["score_ms"]
a["torch_score_ms"] = (b["score_ms"] + c["score_ms"]) / 2
a["dense_vs_torch"] = round(a["torch_score_ms"] / a["score_ms_dense"], 3)  # > 1: our dense engine is faster
print(json.dumps(a))
PY
