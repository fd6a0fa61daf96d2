#!/usr/bin/env bash
# Search benchmark: loads N synthetic patients (default 10 million) into a
# cluster of its own (data/bench-pg), starts the release server on it and
# drives each search scenario with wrk, with inputs drawn at random from the
# loaded population. Prints wrk's latency distribution per scenario.
#
#   bench/search.sh [patients] [seconds-per-scenario] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${1:-10000000}
SECONDS_EACH=${2:-20}
CONNECTIONS=${3:-16}
export PG_DATA_DIR=$PWD/data/bench-pg PG_PORT=5439 DEV_KEYS_DIR=$PWD/data/bench-keys
export SEED_COUNT=0 BIND=127.0.0.1:8090 RUST_LOG=warn RATE_LIMIT_PER_SECOND=0
WORK=$PWD/data/bench-work
mkdir -p "$WORK"

command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y wrk >/dev/null; }
cargo build --release --quiet
PDS=target/release/pds
psql_bench() { psql -h "$PG_DATA_DIR" -p "$PG_PORT" -U postgres -d pds -Atq "$@"; }

"$PDS" migrate >/dev/null
have=$(psql_bench -c "SELECT count(*) FROM patients WHERE nhs_number >= 9100000000")
if [ "$have" != "$PATIENTS" ]; then
  echo "loading $PATIENTS patients"
  "$PDS" seed --count "$PATIENTS" --replace
  psql_bench -c "VACUUM ANALYZE patients"
fi
psql_bench -c "SELECT 'store: ' || pg_size_pretty(pg_total_relation_size('patients') + pg_total_relation_size('patient_former_names')) || ', ' || round((pg_total_relation_size('patients') + pg_total_relation_size('patient_former_names'))::numeric / count(*), 1) || ' bytes/patient' FROM patients"

# Inputs: family + birth date (+ first given name and gender) of random patients.
psql_bench -F ' ' -c "SELECT family_key, birth_date FROM patients TABLESAMPLE SYSTEM (1) WHERE family_key ~ '^[A-Z]+$' AND birth_date IS NOT NULL LIMIT 20000" > "$WORK/family.txt"

"$PDS" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://$BIND/_ping" >/dev/null && break; sleep 0.2; done
TOKEN=$("$PDS" token clinician 2>/dev/null)

scenario() { # name, lua request body
  cat > "$WORK/$1.lua" <<LUA
local rows = {}
for line in io.lines("$WORK/family.txt") do
  local f, b = line:match("^(%S+) (%S+)$")
  if f then rows[#rows + 1] = {f, b} end
end
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["X-Request-ID"] = "60e0b220-8136-4ca5-ae46-1d97ef59d068"
request = function()
  local r = rows[math.random(#rows)]
  local family, birth = r[1], r[2]
  $2
end
LUA
  echo "== $1"
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -s "$WORK/$1.lua" "http://$BIND" \
    | grep -E "Requests/sec|50%|90%|99%|Non-2xx|Socket errors"
}

scenario family_birthdate 'return wrk.format("GET", "/Patient?family=" .. family .. "&birthdate=" .. birth)'
scenario wildcard_family 'return wrk.format("GET", "/Patient?family=" .. family:sub(1, 3) .. "*&birthdate=" .. birth)'
scenario fuzzy 'local typo = family:sub(1, 1) .. family:sub(3, 3) .. family:sub(2, 2) .. family:sub(4)
  return wrk.format("GET", "/Patient?family=" .. typo .. "&birthdate=" .. birth .. "&gender=female&address-postalcode=LS16AE&_fuzzy-match=true")'
scenario history 'return wrk.format("GET", "/Patient?family=" .. family .. "&birthdate=" .. birth .. "&_history=true")'
