#!/usr/bin/env bash
# Runs a command several times in a row while the CPU is kept busy, and stops
# at the first failure: how we check that tests wait for conditions rather
# than for a quiet machine.
#
#   scripts/under-load.sh 5 npm test
#   scripts/under-load.sh 5 npm run test:reliability
#   scripts/under-load.sh 5 npm run test:node -- 24
#
# The load is one busy loop per core (LOAD_PROCESSES to change it), at the same
# priority as the tests, so every test competes for the CPU.
set -uo pipefail
runs=${1:?usage: scripts/under-load.sh RUNS COMMAND...}
shift
loaders=()
for _ in $(seq 1 "${LOAD_PROCESSES:-$(nproc)}"); do
  node -e 'for (;;) {}' &
  loaders+=($!)
done
trap 'kill "${loaders[@]}" 2>/dev/null' EXIT
echo "== load: ${#loaders[@]} busy loops on $(nproc) cores; running $runs times: $*"
for run in $(seq 1 "$runs"); do
  started=$SECONDS
  "$@"
  status=$?
  echo "== run $run of $runs: exit $status after $((SECONDS - started)) s"
  [ "$status" -eq 0 ] || { echo "== under load: failed on run $run"; exit "$status"; }
done
echo "== under load: $runs of $runs runs passed"
