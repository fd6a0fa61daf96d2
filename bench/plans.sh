#!/usr/bin/env bash
# Writes bench/plans/<patients>.txt: EXPLAIN (ANALYZE, BUFFERS) of every
# query shape against the population loaded by bench/run.sh, with patients
# picked at random as input. Fails if any plan scans a table.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_DATA_DIR=$PWD/data/bench-pg PG_PORT=5439
q() { psql -h "$PG_DATA_DIR" -p "$PG_PORT" -U postgres -d pds "$@"; }
read -r family birth < <(q -Atq -F ' ' -c "SELECT family_key, birth_date FROM patients TABLESAMPLE SYSTEM (0.1) WHERE family_key ~ '^[A-Z]+$' LIMIT 1")
count=$(q -Atq -c "SELECT count(*) FROM patients")
mkdir -p bench/plans
out=bench/plans/$count.txt
{
  echo "# $count patients, $(date -u +%F), inputs family=$family birth=$birth"
  q -v family="$family" -v birth="$birth" -v prefix="${family:0:3}%" -f bench/plans.sql
} > "$out" 2>&1
cat "$out"
if grep -q "Seq Scan" "$out"; then echo "a plan scans a whole table" >&2; exit 1; fi
