#!/usr/bin/env bash
# The benchmark: loads N synthetic patients into a cluster of its own
# (data/bench-pg), reports load speed and store size, starts the release
# server on it and drives every scenario over loopback with wrk, inputs drawn
# at random from the loaded population. pgbench's select-only run on the same
# cluster gives this machine's primary-key lookup ceiling.
#
#   bench/run.sh [--patients N] [--seconds S] [--connections C] [--reuse]
#                [--only SCRIPT,...]
#
# --reuse keeps a population already loaded with the same N (no reload).
# --only runs just those scenarios (bench/wrk/<SCRIPT>.lua), prints their
# rows and writes no results file: for before/after runs while tuning.
# PDS=path/to/pds benchmarks another build (say, main's, for "before").
# Writes bench/results/<date>-<N>.md and prints the same table.
set -euo pipefail
cd "$(dirname "$0")/.."

PATIENTS=10000000 SECONDS_EACH=20 CONNECTIONS=32 REUSE=false ONLY=
while [ $# -gt 0 ]; do
  case "$1" in
    --patients) PATIENTS=$2; shift 2 ;;
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --reuse) REUSE=true; shift ;;
    --only) ONLY=",$2,"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

export PG_DATA_DIR=$PWD/data/bench-pg PG_PORT=5439 DEV_KEYS_DIR=$PWD/data/bench-keys
export SEED_COUNT=0 BIND=127.0.0.1:8090 RUST_LOG=warn RATE_LIMIT_PER_SECOND=0
export BENCH_WORK=$PWD/data/bench-work
RESULTS=bench/results/$(date +%F)-$PATIENTS.md
mkdir -p "$BENCH_WORK" bench/results

need() { command -v "$1" >/dev/null || { echo "installing $2"; apt-get install -y "$2" >/dev/null; }; }
need wrk wrk
need bc bc
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PGBENCH=$(command -v pgbench || echo "$PGBIN/pgbench")

if [ -z "${PDS:-}" ]; then
  cargo build --release --quiet
  PDS=target/release/pds
fi
sql() { psql -h "$PG_DATA_DIR" -p "$PG_PORT" -U postgres -d "${DB:-pds}" -Atq "$@"; }

"$PDS" migrate >/dev/null
# The bench cluster's settings: pg_stat_statements, to show where the
# database time goes, and shared buffers for a store of this size (the
# server provisions 256MB, sized for a laptop). Both need a restart.
SHARED_BUFFERS=${BENCH_SHARED_BUFFERS:-4GB}
as_owner() {
  if [ "$(id -u)" = 0 ]; then su "$(stat -c %U "$PG_DATA_DIR")" -s /bin/sh -c "$*"; else sh -c "$*"; fi
}
restart=false
if ! sql -c "SHOW shared_preload_libraries" | grep -q pg_stat_statements; then
  sql -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
  restart=true
fi
if [ "$(sql -c "SHOW shared_buffers")" != "$SHARED_BUFFERS" ]; then
  sql -c "ALTER SYSTEM SET shared_buffers = '$SHARED_BUFFERS'"
  restart=true
fi
if [ "$restart" = true ]; then
  as_owner "$PGBIN/pg_ctl -D '$PG_DATA_DIR' stop -m fast" >/dev/null
  "$PDS" migrate >/dev/null
fi
sql -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
have=$(sql -c "SELECT count(*) FROM patients WHERE nhs_number >= 9100000000")
LOAD_LINE="population already loaded (--reuse): not timed"
if [ "$REUSE" != true ] || [ "$have" != "$PATIENTS" ]; then
  echo "== loading $PATIENTS patients"
  start=$(date +%s.%N)
  LOAD_LINE=$("$PDS" seed --count "$PATIENTS" --replace 2>/dev/null | tail -1)
  # Only the loaded tables: analyzed while empty, the idempotency table would
  # be planned as empty (a sequential scan) until autovacuum analyzes it again.
  sql -c "VACUUM ANALYZE patients, patient_former_names"
  sql -c "CHECKPOINT" # write the load out now, not during the first scenarios
  LOAD_LINE="$LOAD_LINE; VACUUM ANALYZE after; $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.0f') s in all"
  echo "$LOAD_LINE"
fi

