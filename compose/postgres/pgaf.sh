#!/usr/bin/env bash
# pg_auto_failover for compose/: one script for the monitor, the three nodes, their healthchecks and the one-shot
# that creates the application's database. The compose services run it in the image of compose/postgres/Dockerfile;
# scripts/check-compose-pgaf.sh runs the same script on this machine (loopback ports, a temp folder), so what the
# containers do is tested without a Docker engine.
#
#   pgaf.sh monitor      create the monitor once, then run it (foreground; SIGTERM stops it cleanly)
#   pgaf.sh node         create this node once (the monitor makes the first one primary, clones the others), then run it
#   pgaf.sh health       healthcheck: monitor = it answers with its formation, its HBA and the nodes' password set;
#                        node = its postgres answers and the monitor reports it primary or secondary, reached (reported
#                        state = assigned state)
#   pgaf.sh init-app     one-shot, idempotent: the application's role and database, on the primary, through the
#                        formation's multi-host URI
#
# Settings (environment; the compose defaults in brackets):
#   PGAF_ROLE            monitor | node (for `health`)
#   PGAF_HOME            data root [/var/lib/postgresql/data, the image's volume]: PGDATA is $PGAF_HOME/pgdata, pg_autoctl's XDG folders and
#                        the password file sit next to it (all in the service's volume)
#   PGAF_HOSTNAME        this server's name for its peers [the container's hostname]
#   PGAF_PORT            postgres port [5432]          PGAF_LISTEN   listen_addresses [*]
#   PGAF_NAME            node name in the formation [PGAF_HOSTNAME]
#   PGAF_MONITOR_HOST / PGAF_MONITOR_PORT   the monitor [monitor / 5432]
#   PGAF_HBA_NETWORK     who may connect over TCP [samenet: the subnets this server is directly on, i.e. the compose
#                        network]; the local check uses 127.0.0.1/32
#   PGAF_NODES           init-app: host:port,host:port,... of the nodes [node1:5432,node2:5432,node3:5432]
#   AUTOCTL_NODE_PASSWORD  password of autoctl_node, the role the keepers use on the monitor (required)
#   REPLICATION_PASSWORD   password of pgautofailover_replicator, streaming replication between nodes (required, nodes)
#   POSTGRES_PASSWORD      password of the nodes' postgres superuser over TCP (required, nodes and init-app)
#   WORKERS_DB_NAME / WORKERS_DB_USER / WORKERS_DB_PASSWORD   init-app: the application's database and role
#
# Authentication (every TCP rule is limited to PGAF_HBA_NETWORK; no TLS: the compose network is private):
#   keeper → monitor        autoctl_node, scram-sha-256 (password from the password file)
#   standby → primary       pgautofailover_replicator, scram-sha-256 (replication connections; password file)
#   monitor → node          pgautofailover_monitor, trust: pg_auto_failover's health check only connects (the role has
#                           no privilege and pg_autoctl itself always opens it with trust)
#   applications → node     every other role, scram-sha-256
#   unix socket             peer (only the server's own OS user, inside the container)
# Passwords reach libpq through a 0600 password file in PGAF_HOME, never a command line, a log or the image.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PGAF_HOME=${PGAF_HOME:-/var/lib/postgresql/data}
PGAF_HOSTNAME=${PGAF_HOSTNAME:-$(hostname)}
PGAF_PORT=${PGAF_PORT:-5432}
PGAF_LISTEN=${PGAF_LISTEN:-*}
PGAF_NAME=${PGAF_NAME:-$PGAF_HOSTNAME}
PGAF_MONITOR_HOST=${PGAF_MONITOR_HOST:-monitor}
PGAF_MONITOR_PORT=${PGAF_MONITOR_PORT:-5432}
PGAF_HBA_NETWORK=${PGAF_HBA_NETWORK:-samenet}
PGDATA=$PGAF_HOME/pgdata
PASSFILE=$PGAF_HOME/pgpass
HBA_MARKER="# workers pgaf.sh: managed rules"
# How long the background setup may take before it gives up (and says so in the log).
SETUP_TIMEOUT_S=${PGAF_SETUP_TIMEOUT_S:-600}

