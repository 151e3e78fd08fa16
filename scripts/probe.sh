#!/usr/bin/env bash
# Acceptance probe: runs sparsetune the way a careless or hostile user would
# and checks the CLI contract for each case: the exit code (0 success, 1 run
# error, 2 usage error), exactly one stderr line for an error, never a Go
# stack trace, and for the cases that could lose data, every file that
# existed before is intact (sha256sum before and after).
#
# Usage: scripts/probe.sh            (from anywhere; needs go, sha256sum)
#        KEEP=1 scripts/probe.sh     (keep the work directory for a look)
#
# It builds the binary into a temporary directory and uses only the embedded
# default base model (which `sparsetune train` extracts) and tiny generated
# data; tiny --steps keep it to a few minutes on two cores. It prints one
# `probe NAME: ok|FAIL (why)` line per case, then `N passed, M failed`, and
# exits 1 if any case failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sparsetune-probe.XXXXXX")
if [ -z "${KEEP:-}" ]; then
	trap 'rm -rf "$WORK"' EXIT
else
	echo "work directory: $WORK"
fi
BIN=$WORK/bin/sparsetune
(cd "$ROOT" && go build -o "$BIN" ./cmd/sparsetune) || {
	echo "probe: cannot build sparsetune" >&2
	exit 1
}
cd "$WORK" || exit 1
export GOTRACEBACK=all # a panic shows its goroutines, which the checks catch

passed=0
failed=0
SNAP=""           # sha256sum list of the files a data-loss probe must keep
OUT=$WORK/out.txt # stdout and stderr of the last probe
ERR=$WORK/err.txt

report() { # report NAME WHY
	if [ -z "$2" ]; then
		echo "probe $1: ok"
		passed=$((passed + 1))
	else
		echo "probe $1: FAIL ($2)"
		failed=$((failed + 1))
	fi
}

# snap PATH...: record the sha256 of every file under the paths, which the
# next probe must leave intact (a run's .lock names its latest holder).
snap() {
	SNAP=$WORK/snap.sha
	find "$@" -type f ! -name .lock -print0 | sort -z | xargs -0 sha256sum >"$SNAP"
}

# check NAME CODES WANT: judge the last command (exit code in $rc). CODES
# is one code or alternatives ("1|2"); WANT, when not empty, must appear in
# the output (stderr for an error, stdout or stderr on success).
check() {
	local name=$1 codes=$2 want=$3 why=""
	if grep -qE '^panic|goroutine [0-9]+ \[|fatal error' "$OUT" "$ERR"; then
		why="stack trace or fatal error"
	fi
	if ! [[ "|$codes|" == *"|$rc|"* ]]; then
		why="${why:+$why; }exit $rc, want $codes"
	fi
	if [ "$rc" != 0 ]; then
		local n
		n=$(grep -c '' "$ERR")
		[ "$n" = 1 ] || why="${why:+$why; }stderr has $n lines, want 1: $(head -c 300 "$ERR" | tr '\n' '|')"
	fi
	if [ -n "$want" ] && ! grep -qF -- "$want" "$ERR" "$OUT"; then
		why="${why:+$why; }does not say '$want': $(head -c 200 "$ERR" | tr '\n' '|')"
	fi
	if [ -n "$SNAP" ] && ! sha256sum --quiet -c "$SNAP" >/dev/null 2>&1; then
		why="${why:+$why; }pre-existing files changed or lost: $(sha256sum --quiet -c "$SNAP" 2>&1 | head -3 | tr '\n' '|')"
	fi
	SNAP=""
	report "$name" "$why"
}

# expect NAME CODES WANT -- COMMAND...: run sparsetune COMMAND and check it.
expect() {
	local name=$1 codes=$2 want=$3
	shift 4
	"$BIN" "$@" >"$OUT" 2>"$ERR"
	rc=$?
	check "$name" "$codes" "$want"
}

# expect_env NAME CODES WANT VAR=VALUE -- COMMAND...: the same in an environment.
expect_env() {
	local name=$1 codes=$2 want=$3 env=$4
	shift 5
	env "$env" "$BIN" "$@" >"$OUT" 2>"$ERR"
	rc=$?
	check "$name" "$codes" "$want"
}

