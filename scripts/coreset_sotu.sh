#!/usr/bin/env bash
# Data-efficient fine-tuning on State of the Union: coreset selection
# (CCS, CCS with β searched on valid, CCS by class, ELFS, ELFS with β
# searched on valid, ELFS by pseudo-class, ELFS with a proxy trained from
# random weights (globally and by pseudo-class), random, hardest-only, and
# as a diagnostic ELFS's window on the true-label dynamics) at data ratios 0.1, 0.3 and 0.5 with 3 seeds each, against
# training on all the data. Prints a table of test accuracy (mean ± sd over
# the seeds).
#
#   scripts/coreset_sotu.sh [WORKDIR] [BASE]
#
# WORKDIR (default /tmp/coreset-sotu) receives the task, the selections and
# the runs; BASE is the pretrained model to fine-tune (default: the SOTU +
# Moby-Dick GPT-2 of scripts/real_data.sh, WORKDIR-independent at
# /tmp/sparsetune-real/pretrain/best). Reads ../shared/datasets/sotu.
# Environment:
#   STEPS (120)       optimizer steps of every training run (~1 epoch of the
#                     2000 examples at batch 16 for a full-data run)
#   DYN_STEPS (625)   steps of the two dynamics (scoring) runs: 5 epochs
#   DYN_EVERY (62)    steps between two recordings of the dynamics (half an
#                     epoch: 10 recordings over 625 steps)
#   BETA_SEARCH (1)   also ccs-beta and elfs-beta: CCS and ELFS with β
#                     searched on valid (--beta-search, candidates 0..0.4)
#                     at seed 1 per ratio, that β reused for seeds 2 and 3;
#                     0 leaves them out. elfs-beta reads the valid labels
#                     for the search only; the examples it selects from stay
#                     unlabelled
#   SEEDS ("1 2 3")   training seeds (and random-selection seeds); the
#                     table is over the seeds given
#   METHODS           the methods to run (default: all of them, the
#                     β-search ones with BETA_SEARCH=1); the label and
#                     pseudo-label dynamics runs and the β searches run
#                     whatever is given
#   LABEL (era)       the task's label (scripts/sotu_party -label): era (4
#                     half-centuries) or century (2 classes); read when the
#                     work dir has no task yet
#   JOBS (2)          single-threaded training runs at a time
#   ST                a prebuilt sparsetune binary (default: built from
#                     this tree into WORKDIR)
# About 85 minutes on a shared 2-core machine with the defaults (111
# training runs, 3 dynamics runs of 625 steps, 6 β searches of 5 runs).
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
# every ratio and seed, as the papers score once per dataset; elfs-scratch
# records a third, on the same pseudo-labels, with the base model's
# architecture trained from random weights (the ELFS paper's proxy is a
# network trained from scratch on the pseudo-labels). The dynamics
# runs are longer than the training runs (DYN_STEPS): both papers record
# over a full training run of many epochs, and with one epoch the AUM of
# an example mostly says which class it is in.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/coreset-sotu}
base=${2:-/tmp/sparsetune-real/pretrain/best}
ds=../shared/datasets/sotu
[[ -f $ds/train.jsonl ]] || { echo "missing $ds/train.jsonl" >&2; exit 1; }
[[ -f $base/config.json ]] || { echo "missing base model $base (run scripts/real_data.sh)" >&2; exit 1; }
export SPARSETUNE_THREADS=${SPARSETUNE_THREADS:-1} GOMAXPROCS=${GOMAXPROCS:-1}
mkdir -p "$work"
if [[ -n ${ST:-} ]]; then
  st=$ST
else
  go build -o "$work/sparsetune" ./cmd/sparsetune
  st=$work/sparsetune
fi
# The task is built once per work dir: a rerun (say with BETA_SEARCH=1 after
# BETA_SEARCH=0) keeps the splits its selections and dynamics were made on.
[[ -f $work/task/test.jsonl ]] || go run ./scripts/sotu_party -label "${LABEL:-era}" "$ds" "$work/task"

task=$work/task
runs=$work/runs
sel=$work/select
results=$work/results.tsv
steps=${STEPS:-120}  # optimizer steps of every training run
dyn_steps=${DYN_STEPS:-625}               # steps of the dynamics runs
dyn_every=${DYN_EVERY:-$((dyn_steps / 10))} # steps between two recordings
beta_search=${BETA_SEARCH:-1}
jobs=${JOBS:-2}      # training runs at a time (each on one thread)
mkdir -p "$runs" "$sel"
# Training: the same for every run (the dynamics runs take DYN_STEPS steps).
common=(--model "$base" --seq-len 64 --batch 16 --steps "$steps" --lr 1e-3 --warmup 20 --dropout 0.1
        --cache-dir "$work/cache")
evals=(--task classification --valid "$task/valid.jsonl" --test "$task/test.jsonl"
       --eval-every $((steps / 2)) --save-every "$steps" --log-every 20)

# Selections first. They share --work-dir, so each kind of dynamics (labels
# for ccs and hardest, pseudo-labels for elfs) is recorded once, by the
# first call that needs it (seed 1): DYN_STEPS steps, a recording every
# DYN_EVERY. The --steps given last wins: the dynamics runs take
# DYN_STEPS, the β-search runs (whose dynamics table already exists) STEPS.
list=$work/runs.txt
if [[ -n ${METHODS:-} ]]; then
  read -ra methods <<<"$METHODS"