# The monitor's tuned failure detection, the same values as scripts/services.sh (af_tune; the compose tests compare
# both files): a node is lost when its keeper has not reported for 8 s and health checks (every 2 s, 2 s timeout, 2
# retries 1 s apart) fail; the monitor then waits 12 s for an unreachable primary to have fenced itself before it
# promotes a standby. Measured with these values: writes reach the new primary ~22-26 s after the primary is killed.
MONITOR_SETTINGS=(
  "alter system set pgautofailover.node_considered_unhealthy_timeout = '8s'"
  "alter system set pgautofailover.health_check_period = '2s'"
  "alter system set pgautofailover.health_check_timeout = '2s'"
  "alter system set pgautofailover.health_check_max_retries = 2"
  "alter system set pgautofailover.health_check_retry_delay = '1s'"
  "alter system set pgautofailover.primary_demote_timeout = '12s'"
)
# A keeper that reaches neither the monitor nor a standby for this long demotes its own postgres (default 20 s).
NODE_NETWORK_PARTITION_TIMEOUT=8
# Every commit waits for one standby; with one node lost the other two stay synchronous.
NUMBER_SYNC_STANDBYS=1

log() { printf '[pgaf %s] %s\n' "$PGAF_NAME" "$*" >&2; }
die() { log "$*"; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
# Runs as the postgres OS user (the servers' owner), with pg_autoctl's folders inside PGAF_HOME.
as_pg() {
  local e=(env PATH="$PG_BIN:/usr/bin:/bin" PGPASSFILE="$PASSFILE" XDG_CONFIG_HOME="$PGAF_HOME/xdg/config"
    XDG_DATA_HOME="$PGAF_HOME/xdg/data" XDG_RUNTIME_DIR="$PGAF_HOME/xdg/run")
  if is_root; then runuser -u postgres -- "${e[@]}" "$@"; else "${e[@]}" "$@"; fi
}
local_psql() { as_pg psql -X -q -tA -v ON_ERROR_STOP=1 -h "$(socket_dir)" -p "$PGAF_PORT" -U postgres "$@"; }
socket_dir() { echo "${PGAF_SOCKET_DIR:-/var/run/postgresql}"; }
monitor_uri() { echo "postgres://autoctl_node@$PGAF_MONITOR_HOST:$PGAF_MONITOR_PORT/pg_auto_failover?sslmode=disable"; }
postgres_running() { as_pg pg_ctl -D "$PGDATA" status >/dev/null 2>&1; }

prepare() {
  mkdir -p "$PGAF_HOME/xdg/config" "$PGAF_HOME/xdg/data" "$PGAF_HOME/xdg/run" "$(socket_dir)"
  chmod 700 "$PGAF_HOME" "$PGAF_HOME/xdg/run"
  if is_root; then chown -R postgres:postgres "$PGAF_HOME"; chown postgres:postgres "$(socket_dir)"; fi
}

# The password file (libpq's format; the values must not contain ':' or '\', see compose/.env.example).
write_passfile() {
  local tmp; tmp=$(mktemp "$PGAF_HOME/.pgpass.XXXXXX")
  {
    # Any host: the monitor's own keeper reaches it through the unix socket.
    printf '*:*:pg_auto_failover:autoctl_node:%s\n' "$AUTOCTL_NODE_PASSWORD"
    if [ "${REPLICATION_PASSWORD:-}" ]; then printf '*:*:*:pgautofailover_replicator:%s\n' "$REPLICATION_PASSWORD"; fi
  } > "$tmp"
  chmod 600 "$tmp"; if is_root; then chown postgres:postgres "$tmp"; fi
  mv "$tmp" "$PASSFILE"
}

# pg_hba.conf, written whole (pg_autoctl runs with --skip-pg-hba): initdb's own trust rules never stay in place.
# A standby's copy comes from its primary through pg_basebackup, marker included.
write_hba() {
  local tmp="$PGDATA/pg_hba.conf.new"
  {
    echo "$HBA_MARKER (see compose/postgres/pgaf.sh)"
    if [ "$1" = monitor ]; then
      # The monitor's own pg_autoctl reaches it as autoctl_node through the socket: with the password too.
      echo "local pg_auto_failover autoctl_node scram-sha-256"
      echo "local all all peer"
      echo "host pg_auto_failover autoctl_node $PGAF_HBA_NETWORK scram-sha-256"
    else
      echo "local all all peer"
      echo "host all pgautofailover_monitor $PGAF_HBA_NETWORK trust"
      echo "host replication pgautofailover_replicator $PGAF_HBA_NETWORK scram-sha-256"
      echo "host all all $PGAF_HBA_NETWORK scram-sha-256"
    fi
  } > "$tmp"
  chmod 600 "$tmp"; if is_root; then chown postgres:postgres "$tmp"; fi
  mv "$tmp" "$PGDATA/pg_hba.conf"
}

hba_ready() { [ -f "$PGDATA/pg_hba.conf" ] && grep -qF "$HBA_MARKER" "$PGDATA/pg_hba.conf"; }

# Background, bounded: once postgres runs, put the HBA in place (and reload), then the role-specific setup.
setup_in_background() {
  local role=$1
  (
    deadline=$((SECONDS + SETUP_TIMEOUT_S))
    until [ -f "$PGDATA/postmaster.pid" ] && postgres_running && local_psql -d postgres -c "select 1" >/dev/null 2>&1; do
      [ $SECONDS -lt $deadline ] || { log "setup: postgres did not start within ${SETUP_TIMEOUT_S} s"; exit 1; }
      sleep 0.5
    done
    if ! hba_ready; then
      write_hba "$role"
      until local_psql -d postgres -c "select pg_reload_conf()" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { log "setup: could not reload pg_hba.conf"; exit 1; }
        sleep 0.5
      done
      log "setup: pg_hba.conf in place"
    fi
    if [ "$role" = monitor ]; then monitor_setup "$deadline"; else node_setup "$deadline"; fi
  ) &
}

monitor_setup() {
  local deadline=$1 stmt args=()
  until local_psql -d pg_auto_failover -c "select 1 from pgautofailover.formation limit 1" 2>/dev/null | grep -q 1; do
    [ $SECONDS -lt "$deadline" ] || { log "setup: the monitor's formation did not appear"; exit 1; }
    sleep 0.5
  done
  # psql quotes the value itself (:'pw'): the password is never spliced into SQL text or a command line.
  for stmt in "${MONITOR_SETTINGS[@]}"; do args+=(-c "$stmt"); done
  until printf '%s\n' "alter role autoctl_node password :'pw';" \
      | local_psql -d pg_auto_failover -v pw="$AUTOCTL_NODE_PASSWORD" -f - >/dev/null 2>&1 \
    && local_psql -d pg_auto_failover "${args[@]}" -c "select pg_reload_conf()" >/dev/null 2>&1; do
    [ $SECONDS -lt "$deadline" ] || { log "setup: could not set the monitor's password and timeouts"; exit 1; }
    sleep 0.5
  done
  log "setup: autoctl_node password and detection timeouts set"
  # number_sync_standbys can be set once the formation has two standbys.
  until [ "$(local_psql -d pg_auto_failover -c "select count(*) from pgautofailover.node where reportedstate = 'secondary' and goalstate = 'secondary'" 2>/dev/null)" = 2 ]; do
    [ $SECONDS -lt "$deadline" ] || { log "setup: two secondaries did not appear; number_sync_standbys not set"; exit 1; }
    sleep 1
  done
  until as_pg pg_autoctl set formation number-sync-standbys "$NUMBER_SYNC_STANDBYS" --pgdata "$PGDATA" >/dev/null 2>&1; do
    [ $SECONDS -lt "$deadline" ] || { log "setup: number_sync_standbys could not be set"; exit 1; }
    sleep 1
  done
  log "setup: number_sync_standbys $NUMBER_SYNC_STANDBYS"
}

node_setup() {
  local deadline=$1 recovery
  # On the primary: the replication and health-check roles' passwords (roles replicate to the standbys).
  while :; do
    recovery=$(local_psql -d postgres -c "select pg_is_in_recovery()" 2>/dev/null || true)
    if [ "$recovery" = t ]; then return 0; fi
    # Every step may meet a postgres that pg_autoctl is restarting (create stops it, run starts it again): retry.
    if [ "$recovery" = f ] && local_psql -d postgres -c "select 1 from pg_roles where rolname = 'pgautofailover_replicator'" 2>/dev/null | grep -q 1 \
      && local_psql -d postgres -v repl="$REPLICATION_PASSWORD" -v su="$POSTGRES_PASSWORD" -f - >/dev/null 2>&1 <<'SQL'
alter role pgautofailover_replicator password :'repl';
alter role postgres password :'su';
select 'create role pgautofailover_monitor login' where not exists (select 1 from pg_roles where rolname = 'pgautofailover_monitor')
\gexec
SQL
    then
      log "setup: replication and superuser passwords set"
      return 0
    fi
    [ $SECONDS -lt "$deadline" ] || { log "setup: the primary's roles did not appear"; exit 1; }
    sleep 0.5
  done
}

# Runs pg_autoctl in the foreground of this script; SIGTERM/SIGINT stop it cleanly (pg_autoctl stop), so
# `docker compose stop` shuts postgres down with a checkpoint while `kill` is a crash.
run_pg_autoctl() {
  as_pg pg_autoctl "$@" &
  local child=$!
  trap 'log "stopping"; as_pg pg_autoctl stop --pgdata "$PGDATA" >/dev/null 2>&1 || kill -TERM "$child" 2>/dev/null || true' TERM INT
  local rc=0
  wait "$child" || rc=$?
  # A signal interrupts the first wait: wait again for pg_autoctl to finish stopping.
  if kill -0 "$child" 2>/dev/null; then wait "$child" || rc=$?; fi
  exit "$rc"
}

cmd_monitor() {
  : "${AUTOCTL_NODE_PASSWORD:?set AUTOCTL_NODE_PASSWORD}"
  prepare
  write_passfile
  setup_in_background monitor
  if [ -f "$PGAF_HOME/xdg/config/pg_autoctl${PGDATA}/pg_autoctl.cfg" ]; then
    run_pg_autoctl run --pgdata "$PGDATA"
  fi
  log "creating the monitor (one time)"
  run_pg_autoctl create monitor --pgdata "$PGDATA" --pgport "$PGAF_PORT" --listen "$PGAF_LISTEN" \
    --hostname "$PGAF_HOSTNAME" --skip-pg-hba --no-ssl --run
}

cmd_node() {
  : "${AUTOCTL_NODE_PASSWORD:?set AUTOCTL_NODE_PASSWORD}" "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}" "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
  prepare
  write_passfile
  setup_in_background node
  if [ -f "$PGAF_HOME/xdg/config/pg_autoctl${PGDATA}/pg_autoctl.cfg" ]; then
    # The keeper reads its timeouts when it starts.
    as_pg pg_autoctl config set --pgdata "$PGDATA" timeout.network_partition_timeout "$NODE_NETWORK_PARTITION_TIMEOUT" >/dev/null
    run_pg_autoctl run --pgdata "$PGDATA"
  fi
  log "creating node $PGAF_NAME (one time: the first registered becomes primary, the others clone it)"
  # create --run cannot take the keeper's timeout before the configuration exists: create, set it, then run.
  as_pg pg_autoctl create postgres --pgdata "$PGDATA" --pgport "$PGAF_PORT" --listen "$PGAF_LISTEN" \
    --hostname "$PGAF_HOSTNAME" --name "$PGAF_NAME" --monitor "$(monitor_uri)" --skip-pg-hba \
    --no-ssl --replication-quorum true
  as_pg pg_autoctl config set --pgdata "$PGDATA" timeout.network_partition_timeout "$NODE_NETWORK_PARTITION_TIMEOUT" >/dev/null
  run_pg_autoctl run --pgdata "$PGDATA"
}

cmd_health() {
  case "${PGAF_ROLE:?set PGAF_ROLE (monitor or node)}" in
    monitor)
      hba_ready || exit 1
      [ "$(local_psql -d pg_auto_failover -c "select count(*) from pgautofailover.formation f, pg_authid a where a.rolname = 'autoctl_node' and a.rolpassword is not null" 2>/dev/null)" -ge 1 ] ;;
    node)
      as_pg pg_isready -q -h "$(socket_dir)" -p "$PGAF_PORT" || exit 1
      local state
      state=$(as_pg psql -X -q -tA -d "$(monitor_uri)&connect_timeout=3" \
        -c "select reportedstate || '/' || goalstate from pgautofailover.node where nodename = '$PGAF_NAME'" 2>/dev/null) || exit 1
      case "$state" in primary/primary | secondary/secondary) exit 0 ;; *) exit 1 ;; esac ;;
    *) die "PGAF_ROLE must be monitor or node" ;;
  esac
}

