#!/usr/bin/env bash
# llamacpp_check.sh — checks `sparsetune export --format gguf` against a real
# llama.cpp: npm's node-llama-cpp with its prebuilt CPU binaries (installed
# into scripts/llamacpp/node_modules as package-lock.json pins it; its postinstall,
# which would download or build llama.cpp, is skipped, and nothing else is
# downloaded). Run from anywhere; needs go, node and npm.
#
#   1. log-probabilities: synthetic llama and qwen3 models (bench infer
#      --synthetic --save, 4 layers, d 256) exported at F32 and Q8_0, and the
#      tiny pruned checkpoints of every family that checkpoints'
#      TestGGUFWriteFixtures writes (heads and FFN groups removed unevenly,
#      so the export zero-pads; GQA, biases, q/k norms, llama3 and linear
#      RoPE scaling, gpt2) at F32; the next-token log-probabilities
#      llama.cpp computes over random token ids against `sparsetune score
#      --checkpoint --dense --per-token` (the export runs every kept unit, so
#      ours runs densely too). F32 must agree within 1e-3; Q8_0's deviation
#      is reported. llama.cpp runs with an F32 K/V cache and no flash
#      attention here (check.mjs's load says why).
#   2. decoding speed: a synthetic llama of d 1024 × 16 layers; batch-1 greedy
#      decoding, 16 prompt tokens then 112 generated, both on THREADS threads:
#      llama.cpp (F32 and Q8_0 GGUF) and sparsetune's engine (bench infer
#      --checkpoint --dtype f32|bf16|int8: dense and sparse), tokens/s each.
#   3. tokenizers: GGUFs carrying the Qwen3, Llama 3.1 and Mistral tokenizers
#      of data/testdata/tokenizer; llama.cpp tokenizes the 421 golden inputs
#      to the ids sparsetune's tokenizer is tested to give.
#
# Environment: WORK (scratch directory, default a new temporary one),
# THREADS (2), SKIP_TIMING=1 skips part 2.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
threads=${THREADS:-2}
mkdir -p "$work"
bin=$work/sparsetune
(cd "$root" && go build -o "$bin" ./cmd/sparsetune)
# npm install, not ci: the lock lacks the optional packages of platforms the
# registry does not serve, which ci refuses.
(cd "$root/scripts/llamacpp" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error)
check() { node "$root/scripts/llamacpp/check.mjs" "$@"; }
export SPARSETUNE_THREADS=$threads
fail=0

echo "== 1. next-token log-probabilities, llama.cpp vs sparsetune's engine (dense)"
node -e '
let s = 12345; const r = () => (s = (s * 1103515245 + 12345) % 2147483648) % 4095;
for (const n of [32, 64, 100]) console.log(JSON.stringify({ids: Array.from({length: n}, r)}));
' > "$work/ids.jsonl"
for fam in llama qwen3; do
	d=$work/$fam-small
	"$bin" bench infer --synthetic --family "$fam" --layers 4 --d-model 256 --heads 8 --ffn 1024 --vocab 4096 \
		--reps 1 --gen 4 --save "$d" > /dev/null 2>&1
	"$bin" score --checkpoint "$d" --dense --per-token --data "$work/ids.jsonl" > "$work/$fam-ours.jsonl" 2> /dev/null
	for typ in f32 q8_0; do
		"$bin" export --checkpoint "$d" --format gguf --type "$typ" --out "$work/$fam-$typ.gguf" > /dev/null 2>&1
		tol=()
		[ "$typ" = f32 ] && tol=(--tol 1e-3)
		echo -n "$fam $typ: "
		check logprobs --gguf "$work/$fam-$typ.gguf" --data "$work/ids.jsonl" --ours "$work/$fam-ours.jsonl" --threads "$threads" "${tol[@]}" || fail=1
	done
done

node -e '
let s = 7; const r = () => (s = (s * 1103515245 + 12345) % 2147483648) % 299;
for (const n of [12, 16]) console.log(JSON.stringify({ids: Array.from({length: n}, r)}));
' > "$work/tiny-ids.jsonl"
rm -rf "$work/tiny"
(cd "$root" && SPARSETUNE_GGUF_FIXTURES="$work/tiny" go test ./checkpoints -run TestGGUFWriteFixtures -count=1 > /dev/null)
for d in "$work"/tiny/*/; do
	name=$(basename "$d")
	"$bin" export --checkpoint "$d" --format gguf --out "$work/tiny-$name.gguf" > /dev/null 2>&1
	"$bin" score --checkpoint "$d" --dense --per-token --data "$work/tiny-ids.jsonl" > "$work/tiny-$name-ours.jsonl" 2> /dev/null
	echo -n "pruned $name f32: "
	check logprobs --gguf "$work/tiny-$name.gguf" --data "$work/tiny-ids.jsonl" --ours "$work/tiny-$name-ours.jsonl" --tol 1e-3 || fail=1
done

if [ "${SKIP_TIMING:-}" != 1 ]; then
	echo "== 2. batch-1 greedy decoding, $threads threads: d 1024 x 16 layers llama (synthetic, routers at 0.5)"
	d=$work/llama-big
	"$bin" bench infer --synthetic --family llama --layers 16 --d-model 1024 --heads 16 --ffn 4096 --vocab 4096 \
		--reps 1 --gen 4 --save "$d" > /dev/null 2>&1
	for typ in f32 q8_0; do
		"$bin" export --checkpoint "$d" --format gguf --type "$typ" --out "$work/big-$typ.gguf" > /dev/null 2>&1
		echo -n "llama.cpp $typ: "
		check decode --gguf "$work/big-$typ.gguf" --prompt 16 --gen 112 --threads "$threads"
	done
	for dt in f32 bf16 int8; do
		echo -n "sparsetune engine ($dt): "
		"$bin" bench infer --checkpoint "$d" --dtype "$dt" --prompt 16 --gen 112 --reps 3 2> /dev/null |
			DT=$dt node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8").trim().split("\n").pop());
console.log(JSON.stringify({mode: "decode", engine: "sparsetune", dtype: process.env.DT, threads: Number(process.env.SPARSETUNE_THREADS),
  dense_tokens_per_s: 1000 / r.decode_ms_per_token_dense, sparse_tokens_per_s: 1000 / r.decode_ms_per_token_sparse,
  decode_compute: r.decode_compute}))'
	done
fi

echo "== 3. tokenizers: llama.cpp's ids for the golden inputs vs sparsetune's"
golden=$root/data/testdata/tokenizer/golden
for tok in qwen3:151669:qwen3 llama3.1:128256:llama mistral:32000:llama; do
	IFS=: read -r name vocab fam <<< "$tok"
	d=$work/tok-$name
	"$bin" bench infer --synthetic --family "$fam" --layers 1 --d-model 64 --heads 2 --ffn 128 --vocab "$vocab" \
		--reps 1 --gen 2 --seq 16 --calib-len 16 --save "$d" > /dev/null 2>&1
	"$bin" export --checkpoint "$d" --format gguf --tokenizer "$root/data/testdata/tokenizer/$name" --out "$work/tok-$name.gguf" > /dev/null 2>&1
	echo -n "$name: "
	check tokenize --gguf "$work/tok-$name.gguf" --inputs "$golden/inputs.json" --golden "$golden/$name.jsonl" || fail=1
done
exit $fail