else
  methods=(random ccs ccs-byclass hardest elfs elfs-byclass elfs-scratch elfs-scratch-byclass elfs-oracle elfs-oracle-byclass)
  [[ $beta_search == 1 ]] && methods+=(ccs-beta elfs-beta)
fi
read -ra seeds <<<"${SEEDS:-1 2 3}"
select1() { # select1 METHOD RATIO SEED; *-byclass is --by-class, elfs-scratch* --proxy scratch, ccs-beta and elfs-beta ccs and elfs with a β searched on valid
  local out=$sel/$1-$2-seed$3.jsonl method=$1 extra=() n=$dyn_steps
  [[ -f $out ]] && return
  case $method in
  ccs-byclass|elfs-byclass) method=${method%-byclass} extra=(--by-class) ;;
  elfs-scratch) method=elfs extra=(--proxy scratch) ;;
  elfs-scratch-byclass) method=elfs extra=(--proxy scratch --by-class) ;;
  # A diagnostic, not a label-free method: ELFS's double-end window on the
  # true-label table (the true classes as its "pseudo-classes").
  elfs-oracle) method=elfs extra=(--dynamics "$sel/work/dynamics.jsonl") ;;
  elfs-oracle-byclass) method=elfs extra=(--dynamics "$sel/work/dynamics.jsonl" --by-class) ;;
  ccs-beta|elfs-beta)
    method=${method%-beta} n=$steps
    if [[ $3 == 1 ]]; then
      extra=(--beta-search --valid "$task/valid.jsonl" --eval-every $((steps / 2)) --log-every 20)
    else # the β seed 1 chose for this ratio
      extra=(--beta "$(sed -E 's/.*"beta":([0-9.e-]+).*/\1/' "$sel/$1-$2-seed1.jsonl.report.json")")
    fi ;;
  esac
  "$st" coreset "${common[@]}" --seed "$3" --steps "$n" --dynamics-every "$dyn_every" \
    --data "$task/train.jsonl" --ratio "$2" --method "$method" "${extra[@]}" --score aum \
    --out "$out" --work-dir "$sel/work" > "$out.report.json" 2> "$out.log"
  echo "selected $out" >&2
}
# The dynamics runs, two at a time.
select1 ccs 0.1 1 & select1 elfs 0.1 1 & wait
[[ " ${methods[*]}" == *" elfs-scratch"* ]] && select1 elfs-scratch 0.1 1
# The β searches (5 training runs each), two at a time.
if [[ $beta_search == 1 ]]; then
  export -f select1
  export st sel task steps dyn_steps dyn_every common_sel="${common[*]}"
  printf '%s %s\n' ccs-beta 0.1 ccs-beta 0.3 ccs-beta 0.5 elfs-beta 0.1 elfs-beta 0.3 elfs-beta 0.5 |
    xargs -P "$jobs" -L 1 bash -c 'common=($common_sel); select1 "$1" "$2" 1' _
fi
for seed in "${seeds[@]}"; do echo "full-1-seed$seed $seed $task/train.jsonl"; done > "$list"
for ratio in 0.1 0.3 0.5; do
  for seed in "${seeds[@]}"; do
    for method in "${methods[@]}"; do
      select1 "$method" "$ratio" "$seed"
      echo "$method-$ratio-seed$seed $seed $sel/$method-$ratio-seed$seed.jsonl" >> "$list"
    done
  done
done

# train NAME SEED FILE: one run; its JSON summary lands in runs/NAME/summary.json.
train() {
  local name=$1 seed=$2 file=$3
  [[ -f $runs/$name/summary.json ]] && return
  rm -rf "${runs:?}/$name"
  "$st" train "${common[@]}" "${evals[@]}" --seed "$seed" --train "$file" --out-dir "$runs/$name" \
    > "$runs/$name.json" 2> "$runs/$name.log"
  mv "$runs/$name.json" "$runs/$name/summary.json"
  echo "trained $name" >&2
}
export -f train
export st runs
export common_s="${common[*]}" evals_s="${evals[*]}"
# Arrays do not cross into the xargs shells: rebuild them there.
xargs -P "$jobs" -L 1 bash -c 'common=($common_s); evals=($evals_s); train "$@"' _ < "$list"

# Mean ± sd (n − 1) of test accuracy over the seeds, per method and ratio.
: > "$results"
while read -r name seed _; do
  s=$(cat "$runs/$name/summary.json")
  printf '%s\t%s\t%s\t%s\n' "${name%-seed*}" "$seed" \
    "$(sed -E 's/.*"test_metric":([0-9.]+).*/\1/' <<<"$s")" "$(sed -E 's/.*"metric":([0-9.]+).*/\1/' <<<"$s")" >> "$results"
done < "$list"
echo
echo "method-ratio: test accuracy mean ± sd (valid mean), seeds ${seeds[*]}"
awk -F'\t' '{ k=$1; n[k]++; s[k]+=$3; q[k]+=$3*$3; v[k]+=$4 }
  END { for (k in n) { m=s[k]/n[k]; sd=(n[k]>1)?sqrt((q[k]-n[k]*m*m)/(n[k]-1)):0;
        printf "%-12s %.4f ± %.4f (valid %.4f)\n", k, m, sd, v[k]/n[k] } }' "$results" | sort
