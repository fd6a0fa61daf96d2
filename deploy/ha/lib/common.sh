# shellcheck shell=bash
# Shared by the deploy/ha scripts: settings, paths and process handling.
# Every daemon runs in a session of its own (setsid), with its pid in
# $RUN/<name>.pid and its output in $LOGS/<name>.log.

HA_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO=$(cd "$HA_HERE/../.." && pwd)
# shellcheck source=deploy/ha/settings.env
. "$HA_HERE/settings.env"
RUN=$HA_DIR/run
LOGS=$HA_DIR/log
# shellcheck disable=SC2034 # used by the scripts that source this
{
  NODES="1 2 3"
  INSTANCES="1 2"
  PRIMARY_URL=postgres://postgres@127.0.0.1:$HA_PRIMARY_PORT/pds
  REPLICA_URL=postgres://postgres@127.0.0.1:$HA_REPLICA_PORT/pds
}

pg_port() { echo $((HA_PG_BASE_PORT + $1)); }
rest_port() { echo $((HA_REST_BASE_PORT + $1)); }
pds_port() { echo $((HA_PDS_BASE_PORT + $1)); }
node_dir() { echo "$HA_DIR/node$1"; }

say() { echo "[ha $(date +%T)] $*"; }
die() { echo "[ha] error: $*" >&2; exit 1; }

# The service binary: $PDS, else this checkout's release build (built if missing).
pds_bin() {
  if [ -n "${PDS:-}" ]; then echo "$PDS"; return; fi
  if [ ! -x "$REPO/target/release/pds" ]; then
    say "building $REPO/target/release/pds" >&2
    (cd "$REPO" && cargo build --release --quiet) >&2
  fi
  echo "$REPO/target/release/pds"
}

# True when pid $1 is one of this cluster's processes (its command line
# names $HA_DIR, or, for a service instance, its DEV_KEYS_DIR does), so a
# stale pid file never leads to killing a stranger.
ours() {
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
  tr '\0' '\n' 2>/dev/null < "/proc/$1/cmdline" | grep -qF "$HA_DIR" && return 0
  tr '\0' '\n' 2>/dev/null < "/proc/$1/environ" | grep -qxF "DEV_KEYS_DIR=$HA_DIR/dev-keys"
}
pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }
running() { ours "$(pid_of "$1")"; }

# One deploy/ha command at a time on a cluster: up, down, drill, bench and
# ctl take this lock (ctl and the others not when one of them runs them), so
# two checkouts running the drill at once take turns instead of both
# driving, killing and counting on one cluster. The lock is outside $HA_DIR,
# which --purge removes; daemons do not inherit it (spawn closes it).
lock() {
  [ "${HA_LOCKED:-}" = "$HA_DIR" ] && return 0
  local file wait=${HA_LOCK_WAIT:-900}
  file=/tmp/pds-ha-$(printf '%s' "$HA_DIR" | md5sum | cut -c1-12).lock
  exec 9>> "$file"
  if ! flock -n 9; then
    say "another deploy/ha command is using $HA_DIR: waiting for it (at most $wait s)" >&2
    flock -w "$wait" 9 || die "$HA_DIR still in use after $wait s ($file)"
  fi
  export HA_LOCKED=$HA_DIR
}

# spawn NAME COMMAND...: start COMMAND in the background, detached.
spawn() {
  local name=$1; shift
  mkdir -p "$RUN" "$LOGS"
  # Started in HA_DIR, not the checkout: PostgreSQL and Patroni run as the
  # postgres user, who cannot enter a checkout under a mode-700 directory
  # (root's home, say), and PostgreSQL's tools change to their cwd.
  (cd "$HA_DIR" && exec setsid "$@" >> "$LOGS/$name.log" 2>&1 < /dev/null 9>&-) &
  echo $! > "$RUN/$name.pid"
}

# wait_for SECONDS WHAT COMMAND...: retry COMMAND every 0.2 s until it
# succeeds; fail after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" > /dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after $deadline s: $what"
    sleep 0.2
  done
}

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 20).
stop_pid() {
  local pid=$1 deadline=$((SECONDS + ${2:-20}))
  ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while ours "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.1
  done
}

# stop NAME [SECONDS]: stop the daemon of that pid file.
stop() { stop_pid "$(pid_of "$1")" "${2:-20}"; rm -f "$RUN/$1.pid"; }

# The postmaster of node $1, from its data directory.
postmaster_pid() { head -1 "$(node_dir "$1")/data/postmaster.pid" 2>/dev/null || true; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid "$HA_PG_USER" --regid "$HA_PG_USER" --init-groups -- "$@"
  else
    "$@"
  fi
}

psql_primary() { psql "$PRIMARY_URL" -XAtq "$@"; }
rest() { curl -sf --max-time 2 "http://127.0.0.1:$(rest_port "$1")/$2"; }
# Patroni's /cluster from the first node that answers.
cluster_json() { local n; for n in $NODES; do rest "$n" cluster && return 0; done; return 1; }
