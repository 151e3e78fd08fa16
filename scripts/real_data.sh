#!/usr/bin/env bash
# The real-data acceptance run: pretrain a small GPT-2 on State of the Union
# (train split) + Moby-Dick, fine-tune it as a SpamAssassin classifier (test
# accuracy), and fine-tune it as a language model on State of the Union
# (valid perplexity before and after). Reads ../shared/datasets.
#
#   scripts/real_data.sh [WORKDIR]    (default /tmp/sparsetune-real; about 25 minutes on 2 cores)
#
# PRETRAIN_ONLY=1 stops after the pretraining (WORKDIR/pretrain/best), which
# scripts/routers_real.sh reuses.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/sparsetune-real}
ds=../shared/datasets
for f in sotu/train.jsonl sotu/valid.jsonl moby-dick/chapters.jsonl spamassassin/train.jsonl; do
  [[ -f $ds/$f ]] || { echo "missing $ds/$f" >&2; exit 1; }
done
mkdir -p "$work"
rm -rf "$work/pretrain" "$work/spam" "$work/sotu"
go build -o "$work/sparsetune" ./cmd/sparsetune
st=$work/sparsetune

echo "== pretraining corpus and tokenizer" >&2
go run ./scripts/mkbase prepare-from "$work" 4096 $ds/sotu/train.jsonl $ds/moby-dick/chapters.jsonl

echo "== pretraining" >&2
$st train --model "$work/model" --from-scratch --task causal-lm --train "$work/pretrain.txt" --valid "$work/valid.txt" \
  --seq-len 128 --batch 16 --steps 1500 --lr 2e-3 --warmup 100 --min-lr-ratio 0.05 --weight-decay 0.1 \
  --eval-every 250 --save-every 250 --out-dir "$work/pretrain" --cache-dir "$work/cache" | tee "$work/pretrain.json"
[[ ${PRETRAIN_ONLY:-} == 1 ]] && exit 0

echo "== SpamAssassin classifier" >&2
$st train --model "$work/pretrain/best" --task classification --id-field - \
  --train $ds/spamassassin/train.jsonl --valid $ds/spamassassin/valid.jsonl --test $ds/spamassassin/test.jsonl \
  --seq-len 256 --batch 16 --steps 600 --lr 1e-3 --warmup 50 --dropout 0.1 --eval-every 100 --save-every 100 \
  --out-dir "$work/spam" --cache-dir "$work/cache" | tee "$work/spam.json"

echo "== State of the Union language model" >&2
$st eval --model "$work/pretrain/best" --data $ds/sotu/valid.jsonl --seq-len 128 --cache-dir "$work/cache" | tee "$work/sotu_base.json"
$st train --model "$work/pretrain/best" --task causal-lm --train $ds/sotu/train.jsonl --valid $ds/sotu/valid.jsonl \
  --seq-len 128 --batch 16 --steps 400 --lr 5e-4 --warmup 40 --eval-every 100 --save-every 100 \
  --out-dir "$work/sotu" --cache-dir "$work/cache" | tee "$work/sotu.json"
