#!/usr/bin/env bash
# Kills sparsetune with SIGKILL at random moments while it replaces
# directories, then runs the next command on the same path and checks that
# nothing was lost or left behind:
#
#   train --save-every 1  (the embedded default, small): killed, then
#       resumed to the end; the run must have latest, best and sparse,
#       no temporaries, and the same per-step losses as a run never killed;
#   harden --out EXISTING: killed, then a reader (score --checkpoint) must
#       find EXISTING, then harden again must leave no temporaries;
#   export --out EXISTING --force: the same, read with score --model.
#
# A quarter of the kills come after a random delay, the others as soon as a
# temporary, or a .new or .old directory (the moments between the renames
# of a swap, which a random delay rarely hits), appears. Not run in CI: it
# takes minutes.
#
#   scripts/kill_probe.sh [WORKDIR] [ROUNDS_PER_COMMAND]   # BIN=path: use that binary
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/sparsetune-kill-probe}
rounds=${2:-8}
rm -rf "$work" && mkdir -p "$work"
if [[ -n ${BIN:-} ]]; then # a binary built elsewhere, e.g. from a clean tree
  cp "$BIN" "$work/sparsetune"
else
  go build -o "$work/sparsetune" ./cmd/sparsetune
fi
cd "$work" # the embedded default extracts its model and task under ./runs
bin=$work/sparsetune
train_args=(train --steps 6 --save-every 1 --eval-every 3 --log-every 1 --batch 4 --seq-len 32)

kills=0 failures=0 missing_after_kill=0 left_after_kill=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# rand_delay MAX prints a random delay in [0, MAX) seconds.
rand_delay() { python3 -c "import random, sys; print(f'{random.uniform(0, float(sys.argv[1])):.3f}')" "$1"; }

# kill_during DIR MAXDELAY ROUND CMD...: runs CMD in the background and
# kills it with SIGKILL, by ROUND modulo 4: after a random delay in
# [0, MAXDELAY); as soon as DIR holds a temporary (a write under way); as
# soon as DIR holds a .new or .old directory (between the renames of a
# swap); after a random delay and then at the next temporary. Polling stops
# after 10 MAXDELAY. Counts the kill when the process was still running.
kill_during() {
  local dir=$1 max=$2 round=$3
  shift 3
  # Everything slow (python) before the start: an export lasts a blink.
  local delay span look=any deadline pid
  delay=$(rand_delay "$max")
  span=$(python3 -c "print(int(10 * $max * 1e6))") # µs; polling slows the command down
  ((round % 4 == 2)) && look=swap
  "$@" > /dev/null 2>> "$work/killed.log" &
  pid=$!
  if ((round % 4 == 0)); then
    sleep "$delay"
  else
    ((round % 4 == 3)) && sleep "$delay"
    deadline=$((${EPOCHREALTIME/./} + span))
    while kill -0 "$pid" 2> /dev/null && ((${EPOCHREALTIME/./} < deadline)); do
      if [[ $look == swap ]]; then
        compgen -G "$dir/.*.new" > /dev/null || compgen -G "$dir/.*.old" > /dev/null && break
      else
        compgen -G "$dir/.*.tmp-*" > /dev/null || compgen -G "$dir/.*.new" > /dev/null || compgen -G "$dir/.*.deleting" > /dev/null && break
      fi
    done
  fi
  if kill -9 "$pid" 2> /dev/null; then
    kills=$((kills + 1))
  fi
  wait "$pid" 2> /dev/null || true
}

# timed CMD...: runs CMD and prints its wall time in seconds.
timed() {
  local t0=$EPOCHREALTIME
  "$@" > /dev/null 2>&1
  python3 -c "print(round($EPOCHREALTIME - $t0, 3))"
}

# stale_in DIR lists the temporaries in DIR.
stale_in() {
  find "$1" -maxdepth 1 \( -name '.*.tmp-*' -o -name '*.old' -o -name '*.deleting' -o -name '.*.new' \) -printf '%f ' 2> /dev/null || true
}

# note_target TARGET: after a kill, counts a missing target and leftovers.
note_target() {
  [[ -e $1 ]] || missing_after_kill=$((missing_after_kill + 1))
  [[ -z $(stale_in "$(dirname "$1")") ]] || left_after_kill=$((left_after_kill + 1))
}

