#!/usr/bin/env bash
# Data-efficient fine-tuning on State of the Union: coreset selection
# (CCS, ELFS, random, hardest-only) at data ratios 0.1, 0.3 and 0.5 with 3
# seeds each, against training on all the data. Prints a table of test
# accuracy (mean ± sd over the seeds).
#
#   scripts/coreset_sotu.sh [WORKDIR] [BASE]
#
# WORKDIR (default /tmp/coreset-sotu) receives the task, the selections and
# the runs; BASE is the pretrained model to fine-tune (default: the SOTU +
# Moby-Dick GPT-2 of scripts/real_data.sh, WORKDIR-independent at
# /tmp/sparsetune-real/pretrain/best). Reads ../shared/datasets/sotu. About
# an hour on one core (each of the 41 runs is 200 steps of 16 × 64 tokens).
#
# The task: paragraphs of State of the Union addresses labelled with their
# half-century (4 classes), speeches split 70/10/20 into train/valid/test,
# 2000/400/1000 paragraphs balanced over the classes (scripts/sotu_party).
#
# Every run trains for the same number of steps, as CCS trains its
# coresets for the iterations of a full-data run. The label dynamics (for
# CCS and hardest-only) come from one dense run on all the training data,
# the pseudo-label dynamics (ELFS) from one run on k-means clusters of the
# base model's embeddings; both are recorded once (seed 1) and shared by
# every ratio and seed, as the papers score once per dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/coreset-sotu}
base=${2:-/tmp/sparsetune-real/pretrain/best}
ds=../shared/datasets/sotu
[[ -f $ds/train.jsonl ]] || { echo "missing $ds/train.jsonl" >&2; exit 1; }
[[ -f $base/config.json ]] || { echo "missing base model $base (run scripts/real_data.sh)" >&2; exit 1; }
export SPARSETUNE_THREADS=${SPARSETUNE_THREADS:-1} GOMAXPROCS=${GOMAXPROCS:-1}
mkdir -p "$work"
go build -o "$work/sparsetune" ./cmd/sparsetune
st=$work/sparsetune
go run ./scripts/sotu_party -label era "$ds" "$work/task"

task=$work/task
runs=$work/runs
sel=$work/select
results=$work/results.tsv
mkdir -p "$runs" "$sel"
# Training: the same for every run (and for the dynamics runs).
common=(--model "$base" --seq-len 64 --batch 16 --steps 200 --lr 1e-3 --warmup 20 --dropout 0.1
        --cache-dir "$work/cache")
evals=(--task classification --valid "$task/valid.jsonl" --test "$task/test.jsonl" --eval-every 100 --save-every 200 --log-every 100)

# train NAME SEED FILE: one run, appending "name seed test valid" to results.
train() {
  local name=$1 seed=$2 file=$3
  if [[ ! -f $runs/$name/summary.json ]]; then
    rm -rf "${runs:?}/$name"
    "$st" train "${common[@]}" "${evals[@]}" --seed "$seed" --train "$file" --out-dir "$runs/$name" \
      > "$runs/$name.json" 2> "$runs/$name.log"
    mkdir -p "$runs/$name" && mv "$runs/$name.json" "$runs/$name/summary.json"
  fi
  local s; s=$(cat "$runs/$name/summary.json")
  local test valid
  test=$(sed -E 's/.*"test_metric":([0-9.]+).*/\1/' <<<"$s")
  valid=$(sed -E 's/.*"metric":([0-9.]+).*/\1/' <<<"$s")
  printf '%s\t%s\t%s\t%s\n' "${name%-seed*}" "$seed" "$test" "$valid" >> "$results"
  echo "$name: test $test valid $valid" >&2
}

: > "$results"
for seed in 1 2 3; do
  train "full-1-seed$seed" "$seed" "$task/train.jsonl"
done
for ratio in 0.1 0.3 0.5; do
  for seed in 1 2 3; do
    for method in random ccs hardest elfs; do
      out=$sel/$method-$ratio-seed$seed.jsonl
      # Selections share --work-dir, so the dynamics are recorded once;
      # the dynamics run takes its seed from the first call (seed 1).
      [[ -f $out ]] || "$st" coreset "${common[@]}" --seed "$seed" --dynamics-every 25 \
        --data "$task/train.jsonl" --ratio "$ratio" --method "$method" --score aum \
        --out "$out" --work-dir "$sel/work" > "$out.report.json" 2> "$out.log"
      train "$method-$ratio-seed$seed" "$seed" "$out"
    done
  done
done

# Mean ± sd (n − 1) of test accuracy over the seeds, per method and ratio.
echo
echo "method ratio: test accuracy mean ± sd (valid mean), 3 seeds"
awk -F'\t' '{ k=$1; n[k]++; s[k]+=$3; q[k]+=$3*$3; v[k]+=$4 }
  END { for (k in n) { m=s[k]/n[k]; sd=(n[k]>1)?sqrt((q[k]-n[k]*m*m)/(n[k]-1)):0;
        printf "%-12s %.4f ± %.4f (valid %.4f)\n", k, m, sd, v[k]/n[k] } }' "$results" | sort
