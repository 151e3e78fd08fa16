#!/usr/bin/env bash
# Routers only against the whole model on the real-data base: two SpamAssassin
# classifiers at compute target 0.5 from the GPT-2 that scripts/real_data.sh
# pretrains on State of the Union + Moby-Dick, one with --trainable routers
# (base frozen; routers, the new classification head and distillation from
# the dense base) and one with --trainable all, with real_data.sh's classifier
# recipe (600 steps, lr 1e-3, seq-len 256, batch 16, seed 1). For each: test
# accuracy and compute of its sparse checkpoint on the inference engine
# (sparsetune eval --checkpoint), the valid compute the run measured, wall
# time and peak RSS. Reads ../shared/datasets.
#
#   scripts/routers_real.sh [WORKDIR]    (default /tmp/sparsetune-real)
#
# WORKDIR/pretrain/best is reused when it is there; otherwise real_data.sh
# runs its pretraining only (PRETRAIN_ONLY=1; about 25 minutes on 2 cores).
# STEPS=N shortens the classifiers (a smoke test); PARALLEL=1 trains the two
# at once (their wall times then share the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/sparsetune-real}
steps=${STEPS:-600}
ds=../shared/datasets/spamassassin
for f in train valid test; do
  [[ -f $ds/$f.jsonl ]] || { echo "missing $ds/$f.jsonl" >&2; exit 1; }
done
base=$work/pretrain/best
if [[ ! -f $base/config.json ]]; then
  echo "== no base in $work: pretraining (scripts/real_data.sh, PRETRAIN_ONLY=1)" >&2
  PRETRAIN_ONLY=1 scripts/real_data.sh "$work"
fi
command -v /usr/bin/time >/dev/null || { echo "missing /usr/bin/time (GNU time, for the peak RSS)" >&2; exit 1; }
go build -o "$work/sparsetune" ./cmd/sparsetune
st=$work/sparsetune

# classify MODE trains the classifier of --trainable MODE into $work/routers-MODE.
classify() {
  local out=$work/routers-$1
  rm -rf "$out"
  /usr/bin/time -f '%e %M' -o "$out.time" \
    "$st" train --model "$base" --task classification --id-field - --trainable "$1" --target 0.5 --seed 1 \
    --train $ds/train.jsonl --valid $ds/valid.jsonl \
    --seq-len 256 --batch 16 --steps "$steps" --lr 1e-3 --warmup 50 --dropout 0.1 --eval-every 100 --save-every 100 \
    --out-dir "$out" --cache-dir "$work/cache" >"$out.json" 2>"$out.log"
}
echo "== SpamAssassin classifiers at target 0.5: --trainable routers and --trainable all ($steps steps)" >&2
if [[ ${PARALLEL:-} == 1 ]]; then
  classify routers & r=$!
  classify all & a=$!
  wait $r && wait $a
else
  classify routers
  classify all
fi

echo "== test set on the engine (sparse checkpoints)" >&2
rows=()
for mode in routers all; do
  out=$work/routers-$mode
  sparse=$(tail -n 1 "$out.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sparse_checkpoint"])')
  "$st" eval --checkpoint "$sparse" --data $ds/test.jsonl --id-field - --seq-len 256 --cache-dir "$work/cache" >"$out.test.json"
  rows+=("$mode $out.json $out.test.json $out.time")
done
python3 - "${rows[@]}" <<'PY'
import json, sys
print("| trainable | valid acc | valid compute | test acc (engine) | test compute (engine) | wall | peak RSS |")
print("|---|---|---|---|---|---|---|")
for row in sys.argv[1:]:
    mode, run, test, tm = row.split()
    r = json.loads(open(run).read().strip().splitlines()[-1])
    t = json.loads(open(test).read().strip().splitlines()[-1])
    wall, rss = open(tm).read().split()[-2:]
    print(f"| {mode} | {r['metric']:.4f} | {r.get('compute', float('nan')):.4f} | {t['metric']:.4f} | {t['compute']:.4f} | "
          f"{float(wall)/60:.1f} min | {int(rss)/1024:.0f} MB |")
PY