# same_losses A B: the per-step training losses of two metrics files agree
# (the same steps, within 1e-5, as scripts/kill_resume.sh).
same_losses() {
  python3 - "$1" "$2" << 'PY'
import json, sys
def losses(p):
    return {r["step"]: r["loss"] for r in map(json.loads, open(p)) if "split" not in r and "loss" in r}
a, b = losses(sys.argv[1]), losses(sys.argv[2])
sys.exit(0 if a.keys() == b.keys() and all(abs(a[s] - b[s]) <= 1e-5 for s in a) else 1)
PY
}

echo "== uninterrupted run"
full_time=$(timed "$bin" "${train_args[@]}" --out-dir full)
echo "full run: ${full_time}s"
python3 -c "import json; print(json.dumps({'ids': [5, 6, 7, 8, 9, 10]}))" > ids.jsonl

echo "== train --save-every 1, killed $rounds times"
for ((r = 0; r < rounds; r++)); do
  run=cut-$r
  kill_during "$run" "$full_time" "$r" "$bin" "${train_args[@]}" --out-dir "$run"
  [[ -e $run/latest ]] && ! [[ -e $run/$(cat "$run/latest") ]] && missing_after_kill=$((missing_after_kill + 1))
  [[ -z $(stale_in "$run") ]] || left_after_kill=$((left_after_kill + 1))
  resume=()
  [[ -d $run ]] && resume=(--resume)
  if ! "$bin" "${train_args[@]}" --out-dir "$run" "${resume[@]}" > /dev/null 2> "$run.log"; then
    fail "round $r: resuming: $(tail -1 "$run.log")"
    continue
  fi
  for d in best sparse "$(cat "$run/latest")"; do
    [[ -f $run/$d/config.json ]] || fail "round $r: $run/$d is missing after resuming"
  done
  left=$(stale_in "$run")
  [[ -z $left ]] || fail "round $r: left in $run: $left"
  if ! same_losses full/metrics.jsonl "$run/metrics.jsonl"; then
    fail "round $r: resumed losses differ from the uninterrupted run's"
  fi
done

echo "train: $kills of $rounds runs killed before they finished"
k0=$kills
echo "== harden --out EXISTING, killed $rounds times"
mkdir -p hp
harden_time=$(timed "$bin" harden --checkpoint full --out hp/hard)
echo "harden: ${harden_time}s"
for ((r = 0; r < rounds; r++)); do
  kill_during hp "$harden_time" "$r" "$bin" harden --checkpoint full --out hp/hard
  note_target hp/hard
  "$bin" score --checkpoint hp/hard --data ids.jsonl > /dev/null 2> score.log ||
    fail "harden round $r: a reader did not find hp/hard: $(tail -1 score.log)"
  "$bin" harden --checkpoint full --out hp/hard > /dev/null 2> harden.log ||
    fail "harden round $r: the next harden failed: $(tail -1 harden.log)"
  left=$(stale_in hp)
  [[ -z $left ]] || fail "harden round $r: left in hp: $left"
done

echo "harden: $((kills - k0)) of $rounds killed before they finished"
k0=$kills
echo "== export --out EXISTING --force, killed $rounds times"
mkdir -p ep
export_time=$(timed "$bin" export --checkpoint full/sparse --out ep/exp --force)
echo "export: ${export_time}s"
for ((r = 0; r < rounds; r++)); do
  kill_during ep "$export_time" "$r" "$bin" export --checkpoint full/sparse --out ep/exp --force
  note_target ep/exp
  "$bin" score --model ep/exp --data ids.jsonl > /dev/null 2> score.log ||
    fail "export round $r: a reader did not find ep/exp: $(tail -1 score.log)"
  "$bin" export --checkpoint full/sparse --out ep/exp --force > /dev/null 2> export.log ||
    fail "export round $r: the next export failed: $(tail -1 export.log)"
  left=$(stale_in ep)
  [[ -z $left ]] || fail "export round $r: left in ep: $left"
done

echo "export: $((kills - k0)) of $rounds killed before they finished"
echo "{\"kills\": $kills, \"rounds\": $((3 * rounds)), \"target_missing_right_after_kill\": $missing_after_kill, \"temporaries_right_after_kill\": $left_after_kill, \"failures\": $failures}"
((failures == 0))
