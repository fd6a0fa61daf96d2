# shellcheck shell=bash
# The configuration files of the cluster, written from settings.env.
# Sourced after common.sh.

# Patroni's file for node $1. bootstrap.dcs is the cluster-wide part (read
# once, at bootstrap; `up` re-applies the timing through the REST API).
write_patroni_config() {
  local n=$1 dir
  dir=$(node_dir "$n")
  cat > "$dir/patroni.yml" <<YAML
scope: pds-ha
name: node$n
restapi:
  listen: 127.0.0.1:$(rest_port "$n")
  connect_address: 127.0.0.1:$(rest_port "$n")
etcd3:
  hosts: 127.0.0.1:$HA_ETCD_PORT
bootstrap:
  dcs:
$(dcs_settings | sed 's/^/    /')
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        hot_standby_feedback: "on"
        wal_log_hints: "on"
        wal_keep_size: 256MB
        max_connections: 100
        max_wal_senders: 10
        max_replication_slots: 10
        shared_buffers: 128MB
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
postgresql:
  listen: 127.0.0.1:$(pg_port "$n")
  connect_address: 127.0.0.1:$(pg_port "$n")
  data_dir: $dir/data
  bin_dir: $HA_PG_BIN
  pgpass: $dir/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: replicator
  parameters:
    unix_socket_directories: $dir
    logging_collector: "on"
    log_directory: log
    log_line_prefix: "%m [%p] %q%u@%d "
  # A local drill cluster on loopback: trust, no passwords.
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
  remove_data_directory_on_rewind_failure: true
YAML
}

# The dynamic (cluster-wide) settings, as YAML; also sent to PATCH /config.
dcs_settings() {
  cat <<YAML
ttl: $HA_TTL
loop_wait: $HA_LOOP_WAIT
retry_timeout: $HA_RETRY_TIMEOUT
primary_start_timeout: $HA_PRIMARY_START_TIMEOUT
synchronous_mode: true
failsafe_mode: true
YAML
}

# HAProxy: PostgreSQL primary and replicas, checked through Patroni's REST
# API, and the service instances, checked on /_ping.
write_haproxy_config() {
  local n i
  {
    cat <<CFG
global
  maxconn 4000
  log stdout format raw local0 info

defaults
  log global
  mode tcp
  retries 2
  timeout connect 2s
  timeout check 2s
  timeout client 1h
  timeout server 1h

listen stats
  mode http
  bind 127.0.0.1:$HA_STATS_PORT
  stats enable
  stats uri /

CFG
    for role in primary replica; do
      cat <<CFG
listen pg_$role
  bind 127.0.0.1:$([ "$role" = primary ] && echo "$HA_PRIMARY_PORT" || echo "$HA_REPLICA_PORT")
  option httpchk
  http-check send meth GET uri /$role
  http-check expect status 200
CFG
      # Patroni answers /primary with 200 once it holds the leader lock, a
      # moment before its PostgreSQL has left recovery; the body's role is
      # PostgreSQL's own, so wait for that too.
      [ "$role" = replica ] || echo "  http-check expect string '\"role\": \"master\"'"
      cat <<CFG
  default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 1 on-marked-down shutdown-sessions
CFG
      for n in $NODES; do
        echo "  server node$n 127.0.0.1:$(pg_port "$n") check port $(rest_port "$n")"
      done
      echo
    done
    cat <<CFG
listen pds_http
  mode http
  bind 127.0.0.1:$HA_HTTP_PORT
  balance roundrobin
  option httpchk
  http-check send meth GET uri /_ping
  http-check expect status 200
  # A refused or dropped connection goes to the other instance (PATCHes are
  # safe to resend: the service replays a repeated X-Request-ID).
  option redispatch 1
  retry-on conn-failure empty-response
  timeout client 60s
  timeout server 60s
  default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 1
CFG
    for i in $INSTANCES; do
      echo "  server pds$i 127.0.0.1:$(pds_port "$i") check"
    done
  } > "$HA_DIR/haproxy.cfg"
}
