#!/usr/bin/env bash
# The scale-out check on real data: a small SpamAssassin sweep (targets 0.7
# and 0.5) is run three ways into three directories — locally in one process,
# by running the emitted Slurm array script once per array index (with
# SLURM_ARRAY_TASK_ID set, as Slurm would), and by running the emitted
# Kubernetes Indexed Job's container arguments once per completion index —
# then `sweep collect` merges the last two, and all three tables must be
# byte-identical (collected without latency: timings differ from run to
# run). Every way runs with one thread (--cpus 1 sets the Slurm task's
# SPARSETUNE_THREADS): another thread count sums in another order and
# changes the last bits of the weights. The Slurm script must pass `bash -n`; the manifest must be
# YAML of a batch/v1 Job with completionMode Indexed (checked with Python's
# yaml module).
#
#   scripts/sweep_emit_check.sh [WORKDIR]   (default /tmp/sparsetune-real; a few minutes on one core)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/real_base.sh "${1:-}"
ds=$spam
root=$work/sweep-emit
rm -rf "$root"
mkdir -p "$root"
bin=$root/sparsetune
go build -o "$bin" ./cmd/sparsetune
export SPARSETUNE_THREADS=1 GOMAXPROCS=1
flags=(--targets 0.7,0.5 --model "$base" --task classification --id-field -
  --train "$ds/train.jsonl" --valid "$ds/valid.jsonl" --test "$ds/test.jsonl"
  --seq-len 64 --batch 8 --steps 30 --lr 1e-3 --warmup 5 --eval-every 10 --save-every 10 --eval-batches 20
  --frontier-targets 0.5,0.7 --frontier-adapt-steps 3 --cache-dir "$work/cache")

echo "== local sweep" >&2
"$bin" sweep "${flags[@]}" --out-dir "$root/local" --latency=false >/dev/null 2>"$root/local.log"

echo "== Slurm: emit, bash -n, run every array index" >&2
"$bin" sweep "${flags[@]}" --out-dir "$root/slurm" --emit slurm --binary "$bin" --cpus 1 >/dev/null
bash -n "$root/slurm/sweep.slurm"
last=$(sed -n 's/^#SBATCH --array=0-\([0-9]*\).*/\1/p' "$root/slurm/sweep.slurm")
for i in $(seq 0 "$last"); do
  SLURM_ARRAY_TASK_ID=$i bash "$root/slurm/sweep.slurm" >/dev/null 2>>"$root/slurm.log"
done
"$bin" sweep collect "$root/slurm" --latency=false >/dev/null 2>&1

echo "== Kubernetes: emit, check the manifest, run every completion index" >&2
"$bin" sweep "${flags[@]}" --out-dir "$root/k8s" --emit k8s --binary "$bin" --cpus 1 >/dev/null
python3 - "$root/k8s/sweep-job.yaml" >"$root/k8s-args.txt" <<'EOF'
import shlex, sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
assert len(docs) == 1, "one document"
job = docs[0]
assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job", "a batch/v1 Job"
assert job["spec"]["completionMode"] == "Indexed", "completionMode Indexed"
c = job["spec"]["template"]["spec"]["containers"][0]
for i in range(job["spec"]["completions"]):
    print(shlex.join(c["command"] + [a.replace("$(SWEEP_INDEX)", str(i)) for a in c["args"]]))
EOF
while IFS= read -r line; do
  eval "$line" >/dev/null 2>>"$root/k8s.log" # the container's command line, shell-quoted by Python
done <"$root/k8s-args.txt"
"$bin" sweep collect "$root/k8s" --latency=false >/dev/null 2>&1

echo "== tables" >&2
for d in slurm k8s; do
  for f in results.csv results.md; do
    cmp "$root/local/$f" "$root/$d/$f"
  done
  echo "$d: results.csv and results.md identical to the local sweep's; job directories: $(ls -d "$root/$d"/*/ | xargs -n1 basename | tr '\n' ' ')" >&2
done
cat "$root/local/results.md"
