#!/usr/bin/env bash
# Reproduces the embedded base model in internal/builtin/base: generates the
# pretraining corpus, trains the BPE tokenizer, pretrains a small GPT-2 with
# `sparsetune train --from-scratch`, and stores the best checkpoint as F16.
#
#   scripts/make_base.sh [WORKDIR]     (default /tmp/sparsetune-base; about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/sparsetune-base}
rm -rf "$work/run"
go run ./scripts/mkbase prepare "$work"
go build -o "$work/sparsetune" ./cmd/sparsetune
"$work/sparsetune" train --model "$work/model" --from-scratch --task causal-lm \
  --train "$work/pretrain.txt" --valid "$work/valid.txt" --seq-len 128 \
  --batch 16 --steps 1500 --lr 2e-3 --warmup 100 --min-lr-ratio 0.05 --weight-decay 0.1 \
  --eval-every 250 --save-every 250 --out-dir "$work/run" --cache-dir "$work/cache" --seed 1
go run ./scripts/mkbase finish "$work/run/best" internal/builtin/base
ls -l internal/builtin/base