# json_field FILE KEY: a number field of the one-line JSON in FILE.
json_field() { grep -o "\"$2\":[-0-9.eE+]*" "$1" | head -1 | cut -d: -f2; }

# nan_at FILE TENSOR ELEMENT: overwrite one element of a float tensor of a
# safetensors file with NaN, in place (the header gives the tensor's dtype
# and data_offsets).
nan_at() {
	local file=$1 tensor=$2 el=$3 hlen entry off dtype nan size
	hlen=$(od -An -t u8 -N 8 "$file" | tr -d ' ')
	entry=$(dd if="$file" bs=1 skip=8 count="$hlen" 2>/dev/null | grep -o "\"$tensor\":{[^}]*}")
	off=$(printf '%s' "$entry" | grep -o '"data_offsets":\[[0-9]*' | grep -o '[0-9]*$')
	dtype=$(printf '%s' "$entry" | grep -o '"dtype":"[A-Z0-9]*"' | cut -d'"' -f4)
	case $dtype in
	F32) nan='\x00\x00\xc0\x7f' size=4 ;;
	F16) nan='\x00\x7e' size=2 ;;
	BF16) nan='\xc0\x7f' size=2 ;;
	*)
		echo "probe: nan_at: $tensor in $file has dtype '$dtype'" >&2
		return 1
		;;
	esac
	printf "$nan" | dd of="$file" bs=1 seek=$((8 + hlen + off + size * el)) conv=notrunc 2>/dev/null
}

# set_key CONFIG KEY VALUE: set a top-level key of a config.json.
set_key() {
	sed -E -i "s/\"$2\": *[^,}]*/\"$2\": $3/" "$1"
}

# --- inputs -----------------------------------------------------------------

# The embedded base: `train --steps 0` extracts it and fails validation.
expect "train --steps 0 (extracts the embedded base)" 2 "--steps must be positive" -- train --steps 0
BASE=$WORK/runs/.builtin/base
if [ ! -f "$BASE/config.json" ]; then
	echo "probe: the embedded base was not extracted to $BASE; this build may carry none (scripts/make_base.sh)" >&2
	echo "$passed passed, $((failed + 1)) failed"
	exit 1
fi

mkdata() { # mkdata FILE N OFFSET: a two-class topic task
	local i
	: >"$1"
	for ((i = 0; i < $2; i++)); do
		if ((i % 2)); then
			echo "{\"id\": \"$(($3 + i))\", \"text\": \"the dog $i ran in the park and barked at the ball\", \"label\": \"dog\"}" >>"$1"
		else
			echo "{\"id\": \"$(($3 + i))\", \"text\": \"the cat $i sat on the mat and purred at the sun\", \"label\": \"cat\"}" >>"$1"
		fi
	done
}
mkdata train.jsonl 32 0
mkdata valid.jsonl 12 1000
mkdata calib.jsonl 16 2000
printf 'id,text\n1,the cat sat on the mat\n2,"the dog, barking"\n' >texts.csv
TINY=(--model "$BASE" --train train.jsonl --valid valid.jsonl --task classification --seq-len 32 --batch 4
	--warmup 1 --eval-every 2 --save-every 2 --log-every 1 --cache-dir cache)

# A dense and a sparse run, the sparse one hardened into SP/sparse.
"$BIN" train "${TINY[@]}" --steps 2 --out-dir dense >"$OUT" 2>"$ERR"
rc=$?
check "train dense (tiny)" 0 '"checkpoint"'
"$BIN" train "${TINY[@]}" --steps 4 --target 0.5 --stage2-steps 1 --out-dir sp >"$OUT" 2>"$ERR"
rc=$?
check "train sparse (tiny)" 0 '"sparse_checkpoint"'

# --- class 5: a sparse run's checkpoints where a plain model is expected ----

