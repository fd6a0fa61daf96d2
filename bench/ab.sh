#!/usr/bin/env bash
# Before/after on one store: alternates builds (or settings) against the
# population bench/run.sh loaded, one wrk scenario each, in rounds, so that
# the machine's drift falls on both alike.
#
#   bench/ab.sh path/to/pds-before target/release/pds "target/release/pds=LOOKUP_THREADS=1"
#   SCRIPT=family_birthdate CONNS=32 SECS=15 ROUNDS=3 bench/ab.sh …
#
# Each argument is a binary, optionally `=NAME=value` for its environment.
# Prints one line per run: round, build, wrk's RESULT (requests/s, p50, p99,
# p99.9 in ms, errors). The bench cluster must be running (bench/run.sh
# leaves it so).
set -euo pipefail
cd "$(dirname "$0")/.."
export PG_DATA_DIR=$PWD/data/bench-pg PG_PORT=5439 DEV_KEYS_DIR=$PWD/data/bench-keys
export SEED_COUNT=0 BIND=127.0.0.1:8090 RUST_LOG=warn RATE_LIMIT_PER_SECOND=0
export BENCH_WORK=$PWD/data/bench-work
[ -s "$BENCH_WORK/ids.txt" ] || { echo "run bench/run.sh first" >&2; exit 2; }
SCRIPT=${SCRIPT:-retrieve} SECS=${SECS:-15} CONNS=${CONNS:-32}
for round in $(seq "${ROUNDS:-3}"); do
  for build in "$@"; do
    bin=${build%%=*}; envs=${build#*=}; [ "$envs" = "$build" ] && envs=
    BENCH_TOKEN=$("$bin" token clinician 2>/dev/null) && export BENCH_TOKEN
    # shellcheck disable=SC2086
    env $envs "$bin" > "$BENCH_WORK/ab-server.log" 2>&1 &
    server=$!
    until curl -sf -o /dev/null "http://$BIND/_ping"; do
      kill -0 $server 2>/dev/null || { cat "$BENCH_WORK/ab-server.log"; exit 1; }
      sleep 0.05
    done
    wrk -t2 -c"$CONNS" -d3s -s "bench/wrk/$SCRIPT.lua" "http://$BIND" >/dev/null 2>&1
    result=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -s "bench/wrk/$SCRIPT.lua" "http://$BIND" | grep '^RESULT')
    echo "$round $build $result"
    kill $server; wait $server 2>/dev/null || true
  done
done
