#!/usr/bin/env bash
# Kills a training run with SIGKILL mid-way, resumes it with --resume, and
# compares its per-step losses with an uninterrupted run of the same config.
# Also checks that no checkpoint directory was left half-written.
#
#   scripts/kill_resume.sh [WORKDIR] [KILL_AFTER_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/sparsetune-kill}
after=${2:-40}
rm -rf "$work" && mkdir -p "$work"
go build -o "$work/sparsetune" ./cmd/sparsetune
args=(train --steps 120 --eval-every 40 --save-every 20 --log-every 20)

"$work/sparsetune" "${args[@]}" --out-dir "$work/full" > /dev/null 2> "$work/full.log"

"$work/sparsetune" "${args[@]}" --out-dir "$work/cut" > /dev/null 2> "$work/cut.log" &
pid=$!
sleep "$after"
kill -9 "$pid" || true
wait "$pid" 2>/dev/null || true
echo "killed after ${after}s at: $(grep '^step' "$work/cut.log" | tail -1)"
ls "$work/cut"
for d in "$work"/cut/checkpoint-*; do
  for f in config.json model.safetensors optimizer.bin trainer_state.json; do
    [[ -s $d/$f ]] || { echo "half-written checkpoint: $d lacks $f" >&2; exit 1; }
  done
done
"$work/sparsetune" "${args[@]}" --out-dir "$work/cut" --resume > /dev/null 2>> "$work/cut.log"
python3 - "$work/full/metrics.jsonl" "$work/cut/metrics.jsonl" <<'PY'
import json, sys
def losses(p):
    return {r["step"]: r["loss"] for r in map(json.loads, open(p)) if "split" not in r}
a, b = losses(sys.argv[1]), losses(sys.argv[2])
worst = max(abs(a[s] - b[s]) for s in a)
print(json.dumps({"steps": len(a), "resumed_steps": len(b), "max_abs_loss_diff": worst}))
sys.exit(0 if len(a) == len(b) and worst <= 1e-5 else 1)
PY
