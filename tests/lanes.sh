#!/usr/bin/env bash
# `make test`'s QUIET step: each argument is a lane (test paths, space-separated) run by its
# own pytest ($PYTEST), all lanes at once, the tests of a lane one after another. Each
# lane's output is printed when all are done; the step fails if any lane failed.
#
# (Not pytest-xdist's --dist loadgroup: with pytest 9 its groups no longer reach the
# scheduler, so grouped tests are spread like any others.)
set -u
: "${PYTEST:?set PYTEST to the pytest command}"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
for lane in "$@"; do
  # shellcheck disable=SC2086  # a lane is several paths; PYTEST is a command with options
  $PYTEST $lane >"$logs/${#pids[@]}.log" 2>&1 &
  pids+=("$!")
done
status=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || status=1
done
for i in "${!pids[@]}"; do
  echo "==== lane $((i + 1)) of ${#pids[@]}: ${*:$((i + 1)):1}"
  cat "$logs/$i.log"
done
[ "$status" = 0 ] || echo "==== a QUIET lane failed (see above)" >&2
exit "$status"
