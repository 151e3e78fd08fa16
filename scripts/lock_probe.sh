#!/usr/bin/env bash
# One writer per run directory, and a resume that checks what changed, on
# the built-in task trained densely and briefly:
#   1. two `train` runs started together into one directory: exactly one
#      proceeds, the other exits 1 with one line naming the first's pid;
#   2. a --resume started while the run is still going: refused the same
#      way, and the run goes on to finish;
#   3. --resume with a changed --lr (the built-in task trains at 0.001):
#      exit 1, one line naming lr;
#   4. --resume with the run's settings and more steps continues (the lock
#      file the finished run left behind blocks nothing).
#
#   scripts/lock_probe.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/sparsetune-lock}
rm -rf "$work" && mkdir -p "$work"
go build -o "$work/sparsetune" ./cmd/sparsetune
cd "$work" # the built-in task is written to ./runs/.builtin
st=./sparsetune
args=(train --target 0 --batch 4 --seq-len 64 --steps 12 --eval-every 6 --save-every 6 --log-every 6 --eval-batches 4)
fail=0

# errors prints the error lines of a log (those that name the command).
errors() { grep '^sparsetune train:' "$1" || true; }

# expect NAME RC WANT_RC LOG PATTERN: one error line matching PATTERN.
expect() {
  local lines
  lines=$(errors "$4")
  if [[ $2 != "$3" || $(grep -c . <<< "$lines") != 1 || ! $lines =~ $5 ]]; then
    echo "FAIL $1: exit $2 (want $3), error lines:"; echo "$lines"; fail=1
  else
    echo "ok   $1: exit $2: $lines"
  fi
}

# 1. Two runs into one directory at once.
"$st" "${args[@]}" --out-dir R > a.out 2> a.log & pa=$!
"$st" "${args[@]}" --out-dir R > b.out 2> b.log & pb=$!
set +e; wait $pa; ra=$?; wait $pb; rb=$?; set -e
if [[ $ra == 0 && $rb == 1 ]]; then
  echo "ok   concurrent: pid $pa proceeded (exit 0)"
  expect "concurrent, pid $pb" $rb 1 b.log "is in use by pid $pa .*wait for it or choose another --out-dir"
elif [[ $ra == 1 && $rb == 0 ]]; then
  echo "ok   concurrent: pid $pb proceeded (exit 0)"
  expect "concurrent, pid $pa" $ra 1 a.log "is in use by pid $pb .*wait for it or choose another --out-dir"
else
  echo "FAIL concurrent: exit codes $ra and $rb, want one 0 and one 1"; fail=1
fi
grep -q '"checkpoint":"R/best"' a.out b.out || { echo "FAIL concurrent: no summary names R/best"; fail=1; }

# 2. A resume while the run is still going.
"$st" "${args[@]}" --steps 40 --out-dir R2 > c.out 2> c.log & pc=$!
until grep -q '"pid"' R2/.lock 2> /dev/null; do sleep 0.1; done
set +e; "$st" "${args[@]}" --steps 40 --out-dir R2 --resume > /dev/null 2> d.log; rd=$?
wait $pc; rc=$?; set -e
expect "resume while running" $rd 1 d.log "R2 is in use by pid $pc "
if [[ $rc == 0 ]]; then echo "ok   the running run finished (exit 0)"; else echo "FAIL the running run: exit $rc"; tail -3 c.log; fail=1; fi

# 3. Resume with another learning rate.
set +e; "$st" "${args[@]}" --out-dir R --resume --lr 0.0005 > /dev/null 2> e.log; re=$?; set -e
expect "resume --lr 0.0005" $re 1 e.log "^sparsetune train: --resume: changed lr [0-9.e-]+ -> 0.0005; these cannot change on resume"

# 4. Resume with the run's settings and more steps.
set +e; "$st" "${args[@]}" --out-dir R --resume --steps 18 > f.out 2> f.log; rf=$?; set -e
if [[ $rf == 0 ]] && grep -q '"steps":18' f.out; then
  echo "ok   resume --steps 18: exit 0; $(grep '^resume:' f.log | tr '\n' ' ')"
else
  echo "FAIL resume --steps 18: exit $rf"; tail -3 f.log; fail=1
fi
exit $fail