"$BIN" eval --model sp/checkpoint-4 --data valid.jsonl --batch 4 --cache-dir cache >"$OUT" 2>"$ERR"
rc=$?
check "eval --model of a sparse run's checkpoint" 0 '"compute"'
# The run's last evaluation (step 4, hard masks) is what eval must report.
want=$(grep '"split":"valid"' sp/metrics.jsonl | grep -E '"step":4[,}]' | grep -o '"accuracy":[0-9.eE+-]*' | cut -d: -f2)
got=$(json_field "$OUT" metric)
if [ -n "$want" ] && awk -v a="$got" -v b="$want" 'BEGIN { exit !(a == b) }'; then
	report "eval --model RUN/checkpoint matches the run's own evaluation" ""
else
	report "eval --model RUN/checkpoint matches the run's own evaluation" "eval says $got, the run logged $want"
fi
expect "eval --model of a sparse checkpoint" 1 "--checkpoint sp/sparse" -- eval --model sp/sparse --data valid.jsonl
expect "eval --checkpoint of a sparse checkpoint" 0 '"compute"' -- eval --checkpoint sp/sparse --data valid.jsonl --cache-dir cache
expect "score --model RUN/best (sparse run)" 1 "checkpoint of a sparse run" -- score --model sp/best --data valid.jsonl
expect "score --model RUN/sparse" 1 "--checkpoint sp/sparse" -- score --model sp/sparse --data valid.jsonl
expect "train --model RUN/best (sparse run)" 1 "checkpoint of a sparse run" -- train "${TINY[@]}" --steps 2 --model sp/best --out-dir t5a
expect "train --model RUN/sparse" 1 "sparse checkpoint" -- train "${TINY[@]}" --steps 2 --model sp/sparse --out-dir t5b

# --- class 6: non-finite weights ---------------------------------------------

cp -r "$BASE" nanbase
nan_at nanbase/model.safetensors transformer.h.0.attn.c_attn.weight 17
expect "eval NaN weight" 1 "tensor transformer.h.0.attn.c_attn.weight has NaN at element 17" -- eval --model nanbase --data valid.jsonl
expect "train NaN weight" 1 "has NaN at element 17" -- train "${TINY[@]}" --steps 2 --model nanbase --out-dir t6
expect "score NaN weight" 1 "has NaN at element 17" -- score --model nanbase --data valid.jsonl
cp -r sp spnan
router=$(grep -ao '"router\.layers\.0\.[a-z]*\.weight"' spnan/best/router.safetensors | head -1 | tr -d '"')
nan_at spnan/best/router.safetensors "$router" 3
expect "harden NaN router weight" 1 "router.safetensors: tensor $router has NaN at element 3" -- harden --checkpoint spnan --out hnan
expect "eval NaN router weight" 1 "has NaN at element 3" -- eval --model spnan/best --data valid.jsonl

# --- class 7: settings a run would ignore, config files, bench sizes ---------

expect "--distill in a dense run" 2 "--distill applies only to sparse runs" -- train "${TINY[@]}" --steps 2 --distill 0.5 --out-dir t7
expect "--penalty-weight in a dense run" 2 "--penalty-weight applies only to sparse runs" -- train "${TINY[@]}" --steps 2 --penalty-weight 1 --out-dir t7
expect "--router in a dense run" 2 "--router applies only to sparse runs" -- train "${TINY[@]}" --steps 2 --router static --out-dir t7
expect "--tau in a dense run" 2 "--tau applies only to sparse runs" -- train "${TINY[@]}" --steps 2 --tau 0.3 --out-dir t7
expect "--coreset-ratio without --coreset" 2 "--coreset-ratio applies only with a coreset" -- train "${TINY[@]}" --steps 2 --coreset-ratio 0.5 --out-dir t7
expect "--valid-ratio with --valid" 2 "--valid-ratio applies only without a valid file" -- train "${TINY[@]}" --steps 2 --valid-ratio 0.2 --out-dir t7
echo '{"distill": 0.5}' >distill.json
expect "config distill in a dense run" 2 "distill.json: distill applies only to sparse runs" -- train "${TINY[@]}" --steps 2 --config distill.json --out-dir t7
echo '{"steps": 2} {"lr": 5}' >trailing.json
expect "config trailing content" 2 "after the JSON object" -- train "${TINY[@]}" --config trailing.json --out-dir t7
expect "bench infer --layers 0" 2 "--layers must be positive" -- bench infer --synthetic --layers 0
expect "bench infer --heads 0" 2 "--heads must be positive" -- bench infer --synthetic --heads 0
expect "bench train --layers 0" 2 "--layers must be positive" -- bench train --layers 0