cmd_init_app() {
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}" "${WORKERS_DB_PASSWORD:?set WORKERS_DB_PASSWORD}"
  local nodes=${PGAF_NODES:-node1:5432,node2:5432,node3:5432}
  local db=${WORKERS_DB_NAME:-workers} user=${WORKERS_DB_USER:-workers}
  # target_session_attrs=read-write: whichever node is the primary now. The password goes through the environment
  # of psql only (PGPASSWORD), not its command line.
  PGPASSWORD="$POSTGRES_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 \
    -d "postgresql://postgres@$nodes/postgres?target_session_attrs=read-write&connect_timeout=5" \
    -v app_user="$user" -v app_password="$WORKERS_DB_PASSWORD" -v db="$db" -f - <<'SQL'
select format('create role %I login', :'app_user') where not exists (select 1 from pg_roles where rolname = :'app_user')
\gexec
alter role :"app_user" password :'app_password';
select format('create database %I owner %I', :'db', :'app_user') where not exists (select 1 from pg_database where datname = :'db')
\gexec
revoke all on database :"db" from public;
SQL
  log "database ${db} and role ${user} in place"
}

case "${1:-}" in
  monitor) cmd_monitor ;;
  node) cmd_node ;;
  health) cmd_health ;;
  init-app) cmd_init_app ;;
  *) echo "usage: $0 monitor|node|health|init-app" >&2; exit 2 ;;
esac