read -r PATIENT_ROWS TABLE_BYTES INDEX_BYTES < <(sql -F ' ' -c "
  SELECT (SELECT count(*) FROM patients),
         pg_table_size('patients') + pg_table_size('patient_former_names'),
         pg_indexes_size('patients') + pg_indexes_size('patient_former_names')")
per() { echo "scale=1; $1 / $PATIENT_ROWS" | bc; }
STORE_LINE="$PATIENT_ROWS patients: tables $(per "$TABLE_BYTES") B/patient, indexes $(per "$INDEX_BYTES") B/patient, $(per "$((TABLE_BYTES + INDEX_BYTES))") B/patient in all ($((  (TABLE_BYTES + INDEX_BYTES) / 1048576 )) MiB)"
echo "$STORE_LINE"

# Inputs: real patients drawn at random from the loaded population.
"$PDS" sample --count 200000 2>/dev/null > "$BENCH_WORK/people.txt"
cut -d' ' -f1 "$BENCH_WORK/people.txt" > "$BENCH_WORK/ids.txt"

export BENCH_TOKEN
BENCH_TOKEN=$("$PDS" token clinician 2>/dev/null)
FIRST_ID=$(head -1 "$BENCH_WORK/ids.txt")

# Start-up: from exec to the first retrieve answered, on the loaded store.
start=$(date +%s%N)
"$PDS" > "$BENCH_WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until curl -sf -o /dev/null -H "Authorization: Bearer $BENCH_TOKEN" \
  -H "X-Request-ID: 60e0b220-8136-4ca5-ae46-1d97ef59d068" "http://$BIND/Patient/$FIRST_ID"; do
  kill -0 $SERVER 2>/dev/null || { cat "$BENCH_WORK/server.log"; exit 1; }
  sleep 0.005
done
STARTUP_MS=$(( ($(date +%s%N) - start) / 1000000 ))
echo "start-up to first retrieve: $STARTUP_MS ms"

# CPU seconds used so far by the server, by PostgreSQL (the postmaster's
# children) and by finished children of this script (wrk).
ticks() { awk '{ t += $14 + $15 } END { print t + 0 }' "$@" 2>/dev/null || echo 0; }
POSTMASTER=$(head -1 "$PG_DATA_DIR/postmaster.pid")
pg_ticks() { ticks $(for c in $(cat /proc/"$POSTMASTER"/task/*/children); do echo "/proc/$c/stat"; done); }
HZ=$(getconf CLK_TCK)

rss_mb() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$SERVER/status"; }
ROWS=()
RSS_UNDER_LOAD=0
row() { # name connections script -> one table row
  local out result rss server0 pg0 wrk0 server1 pg1 wrk1
  if [ -n "$ONLY" ] && [[ "$ONLY" != *",$3,"* ]]; then return 0; fi
  out=$(mktemp)
  server0=$(ticks "/proc/$SERVER/stat"); pg0=$(pg_ticks)
  wrk0=$(awk '{ print $16 + $17 }' /proc/$$/stat)
  wrk -t2 -c"$2" -d"${SECONDS_EACH}s" -s "bench/wrk/$3.lua" "http://$BIND" > "$out" &
  local wrk_pid=$!
  sleep "$(( SECONDS_EACH / 2 ))"
  rss=$(rss_mb VmRSS)
  wait $wrk_pid
  server1=$(ticks "/proc/$SERVER/stat"); pg1=$(pg_ticks)
  wrk1=$(awk '{ print $16 + $17 }' /proc/$$/stat)
  result=$(grep '^RESULT' "$out" || { cat "$out" >&2; echo "RESULT 0 0 0 0 -1 0 0"; })
  rm -f "$out"
  read -r _ rps p50 p99 p999 errors patches patch_failed <<< "$result"
  cpu() { echo "$(( 100 * ($2 - $1) / HZ / SECONDS_EACH ))%"; }
  local note="RSS ${rss} MB; CPU server $(cpu "$server0" "$server1"), PostgreSQL $(cpu "$pg0" "$pg1"), wrk $(cpu "$wrk0" "$wrk1")"
  if [ "$3" = patch ] || [ "$3" = mixed ]; then
    note="$note; PATCH $patches/s, $patch_failed refused"
  fi
  RSS_UNDER_LOAD=$(echo "if ($rss > $RSS_UNDER_LOAD) $rss else $RSS_UNDER_LOAD" | bc)
  ROWS+=("| $1 | $2 | $rps | $p50 | $p99 | $p999 | $errors | $note |")
  echo "${ROWS[-1]}"
  [ "$1" = retrieve ] && RETRIEVE_RPS=$rps
  return 0
}

echo "== scenarios, ${SECONDS_EACH}s each"
row retrieve "$CONNECTIONS" retrieve
row "retrieve, overload" 256 retrieve
row "search family + birthdate" "$CONNECTIONS" family_birthdate
row "search wildcard family" "$CONNECTIONS" wildcard
row "search fuzzy" "$CONNECTIONS" fuzzy
row "read + PATCH telecom" "$CONNECTIONS" patch
sql -c "SELECT pg_stat_statements_reset()" >/dev/null
row "mixed 70/25/5" "$CONNECTIONS" mixed
if [ -n "$ONLY" ]; then exit 0; fi
# The statements, shortened: column lists become "…".
read -r -d '' TOP_SQL <<'SQL' || true
SELECT '', calls, round(mean_exec_time::numeric, 3), round(total_exec_time::numeric),
       replace(left(regexp_replace(regexp_replace(regexp_replace(query, '\s+', ' ', 'g'),
         '("[a-z_]+"\."[a-z_]+", )+"[a-z_]+"\."[a-z_]+"', '…', 'g'),
         '\(("[a-z_]+", )+"[a-z_]+"\)', '(…)', 'g'), 110), '|', '/'), ''
FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'pds')
ORDER BY total_exec_time DESC LIMIT 8
SQL
TOP_STATEMENTS=$(sql -F ' | ' -c "$TOP_SQL" | sed 's/^ //; s/ $//')
PEAK_RSS=$(rss_mb VmHWM)

# The ceiling: pgbench's built-in select-only script, prepared, same clients.
DB=postgres sql -c "SELECT 1 FROM pg_database WHERE datname = 'pgbench'" | grep -q 1 \
  || DB=postgres sql -c "CREATE DATABASE pgbench"
if ! DB=pgbench sql -c "SELECT 1 FROM pgbench_accounts LIMIT 1" >/dev/null 2>&1; then
  "$PGBENCH" -h "$PG_DATA_DIR" -p "$PG_PORT" -U postgres -i -s 10 -q pgbench >/dev/null 2>&1
fi
PGBENCH_TPS=$("$PGBENCH" -h "$PG_DATA_DIR" -p "$PG_PORT" -U postgres -S -M prepared \
  -c "$CONNECTIONS" -j 2 -T "$SECONDS_EACH" pgbench 2>/dev/null \
  | awk '/^tps/ { printf "%.0f", $3 }')
RATIO=$(echo "scale=1; 100 * $RETRIEVE_RPS / $PGBENCH_TPS" | bc)
echo "pgbench -S -M prepared: $PGBENCH_TPS tps; retrieve is $RATIO% of it"

# Before the results file is opened (and so changed) below.
COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet || echo ', with uncommitted changes')"
{
  echo "# Benchmark: $PATIENTS patients, $(date +%F)"
  echo
  echo "Command: \`bench/run.sh --patients $PATIENTS --seconds $SECONDS_EACH --connections $CONNECTIONS\`"
  echo "(commit $COMMIT)."
  echo
  echo "## Machine"
  echo
  echo "- $(nproc) cores: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')"
  echo "- $(free -g | awk '/^Mem/ { print $2 }') GiB memory; $(df -h . | awk 'NR == 2 { print $4 }') disk free after the load"
  echo "- $(uname -sr); $("$PGBIN/postgres" --version); wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')"
  echo "- server, PostgreSQL and wrk (2 threads) on the same machine, over loopback"
  echo "- PostgreSQL: $(sql -c "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'work_mem', 'synchronous_commit')")"
  echo "- server: default settings (DB_POOL_SIZE 4, DB_WRITE_POOL_SIZE 4, LOOKUP_THREADS 2, WORKERS 2), rate limit off"
  echo
  echo "## Load and store"
  echo
  echo "- load: $LOAD_LINE"
  echo "- store: $STORE_LINE"
  echo "- start-up to the first retrieve answered, on this store: $STARTUP_MS ms"
  echo "- server memory: $RSS_UNDER_LOAD MB resident under load at most, peak $PEAK_RSS MB (VmHWM)"
  echo
  echo "## Requests"
  echo
  echo "Latencies in milliseconds. Errors: wrk's count of failed connections and non-2xx answers."
  echo
  echo "| scenario | connections | requests/s | p50 | p99 | p99.9 | errors | notes |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Ceiling: \`pgbench -S -M prepared -c $CONNECTIONS -j 2 -T $SECONDS_EACH\` (scale 10, 1 M accounts) on the same cluster, server idle:"
  echo "$PGBENCH_TPS transactions/s. Retrieve served **$RATIO%** of it, through HTTP, JWT and audit."
  echo
  echo "CPU: share of one core over the run (200% is the whole machine). wrk's own"
  echo "Lua work is counted under wrk."
  echo
  echo "## Where the database time went (mixed scenario, pg_stat_statements)"
  echo
  echo "| calls | mean ms | total ms | statement |"
  echo "|---|---|---|---|"
  echo "$TOP_STATEMENTS"
} > "$RESULTS"
echo "wrote $RESULTS"
