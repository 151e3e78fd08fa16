#!/usr/bin/env bash
# The sweep acceptance run: a 4-target sweep (0.9, 0.7, 0.5, 0.3) of a
# SpamAssassin classifier fine-tuned from the real-data base model
# (scripts/real_data.sh), killed with SIGKILL while target 0.70 trains and run
# again, which must finish only what was missing. Then the table, both plots,
# the one-run frontier (routers of target 0.50) and the report.
#
#   scripts/sweep_spam.sh [WORKDIR] [STEPS]    (default /tmp/sparsetune-real, 250 steps;
#                                               about 30 minutes on one core)
#
# Budget: one core (SPARSETUNE_THREADS=1 GOMAXPROCS=1), seq-len 128, batch 16,
# STEPS steps per run, evaluation and checkpoint every 50 steps.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/real_base.sh "${1:-}"
steps=${2:-250}
ds=$spam
out=$work/sweep-spam
rm -rf "$out"
mkdir -p "$work"
go build -o "$work/sparsetune" ./cmd/sparsetune
export SPARSETUNE_THREADS=1 GOMAXPROCS=1
sweep=("$work/sparsetune" sweep --targets 0.9,0.7,0.5,0.3 --out-dir "$out"
  --model "$base" --task classification --id-field -
  --train "$ds/train.jsonl" --valid "$ds/valid.jsonl" --test "$ds/test.jsonl"
  --seq-len 128 --batch 16 --steps "$steps" --lr 1e-3 --warmup 25 --dropout 0.1
  --eval-every 50 --save-every 50 --log-every 25 --cache-dir "$work/cache")

echo "== sweep, killed while target-0.70 trains" >&2
"${sweep[@]}" >"$out.first.json" 2>"$out.first.log" &
pid=$!
until grep -qx checkpoint-100 "$out/target-0.70/latest" 2>/dev/null; do
  kill -0 $pid 2>/dev/null || { echo "the sweep ended before it could be killed" >&2; tail "$out.first.log" >&2; exit 1; }
  sleep 2
done
sleep 20 # a little past the checkpoint, so the resumed run redoes some steps
kill -9 $pid
wait $pid 2>/dev/null || true
echo "killed at: $(grep -o 'step *[0-9]*/' "$out.first.log" | tail -1)" >&2

echo "== the same sweep again" >&2
"${sweep[@]}" >"$out.json" 2>"$out.log"
grep -E 'finished earlier; skipped|interrupted earlier; resuming|resume: continuing' "$out.log" >&2

"$work/sparsetune" report "$out" >&2
cat "$out/results.md"