# --- class 8: malformed config.json ------------------------------------------

bad_base() { # bad_base DIR KEY VALUE: a copy of the base with one key changed
	rm -rf "$1"
	cp -r "$BASE" "$1"
	set_key "$1/config.json" "$2" "$3"
}
bad_base hugepos n_positions 1099511627776
expect "eval n_positions 2^40" 1 "n_positions is 1099511627776" -- eval --model hugepos --data valid.jsonl
expect "train n_positions 2^40" 1 "n_positions is 1099511627776" -- train "${TINY[@]}" --steps 2 --model hugepos --out-dir t8
expect "inspect n_positions 2^40" 1 "n_positions" -- inspect hugepos
bad_base bigpos n_positions 16777216
(ulimit -v 4000000 2>/dev/null; "$BIN" eval --model bigpos --data valid.jsonl >"$OUT" 2>"$ERR")
rc=$?
check "eval n_positions 2^24 under a memory limit" 1 "n_positions"
bad_base fivehead n_head 5
expect "n_head not dividing n_embd" 1 "n_head 5 does not divide n_embd" -- eval --model fivehead --data valid.jsonl
bad_base negembd n_embd -8
expect "negative n_embd" 1 "n_embd is -8" -- eval --model negembd --data valid.jsonl
rm -rf brokencfg && cp -r "$BASE" brokencfg && echo '{"model_type": "gpt2",' >brokencfg/config.json
expect "malformed config.json" 1 "config.json" -- eval --model brokencfg --data valid.jsonl

# --- class 9: non-finite float flags -----------------------------------------

expect "train --lr NaN" 2 "--lr must be a finite number" -- train "${TINY[@]}" --steps 2 --lr NaN --out-dir t9
expect "train --target NaN" 2 "--target must be a finite number" -- train "${TINY[@]}" --steps 2 --target NaN --out-dir t9
expect "train --dropout Inf" 2 "--dropout must be a finite number" -- train "${TINY[@]}" --steps 2 --dropout Inf --out-dir t9
expect "harden --target NaN" 2 "--target must be a finite number" -- harden --checkpoint sp --out h9 --target NaN
expect "bench infer --target NaN" 2 "--target must be a finite number" -- bench infer --synthetic --target NaN
expect "coreset --ratio NaN" 2 "--ratio must be a finite number" -- coreset --data train.jsonl --method random --ratio NaN --out c9.jsonl

# --- class 10: messages, exit codes, environment ----------------------------

