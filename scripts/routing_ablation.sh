#!/usr/bin/env bash
# The routing ablation of docs/results.md: classifiers fine-tuned from the
# real-data base (scripts/real_data.sh) on SpamAssassin and on the SOTU era
# task (scripts/sotu_party -label era), dense and at targets 0.5 and 0.25
# with contextual threshold routing, static routers and top-k routing,
# seeds 1-3; then the defaults each changed alone: the target ramp over
# half of stage 1 (both routers, both tasks and targets, and SpamAssassin
# at 0.25 with seeds 4 and 5), lambda_lr 0.5 and no stage-2 calibrations
# on SpamAssassin at 0.5, sep_weight 0 on both tasks at both targets,
# distillation on both tasks at 0.25. Every figure is the sparse
# checkpoint's, measured by the engine on the test split. Prints the table
# (scripts/routing_table.py).
#
#   scripts/routing_ablation.sh [WORKDIR]     (default /tmp/sparsetune-real; about 160 min
#                                             on 2 cores: 98 runs, two at a time, one core each)
#
# Recipe of every run: seq-len 128, batch 16, 250 steps, lr 1e-3, warmup 25,
# dropout 0.1, evaluation every 50 steps. ONLY="spam 1 thr-0.5" runs one
# line of the grid (the lines are below); JOBS=N runs N at once.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/real_base.sh "${1:-}"
out=$work/routing
[[ -f ../shared/datasets/sotu/train.jsonl ]] || { echo "missing ../shared/datasets/sotu/train.jsonl" >&2; exit 1; }
mkdir -p "$out"
go build -o "$work/sparsetune" ./cmd/sparsetune
[[ -f $out/sotu-era/test.jsonl ]] || go run ./scripts/sotu_party -label era ../shared/datasets/sotu "$out/sotu-era" >&2

grid() {
  local seed task
  for seed in 1 2 3; do for task in spam sotu; do
    echo "$task $seed dense"
    echo "$task $seed thr-0.5 --target 0.5"; echo "$task $seed static-0.5 --target 0.5 --router static"
    echo "$task $seed thr-0.25 --target 0.25"; echo "$task $seed static-0.25 --target 0.25 --router static"
    echo "$task $seed topk-0.5 --target 0.5 --routing topk"; echo "$task $seed topk-0.25 --target 0.25 --routing topk"
  done; done
  # The target ramp over half of stage 1 (target_warmup 83 here), the
  # default before December 8, for both routers; SpamAssassin at 0.25 with
  # seeds 4 and 5 too.
  for seed in 1 2 3; do for task in spam sotu; do for t in 0.5 0.25; do
    echo "$task $seed thr-$t-ramphalf --target $t --target-warmup 83"
    echo "$task $seed static-$t-ramphalf --target $t --router static --target-warmup 83"
  done; done; done
  for seed in 4 5; do
    echo "spam $seed thr-0.25 --target 0.25"; echo "spam $seed static-0.25 --target 0.25 --router static"
    echo "spam $seed thr-0.25-ramphalf --target 0.25 --target-warmup 83"
    echo "spam $seed static-0.25-ramphalf --target 0.25 --router static --target-warmup 83"
  done
  # Each default changed alone (measured, in docs/results.md, with the
  # ramp over half of stage 1: add --target-warmup 83 to repeat them).
  for seed in 1 2 3; do
    echo "spam $seed thr-0.5-lambda0.5 --target 0.5 --lambda-lr 0.5"
    echo "spam $seed thr-0.5-nocal --target 0.5 --stage2-calibrations 0"
    for task in spam sotu; do
      echo "$task $seed thr-0.5-sep0 --target 0.5 --sep-weight 0"
      echo "$task $seed thr-0.25-sep0 --target 0.25 --sep-weight 0"
      echo "$task $seed thr-0.25-distill --target 0.25 --distill 1"
    done
  done
}

one() { # task seed name [flags...]
  local task=$1 seed=$2 name=$3; shift 3
  local ds=$spam idf=(--id-field -)
  [[ $task == sotu ]] && { ds=$out/sotu-era; idf=(); }
  local run=$out/$task-s$seed-$name
  rm -rf "$run"
  SPARSETUNE_THREADS=1 GOMAXPROCS=1 "$work/sparsetune" train --model "$base" --task classification "${idf[@]}" \
    --train "$ds/train.jsonl" --valid "$ds/valid.jsonl" --test "$ds/test.jsonl" \
    --seq-len 128 --batch 16 --steps 250 --lr 1e-3 --warmup 25 --dropout 0.1 \
    --eval-every 50 --save-every 50 --log-every 25 --cache-dir "$work/cache" --seed "$seed" --out-dir "$run" "$@" \
    >"$run.json" 2>"$run.log" || { echo "$task seed $seed $name failed: $(tail -1 "$run.log")" >&2; return 1; }
  echo "done: $task seed $seed $name" >&2
}
export -f one
export out spam base work

if [[ -n ${ONLY:-} ]]; then
  one $ONLY
else
  grid | xargs -P "${JOBS:-2}" -L 1 bash -c 'one "$@"' _
fi
python3 scripts/routing_table.py "$out"
