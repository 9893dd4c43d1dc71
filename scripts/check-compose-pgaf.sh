#!/usr/bin/env bash
# Runs compose/postgres/pgaf.sh — what the compose services monitor, node1..node3 and postgres-init run — on this
# machine: a monitor and three nodes on loopback (ports 56100..56103 by default, below the tests' formation's
# 56000..56003 and nothing else), in a temp folder, as the postgres user (runuser when run as root). Waits (bounded)
# until every healthcheck passes and the monitor reports one primary and two secondaries with number_sync_standbys 1,
# runs the one-shot init-app twice (idempotent) and logs in as the application's role through the multi-host URI,
# then stops everything by pid. Exit 0 on success; on failure prints the logs' last lines.
#   PGAF_CHECK_BASE_PORT    the monitor's port (default 56100; nodes base+1..base+3)
#   PGAF_CHECK_TIMEOUT_S    bound of the whole formation's start (default 240)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
script=$here/compose/postgres/pgaf.sh
base=${PGAF_CHECK_BASE_PORT:-56100}
timeout_s=${PGAF_CHECK_TIMEOUT_S:-240}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
command -v pg_autoctl >/dev/null || { echo "pg_autoctl not installed (apt-get install postgresql-15-auto-failover)" >&2; exit 2; }
for p in $base $((base + 1)) $((base + 2)) $((base + 3)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is taken" >&2; exit 2; fi
done

dir=$(mktemp -d /tmp/pgaf-check.XXXXXX)
chmod 755 "$dir"
# Test-only passwords, fresh each run (hex: valid in a libpq password file and a URI).
export AUTOCTL_NODE_PASSWORD REPLICATION_PASSWORD POSTGRES_PASSWORD WORKERS_DB_PASSWORD
AUTOCTL_NODE_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
REPLICATION_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
POSTGRES_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
WORKERS_DB_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
export WORKERS_DB_NAME=workers WORKERS_DB_USER=workers PGAF_HBA_NETWORK=127.0.0.1/32 PGAF_LISTEN=127.0.0.1
export PGAF_HOSTNAME=127.0.0.1 PGAF_MONITOR_HOST=127.0.0.1 PGAF_MONITOR_PORT=$base PG_BIN

declare -A pids=()
# name port role: the service's settings, as docker-compose.yml sets them, with loopback addresses.
svc_env() { echo env PGAF_HOME="$dir/$1" PGAF_PORT="$2" PGAF_NAME="$1" PGAF_ROLE="$3"; }
start() { # name port role
  # shellcheck disable=SC2046
  setsid $(svc_env "$1" "$2" "$3") bash "$script" "$3" >>"$dir/$1.log" 2>&1 </dev/null &
  pids[$1]=$!
}
healthy() { # name port role
  # shellcheck disable=SC2046
  $(svc_env "$1" "$2" "$3") bash "$script" health >/dev/null 2>&1
}
stop_all() {
  local name pid deadline
  for name in node3 node2 node1 monitor; do
    pid=${pids[$name]:-}; [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  deadline=$((SECONDS + 60))
  for name in node3 node2 node1 monitor; do
    pid=${pids[$name]:-}; [ -n "$pid" ] || continue
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    # Whatever is left of this service's own session (its pg_autoctl, its postgres): by process group, its pid.
    kill -KILL -- "-$pid" 2>/dev/null || true
    if [ -f "$dir/$name/pgdata/postmaster.pid" ]; then
      runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/$name/pgdata" -m immediate stop >/dev/null 2>&1 || true
    fi
  done
}
fail() {
  echo "FAIL: $*" >&2
  for f in "$dir"/*.log; do echo "--- $(basename "$f")" >&2; tail -n 25 "$f" >&2; done
  exit 1
}
monitor_sql() { runuser -u postgres -- "$PG_BIN/psql" -X -q -tA -h /var/run/postgresql -p "$base" -d pg_auto_failover -c "$1" 2>/dev/null; }
cleanup() { stop_all; if [ -z "${PGAF_CHECK_KEEP:-}" ]; then rm -rf "$dir"; fi; }
trap cleanup EXIT

started=$SECONDS
deadline=$((SECONDS + timeout_s))
start monitor "$base" monitor
until healthy monitor "$base" monitor; do
  [ $SECONDS -lt $deadline ] || fail "the monitor was not healthy within ${timeout_s} s"
  kill -0 "${pids[monitor]}" 2>/dev/null || fail "the monitor exited"
  sleep 0.5
done
echo "monitor healthy after $((SECONDS - started)) s"
# In parallel, as compose starts them (each depends on the monitor only).
for i in 1 2 3; do start "node$i" $((base + i)) node; done
for i in 1 2 3; do
  until healthy "node$i" $((base + i)) node; do
    [ $SECONDS -lt $deadline ] || fail "node$i was not healthy within ${timeout_s} s"
    kill -0 "${pids[node$i]}" 2>/dev/null || fail "node$i exited"
    sleep 1
  done
  echo "node$i healthy after $((SECONDS - started)) s"
done
until [ "$(monitor_sql "select number_sync_standbys from pgautofailover.formation where formationid = 'default'")" = 1 ]; do
  [ $SECONDS -lt $deadline ] || fail "number_sync_standbys did not become 1 within ${timeout_s} s"
  sleep 0.5
done
states=$(monitor_sql "select string_agg(reportedstate::text, ',' order by reportedstate::text) from pgautofailover.node where reportedstate = goalstate") \
  || fail "the monitor does not answer" 
[ "$states" = "primary,secondary,secondary" ] || fail "formation states: $states"
echo "formation: $states, number_sync_standbys 1 after $((SECONDS - started)) s"
# The README's `docker compose exec -u postgres monitor pg_autoctl show state`, with the image's environment.
m=$dir/monitor
shown=$(runuser -u postgres -- env PATH="$PG_BIN:/usr/bin:/bin" PGDATA="$m/pgdata" PGPASSFILE="$m/pgpass" \
  XDG_CONFIG_HOME="$m/xdg/config" XDG_DATA_HOME="$m/xdg/data" XDG_RUNTIME_DIR="$m/xdg/run" pg_autoctl show state 2>&1) \
  || fail "pg_autoctl show state on the monitor: $shown"
[ "$(printf '%s\n' "$shown" | grep -cE '^ *node[123] .*\| *(primary|secondary) *\| *(primary|secondary) *$')" = 3 ] \
  || fail "pg_autoctl show state does not list the three nodes: $shown"

nodes="127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2)),127.0.0.1:$((base + 3))"
for _ in 1 2; do PGAF_NODES=$nodes bash "$script" init-app >>"$dir/init-app.log" 2>&1 || fail "init-app failed"; done
got=$(PGPASSWORD=$WORKERS_DB_PASSWORD "$PG_BIN/psql" -X -q -tA \
  -d "postgresql://workers@$nodes/workers?target_session_attrs=read-write&connect_timeout=5" \
  -c "create table check_write (id int); drop table check_write; select current_user || '@' || current_database()") \
  || fail "the application's role cannot log in and write through the multi-host URI"
[ "$got" = "workers@workers" ] || fail "application login: $got"
# The primary replicates synchronously to one of its two standbys (pg_stat_replication's states need a superuser).
sync=$(PGPASSWORD=$POSTGRES_PASSWORD "$PG_BIN/psql" -X -q -tA \
  -d "postgresql://postgres@$nodes/postgres?target_session_attrs=read-write&connect_timeout=5" \
  -c "select current_setting('synchronous_standby_names') || ' / ' || (select string_agg(sync_state, ',' order by sync_state) from pg_stat_replication)") \
  || fail "the superuser cannot log in through the multi-host URI"
echo "application login: $got; primary: $sync"
case "$sync" in "ANY 1 ("*") / quorum,quorum") ;; *) fail "not synchronous: $sync" ;; esac
echo "OK in $((SECONDS - started)) s"