expect "train --seq-len -3" 2 "--seq-len must be" -- train "${TINY[@]}" --steps 2 --seq-len -3 --out-dir t10
expect "train --out-dir ''" 2 "--out-dir is required" -- train "${TINY[@]}" --steps 2 --out-dir ""
expect "eval --seq-len -3" 2 "--seq-len must be" -- eval --model "$BASE" --data valid.jsonl --seq-len -3
expect "bench train --family t5" 2 "--family" -- bench train --family t5
expect_env "SPARSETUNE_THREADS=abc falls back" 0 "warning" SPARSETUNE_THREADS=abc -- info
expect_env "SPARSETUNE_BLAS=missing falls back" 0 "using gonum" SPARSETUNE_BLAS=/nonexistent/libblas.so -- info
expect "run error prints no blas line" 1 "no config.json" -- eval --model nonexistent --data valid.jsonl
expect "eval --no-cache" 0 '"metric"' -- eval --model dense/best --data valid.jsonl --no-cache
expect "eval --no-cache --cache-dir" 2 "--no-cache" -- eval --model dense/best --data valid.jsonl --no-cache --cache-dir cache
expect "harden of a dense run says harden" 1 "harden: " -- harden --checkpoint dense --out h10
if grep -q frontier "$ERR"; then report "harden of a dense run does not say frontier" "$(cat "$ERR")"; else report "harden of a dense run does not say frontier" ""; fi
expect "harden bad thresholds name no target" "1|2" "prune" -- harden --checkpoint sp --out h10 --prune-below 0.5 --dense-above 0.4
if grep -q "target 0" "$ERR"; then report "harden thresholds: no 'target 0'" "$(cat "$ERR")"; else report "harden thresholds: no 'target 0'" ""; fi
cp -r sp spdata
sed -i "s#\"train\": *\"[^\"]*\"#\"train\": \"$WORK/gone.jsonl\"#" spdata/best/train_config.json
expect "harden --data reads only --data" 0 '"sparse_checkpoint"' -- harden --checkpoint spdata --out hdata --data calib.jsonl --sequences 8
expect "score a CSV file" 0 '"logprob"' -- score --model "$BASE" --data texts.csv
cp -r sp/sparse flipped
size=$(stat -c %s flipped/model.safetensors)
printf '\x01' | dd of=flipped/model.safetensors bs=1 seek=$((size - 3)) conv=notrunc 2>/dev/null
expect "sparse hash mismatch" 1 "content hash" -- eval --checkpoint flipped --data valid.jsonl
if [ "$(grep -o 'sha256:[0-9a-f]\{64\}' "$ERR" | sort -u | wc -l)" = 2 ]; then
	report "hash mismatch shows both full hashes" ""
else
	report "hash mismatch shows both full hashes" "$(cat "$ERR")"
fi

# --- data loss: outputs onto existing directories and inputs -----------------

mkdir -p precious && echo "keep me" >precious/notes.txt
snap sp/sparse precious
expect "export --out onto a non-empty directory" "1|2" "" -- export --checkpoint sp/sparse --format hf --out precious
snap sp/sparse
expect "export --out onto its own checkpoint" "1|2" "" -- export --checkpoint sp/sparse --format hf --out sp/sparse
snap sp
expect "harden --out onto the run directory" "1|2" "" -- harden --checkpoint sp --out sp
snap sp precious
expect "harden --out onto a non-empty directory" "1|2" "" -- harden --checkpoint sp --out precious
snap valid.jsonl
expect "score --out onto its --data" "1|2" "" -- score --model "$BASE" --data valid.jsonl --out valid.jsonl
snap precious
expect "score --out onto a directory" "1|2" "" -- score --model "$BASE" --data valid.jsonl --out precious
snap train.jsonl
expect "coreset --out onto its --data" "1|2" "" -- coreset --data train.jsonl --method random --ratio 0.5 --out train.jsonl
snap precious
expect "coreset --out onto a directory" "1|2" "" -- coreset --data train.jsonl --method random --ratio 0.5 --out precious
snap dense
expect "train into an existing run without --resume" "1|2" "" -- train "${TINY[@]}" --steps 2 --out-dir dense
snap dense
expect "resume with a changed --lr" "1|2" "lr" -- train "${TINY[@]}" --steps 2 --out-dir dense --resume --lr 0.1

# Two trains into one directory: the second must refuse while the first
# runs, and the first must finish its run intact.
"$BIN" train "${TINY[@]}" --steps 40 --eval-every 20 --save-every 20 --out-dir twice >twice1.json 2>twice1.log &
first=$!
for _ in $(seq 1 100); do
	[ -e twice/.lock ] && break
	sleep 0.1
done
"$BIN" train "${TINY[@]}" --steps 40 --out-dir twice >"$OUT" 2>"$ERR"
rc=$?
check "a second train into a running run's directory" "1|2" ""
wait "$first"
first_rc=$?
if [ "$first_rc" = 0 ] && grep -qE '"step":40[,}]' twice/metrics.jsonl; then
	report "the first train finishes intact" ""
else
	report "the first train finishes intact" "exit $first_rc: $(tail -2 twice1.log | tr '\n' '|')"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
