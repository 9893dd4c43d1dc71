#!/usr/bin/env bash
# Local services for Workers: real RabbitMQ and PostgreSQL processes bound to 127.0.0.1.
#
#   scripts/services.sh up       install what is missing, start everything, wait until it answers (idempotent)
#   scripts/services.sh down     stop everything this script started
#   scripts/services.sh status   say what runs where
#   scripts/services.sh reset    down, delete all data, up
#   scripts/services.sh env      print export lines for the connection settings
#   scripts/services.sh cluster-up|cluster-down|cluster-status
#                                a 3-node RabbitMQ cluster (r1..r3) for quorum-queue and node-failure tests
#   scripts/services.sh rabbitmq4-up|rabbitmq4-down
#                                a RabbitMQ 4.0 node (rmq4@host) beside the 3.10 one: Debian 13's rabbitmq-server run
#                                from a Debian 13 root made once with debootstrap (outside the checkout, reused)
#   WORKERS_BROKERS=3.10,4.0 scripts/services.sh up   starts both brokers (default: 3.10 only); `down` stops both
#   WORKERS_AUTOFAILOVER=1 scripts/services.sh up      starts the automatic-failover PostgreSQL too (autofailover-up)
#   scripts/services.sh autofailover-up|autofailover-down|autofailover-reset
#                                PostgreSQL with automatic failover: a pg_auto_failover monitor and three nodes
#                                (Debian postgresql-15-auto-failover), synchronous (number_sync_standbys 1); `env`
#                                then prints WORKERS_POSTGRES_AUTOFAILOVER (the manager's multi-host URI); `down` stops it
#
# Settings (environment):
#   WORKERS_SERVICES_DIR   data folder (default: <repo>/.services, ignored by git)
#   WORKERS_RABBITMQ_PORT  AMQP port of the single node          (default 5673)
#   WORKERS_RABBITMQ_MGMT_PORT  its management HTTP port          (default 15673)
#   WORKERS_POSTGRES_PORT  PostgreSQL port                        (default 55432)
#   WORKERS_CLUSTER_BASE_PORT  first AMQP port of the cluster     (default 5701; nodes use 5701..5703,
#                              management base+10000.., distribution base+20000..)
#   WORKERS_CLUSTER_PREFIX     cluster node name prefix           (default r: nodes r1..r3@host); give a second
#                              cluster on the same machine its own prefix and base port
#   WORKERS_RABBITMQ4_PORT     AMQP port of the 4.0 node          (default 5674; management +10000, distribution +20000)
#   WORKERS_DEBIAN13_ROOT      the Debian 13 root                 (default /var/lib/workers/debian13)
#   WORKERS_AUTOFAILOVER_BASE_PORT  the monitor's port           (default 56000; nodes n1..n3 on base+1..base+3)
#   WORKERS_DEBIAN_MIRROR      Debian mirror for debootstrap      (default: the first Debian URI of this machine's apt sources)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RMQ_PORT=${WORKERS_RABBITMQ_PORT:-5673}
RMQ_MGMT_PORT=${WORKERS_RABBITMQ_MGMT_PORT:-15673}
PG_PORT=${WORKERS_POSTGRES_PORT:-55432}
CLUSTER_BASE=${WORKERS_CLUSTER_BASE_PORT:-5701}
CLUSTER_PREFIX=${WORKERS_CLUSTER_PREFIX:-r}
RMQ4_PORT=${WORKERS_RABBITMQ4_PORT:-5674}
BROKERS=${WORKERS_BROKERS:-3.10}
SHORT_HOST=$(hostname -s)
PG_BIN=""

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as a service user when we are root (servers refuse to run as root).
as_user() { local u=$1; shift; if is_root; then (cd / && runuser -u "$u" -- "$@"); else "$@"; fi; }

# The data folder must be reachable by the service users (rabbitmq, postgres) when we are root.
# A clone under a private home folder is not: fall back to a folder under /var/tmp then.
resolve_data_dir() {
  local want=${WORKERS_SERVICES_DIR:-$repo/.services}
  mkdir -p "$want"
  if is_root; then
    local ok=1
    for u in postgres rabbitmq; do
      id "$u" >/dev/null 2>&1 || continue
      runuser -u "$u" -- test -x "$want" 2>/dev/null || ok=0
    done
    if [ $ok = 0 ]; then
      local alt=/var/tmp/workers-services/$(printf '%s' "$repo" | md5sum | cut -c1-12)
      mkdir -p "$alt"; chmod 755 /var/tmp/workers-services "$alt"
      printf '%s\n' "$alt" > "$want/location"
      want=$alt
    fi
  fi
  DATA=$want
}

apt_install() {
  is_root || die "missing packages ($*): install them (apt-get install $*) or run this script as root"
  log "installing $* with apt-get (one time)"
  if [ ! -f /var/lib/apt/periodic/workers-updated ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    mkdir -p /var/lib/apt/periodic; touch /var/lib/apt/periodic/workers-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A node's rabbitmq.conf (loopback AMQP + management), plugins and advanced config, in folder $1 (AMQP $2, management $3).
write_rabbitmq_config() {
  local dir=$1 port=$2 mgmt=$3
  {
    echo "listeners.tcp.1 = 127.0.0.1:$port"
    echo "loopback_users.guest = true"
    echo "management.tcp.port = $mgmt"
    echo "management.tcp.ip = 127.0.0.1"
    echo "log.file.level = warning"
    echo "log.console = false"
  } > "$dir/rabbitmq.conf"
  echo "[rabbitmq_management]." > "$dir/enabled_plugins"
  echo "[]." > "$dir/advanced.config"
}

ensure_rabbitmq_installed() {
  command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || apt_install rabbitmq-server
  export PATH=$PATH:/usr/sbin:/usr/lib/rabbitmq/bin
}

ensure_postgres_installed() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { PG_BIN=$d; return; }
  done
  if command -v pg_ctl >/dev/null 2>&1; then PG_BIN=$(dirname "$(readlink -f "$(command -v pg_ctl)")"); return; fi
  apt_install postgresql-15 postgresql-client-15 || apt_install postgresql postgresql-client
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && { PG_BIN=$d; return; }; done
  die "PostgreSQL was not found after installing it"
}

# ---------- RabbitMQ ----------
rmq_env() { # name amqp-port dist-port mgmt-port dir
  local name=$1 port=$2 dist=$3 mgmt=$4 dir=$5
  echo RABBITMQ_NODENAME="$name@$SHORT_HOST" RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_PID_FILE="$dir/pid" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
}

rmq_ctl() { local node=$1; shift; rabbitmqctl -q -n "$node@$SHORT_HOST" "$@"; }

rmq_running() { rmq_ctl "$1" status >/dev/null 2>&1; }

rmq_start() { # name amqp-port dist-port mgmt-port
  local name=$1 port=$2 dist=$3 mgmt=$4 dir=$DATA/rabbitmq-$1
  if rmq_running "$name"; then return 0; fi
  if rmq_ctl "$name" eval 'ok.' >/dev/null 2>&1; then
    # The Erlang VM runs but the application was stopped (stop_app): start the application, not a second VM.
    log "starting the stopped application of RabbitMQ node $name@$SHORT_HOST"
    rmq_ctl "$name" start_app >/dev/null 2>&1 || true
    rmq_ctl "$name" await_startup --timeout 60 >/dev/null 2>&1 || die "RabbitMQ node $name did not start its application"
    return 0
  fi
  mkdir -p "$dir/mnesia" "$dir/log"
  write_rabbitmq_config "$dir" "$port" "$mgmt"
  if is_root; then chown -R rabbitmq:rabbitmq "$dir"; fi
  log "starting RabbitMQ node $name@$SHORT_HOST on 127.0.0.1:$port (management :$mgmt)"
  # shellcheck disable=SC2046
  env $(rmq_env "$name" "$port" "$dist" "$mgmt" "$dir") rabbitmq-server -detached >/dev/null 2>&1 || true
  # The node registers with epmd a moment after -detached returns: until then await_startup fails at once,
  # so retry it (bounded) rather than sleeping a fixed time.
  local deadline=$((SECONDS + 120))
  until rabbitmqctl -q -n "$name@$SHORT_HOST" await_startup --timeout 30 >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$dir"/log/*.log 2>/dev/null >&2 || true
      die "RabbitMQ node $name did not start (is port $port, $dist or $mgmt taken?). Log: $dir/log"
    fi
    sleep 1
  done
}

rmq_wait_amqp() { # port: wait until the AMQP listener accepts connections
  local port=$1 i
  for i in $(seq 1 120); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  die "RabbitMQ did not accept connections on port $port"
}

rmq_wait_mgmt() { # port
  local port=$1 i
  for i in $(seq 1 120); do
    if curl -fsS -u guest:guest "http://127.0.0.1:$port/api/overview" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "RabbitMQ management API did not answer on port $port"
}

rmq_stop() { # name
  local name=$1 dir=$DATA/rabbitmq-$1
  if rmq_running "$name"; then
    log "stopping RabbitMQ node $name@$SHORT_HOST"
    rmq_ctl "$name" stop >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/pid" ]; then
    local pid; pid=$(cat "$dir/pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
  fi
}

# ---------- RabbitMQ 4.0 (Debian 13 root) ----------
# Debian 12 ships RabbitMQ 3.10 only; Debian 13's 4.0 needs Debian 13's libc, so it runs from a Debian 13 root
# (debootstrap, built once) via chroot. The chroot shares the network: the node listens on loopback and shares epmd.
# Every command in the root runs in a mount namespace of its own that holds the root's /proc: the machine never
# sees a mount under the root, so nothing stays mounted when the node stops or a run is killed. The root lives
# outside any checkout (device nodes, 370 MB), built once per machine and shared by every checkout.
deb13_root() { echo "${WORKERS_DEBIAN13_ROOT:-/var/lib/workers/debian13}"; }


# The Debian mirror this machine's apt already uses (deb822 "URIs:" or one-line "deb URI suite"), never a fixed host.
debian_mirror() {
  if [ -n "${WORKERS_DEBIAN_MIRROR:-}" ]; then echo "$WORKERS_DEBIAN_MIRROR"; return; fi
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$( { grep -E '^[[:space:]]*URIs:' "$f" | sed -E 's/^[[:space:]]*URIs:[[:space:]]*//' | tr ' ' '\n'
             grep -E '^[[:space:]]*deb[[:space:]]' "$f" | sed -E 's/\[[^]]*\]//' | awk '{print $2}'; } \
           | grep -E '/debian/?$' | head -1)
    if [ -n "$uri" ]; then echo "${uri%/}"; return; fi
  done
  die "no Debian mirror found in /etc/apt/sources.list*: set WORKERS_DEBIAN_MIRROR"
}


deb13_ensure_root() {
  local root; root=$(deb13_root)
  deb13_umount_legacy
  if [ -f "$root/.workers-complete" ] && [ -x "$root/usr/sbin/rabbitmq-server" ]; then return 0; fi
  is_root || die "building the Debian 13 root needs root (debootstrap, chroot, mount namespaces)"
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  command -v unshare >/dev/null 2>&1 || die "unshare (util-linux) is missing"
  if [ -e "$root" ]; then log "removing the incomplete Debian 13 root $root"; rm -rf --one-file-system "${root:?}"; fi
  local mirror started=$SECONDS; mirror=$(debian_mirror)
  log "building a Debian 13 root with rabbitmq-server in $root (one time, ~1 min)"
  mkdir -p "$(dirname "$root")"
  debootstrap --variant=minbase --include=rabbitmq-server trixie "$root" "$mirror" > "$DATA/debian13-debootstrap.log" 2>&1 \
    || { tail -n 20 "$DATA/debian13-debootstrap.log" >&2; die "debootstrap failed (log: $DATA/debian13-debootstrap.log)"; }
  touch "$root/.workers-complete"
  log "Debian 13 root built in $((SECONDS - started)) s"
}

# Does a process run inside the root (the 4.0 node's VM, an epmd started from it, a rabbitmqctl)?
deb13_busy() {
  local root p; root=$(readlink -f "${1:-$(deb13_root)}")
  for p in /proc/[0-9]*; do [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && return 0; done
  return 1
}

# Earlier versions of this script mounted proc on the machine (and kept the root in the data folder): unmount
# such a leftover once nothing runs in that root any more.
deb13_umount_legacy() {
  local r
  for r in "$(deb13_root)" "$DATA/debian13"; do
    mountpoint -q "$r/proc" 2>/dev/null || continue
    if deb13_busy "$r"; then log "processes still run in $r: its proc stays mounted"; else umount "$r/proc" || true; fi
  done
}

# A command inside the root, in a private mount namespace with the root's /proc, with a clean environment
# (the host's PATH and locale do not fit Debian 13).
# shellcheck disable=SC2016
DEB13_ENTER='mount -t proc proc "$1/proc" && r=$1 && shift && exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/var/lib/rabbitmq LANG=C.UTF-8 "$@"'
in_deb13() { unshare --mount --propagation private /bin/sh -c "$DEB13_ENTER" sh "$(deb13_root)" "$@"; }

rmq4_ctl() { in_deb13 rabbitmqctl -q -n "rmq4@$SHORT_HOST" "$@"; }

# Asks rabbitmqctl only when the node's distribution port answers: a rabbitmqctl run while no epmd runs would
# start one from inside the root.
rmq4_running() {
  [ -f "$(deb13_root)/.workers-complete" ] && (exec 3<>"/dev/tcp/127.0.0.1/$((RMQ4_PORT + 20000))") 2>/dev/null \
    && rmq4_ctl status >/dev/null 2>&1
}

rmq4_start() {
  local port=$RMQ4_PORT mgmt=$((RMQ4_PORT + 10000)) dist=$((RMQ4_PORT + 20000)) started
  deb13_ensure_root
  if rmq4_running; then return 0; fi
  started=$SECONDS
  local dir=/var/lib/workers/rabbitmq-rmq4 root; root=$(deb13_root)
  mkdir -p "$root$dir/mnesia" "$root$dir/log"
  write_rabbitmq_config "$root$dir" "$port" "$mgmt"
  in_deb13 chown -R rabbitmq:rabbitmq "$dir"
  log "starting RabbitMQ 4.0 node rmq4@$SHORT_HOST on 127.0.0.1:$port (management :$mgmt) from $root"
  # 4.x has no -detached: start it in the background in its own session, then wait on await_startup.
  # shellcheck disable=SC2046
  setsid unshare --mount --propagation private /bin/sh -c "$DEB13_ENTER" sh "$root" \
    $(rmq_env rmq4 "$port" "$dist" "$mgmt" "$dir") rabbitmq-server > "$root$dir/log/console.out" 2>&1 < /dev/null &
  local deadline=$((SECONDS + 120))
  until rmq4_ctl await_startup --timeout 30 >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$root$dir"/log/* 2>/dev/null >&2 || true
      die "RabbitMQ 4.0 node rmq4 did not start (is port $port, $dist or $mgmt taken?). Log: $root$dir/log"
    fi
    sleep 1
  done
  rmq_wait_amqp "$port"; rmq_wait_mgmt "$mgmt"
  log "RabbitMQ 4.0 node started in $((SECONDS - started)) s"
}

rmq4_stop() {
  if [ -f "$(deb13_root)/.workers-complete" ] && rmq4_running; then
    log "stopping RabbitMQ 4.0 node rmq4@$SHORT_HOST"; rmq4_ctl stop >/dev/null 2>&1 || true
    # `stop` returns while the VM still exits: wait (bounded) for the root's processes to end.
    local deadline=$((SECONDS + 30)); while deb13_busy && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
  fi
  deb13_umount_legacy
}

wants_broker() { case ",$BROKERS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# ---------- PostgreSQL ----------
pg_dir() { echo "$DATA/postgres"; }

pg_running() { [ -n "$PG_BIN" ] && as_user postgres "$PG_BIN/pg_ctl" -D "$(pg_dir)" status >/dev/null 2>&1; }

pg_answers() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; }

pg_ensure_database() {
  as_user postgres psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
    "select 1 from pg_database where datname='workers'" | grep -q 1 \
    || as_user postgres psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "create database workers" >/dev/null
}

pg_start() {
  local dir; dir=$(pg_dir)
  if pg_running; then return 0; fi
  if pg_answers; then
    # Another checkout of this project (or the same one under another path) already runs it: reuse it.
    log "PostgreSQL already answers on 127.0.0.1:$PG_PORT: reusing it"
    pg_ensure_database
    return 0
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "initialising PostgreSQL in $dir"
    mkdir -p "$dir"; if is_root; then chown postgres:postgres "$dir"; fi; chmod 700 "$dir"
    as_user postgres "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust --data-checksums -E UTF8 >/dev/null
    {
      echo "port = $PG_PORT"
      echo "listen_addresses = '127.0.0.1'"
      echo "unix_socket_directories = '$dir'"
      echo "max_connections = 300"
      echo "fsync = on"
      echo "shared_buffers = 128MB"
      echo "wal_level = replica"
      echo "max_wal_senders = 10"
      echo "max_replication_slots = 10"
      echo "wal_log_hints = on"
    } >> "$dir/postgresql.conf"
    echo "host replication postgres 127.0.0.1/32 trust" >> "$dir/pg_hba.conf"
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  as_user postgres "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start (is port $PG_PORT taken?)"; }
  local i
  for i in $(seq 1 60); do
    if pg_answers; then break; fi
    sleep 0.5
  done
  pg_ensure_database
}

pg_stop() {
  if pg_running; then
    log "stopping PostgreSQL"
    as_user postgres "$PG_BIN/pg_ctl" -D "$(pg_dir)" -m fast -w stop >/dev/null || true
  fi
}

# ---------- PostgreSQL with automatic failover (pg_auto_failover) ----------
# A monitor and three nodes on loopback (monitor AF_BASE, nodes AF_BASE+1..+3), trust auth, no TLS: for tests only.
# number_sync_standbys = 1 (formation) and replication-quorum on every node: every commit waits for one of the two
# standbys, and after one node is lost the survivor pair stays synchronous (no window of unreplicated writes; with
# both standbys gone writes wait instead of going asynchronous). Detection is tuned down from the defaults
# (af_tune). Data, pg_autoctl's configuration and its runtime files all live under $DATA/autofailover, so `down`
# plus deleting that folder leaves nothing behind. Created once (~25 s per node); later `up`s only start the
# keepers again on the existing data (seconds).
AF_BASE=${WORKERS_AUTOFAILOVER_BASE_PORT:-56000}
af_dir() { echo "$DATA/autofailover"; }
af_monitor_uri() { echo "postgres://autoctl_node@127.0.0.1:$AF_BASE/pg_auto_failover?sslmode=disable"; }

ensure_autofailover_installed() {
  ensure_postgres_installed
  command -v pg_autoctl >/dev/null 2>&1 || apt_install postgresql-15-auto-failover
}

# pg_autoctl as postgres, its XDG folders (config, state, pid files) inside the data folder.
af_env() {
  local d; d=$(af_dir)
  echo env PATH="$PG_BIN:/usr/bin:/bin" XDG_CONFIG_HOME="$d/xdg/config" XDG_DATA_HOME="$d/xdg/data" XDG_RUNTIME_DIR="$d/xdg/run"
}
# shellcheck disable=SC2046
af_ctl() { as_user postgres $(af_env) pg_autoctl "$@"; }

af_psql_monitor() { as_user postgres "$PG_BIN/psql" -X -q -tA -h 127.0.0.1 -p "$AF_BASE" -U autoctl_node -d pg_auto_failover -c "$1" 2>/dev/null; }

# Is the keeper (or monitor service) of pgdata $1 running?
af_service_running() { af_ctl status --pgdata "$1" >/dev/null 2>&1; }

# `pg_autoctl <args>` in the background in a session of its own, output appended to <data>/autofailover/$1.log.
# shellcheck disable=SC2046
af_spawn() {
  local log; log=$(af_dir)/$1.log; shift
  if is_root; then
    (cd / && exec setsid runuser -u postgres -- $(af_env) pg_autoctl "$@") >>"$log" 2>&1 </dev/null &
  else
    (cd / && exec setsid $(af_env) pg_autoctl "$@") >>"$log" 2>&1 </dev/null &
  fi
}

# Wait (bounded) until the monitor reports node $1 (port) in state $2 (a regex), both reported and assigned.
af_wait_state() {
  local port=$1 want=$2 bound=${3:-120} deadline=$((SECONDS + ${3:-120})) got=""
  while [ $SECONDS -lt $deadline ]; do
    got=$(af_psql_monitor "select reportedstate || '/' || goalstate from pgautofailover.node where nodeport = $port" || true)
    if [ "${got%/*}" = "${got#*/}" ] && printf '%s' "${got%/*}" | grep -Eqx "$want"; then return 0; fi
    sleep 0.5
  done
  die "pg_auto_failover node on port $port did not reach '$want' within ${bound} s (now: ${got:-unknown}; log: $(af_dir)/n$((port - AF_BASE)).log)"
}

af_tune() {
  # Monitor: a node is lost when its keeper has not reported for 8 s and health checks (every 2 s, 2 s timeout, 2
  # retries 1 s apart) fail (defaults: 20 s, every 5 s). It then waits primary_demote_timeout (12 s, default 30 s)
  # for an unreachable old primary to have fenced itself before it promotes a standby: a keeper that reaches neither
  # the monitor nor a standby for network_partition_timeout (8 s, default 20 s; af_tune_node) demotes its postgres.
  # Measured here: writes go to the new primary ~22 s after kill -9 of the primary (defaults: ~41 s).
  af_psql_monitor "select 1" >/dev/null || die "the pg_auto_failover monitor does not answer on port $AF_BASE"
  as_user postgres "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$AF_BASE" -U postgres -d pg_auto_failover \
    -c "alter system set pgautofailover.node_considered_unhealthy_timeout = '8s'" \
    -c "alter system set pgautofailover.health_check_period = '2s'" \
    -c "alter system set pgautofailover.health_check_timeout = '2s'" \
    -c "alter system set pgautofailover.health_check_max_retries = 2" \
    -c "alter system set pgautofailover.health_check_retry_delay = '1s'" \
    -c "alter system set pgautofailover.primary_demote_timeout = '12s'" \
    -c "select pg_reload_conf()" >/dev/null
}

af_tune_node() { # pgdata: the keeper's own timeouts (read when the keeper starts: set before `pg_autoctl run`)
  af_ctl config set --pgdata "$1" timeout.network_partition_timeout 8 >/dev/null
}

# The first node's data folder, made here rather than by pg_autoctl: pg_autoctl sizes postgres from the machine's
# memory (shared_buffers ~6 GB, wal_keep_size 8 GB here: three of those on a shared test machine), and its settings
# come from a file included at the top of postgresql.conf, so lines appended to postgresql.conf win. The standbys are
# cloned from it (pg_basebackup copies postgresql.conf), so the three nodes agree (a standby's max_connections must
# not be below its primary's).
af_initdb_first() {
  as_user postgres "$PG_BIN/initdb" -D "$1" -U postgres --auth=trust --data-checksums -E UTF8 >/dev/null
  {
    echo "# Workers (scripts/services.sh): small servers for tests, more client connections"
    echo "max_connections = 300"
    echo "shared_buffers = 128MB"
    echo "effective_cache_size = 512MB"
    echo "work_mem = 4MB"
    echo "maintenance_work_mem = 64MB"
    echo "wal_keep_size = 512MB"
  } >> "$1/postgresql.conf"
}

af_up() {
  ensure_autofailover_installed
  local d started=$SECONDS i port; d=$(af_dir)
  mkdir -p "$d/xdg/config" "$d/xdg/data" "$d/xdg/run"; chmod 700 "$d/xdg/run"
  if is_root; then chown -R postgres:postgres "$d"; fi
  if ! af_service_running "$d/monitor"; then
    if [ -f "$d/monitor/PG_VERSION" ]; then
      log "starting the pg_auto_failover monitor on 127.0.0.1:$AF_BASE"
      af_spawn monitor run --pgdata "$d/monitor"
    else
      log "creating the pg_auto_failover monitor on 127.0.0.1:$AF_BASE (one time)"
      af_spawn monitor create monitor --pgdata "$d/monitor" --pgport "$AF_BASE" --listen 127.0.0.1 --auth trust --no-ssl \
        --hostname 127.0.0.1 --run
    fi
  fi
  local deadline=$((SECONDS + 60))
  until af_psql_monitor "select 1 from pgautofailover.formation limit 1" | grep -q 1; do
    [ $SECONDS -lt $deadline ] || { tail -n 20 "$d/monitor.log" >&2; die "the pg_auto_failover monitor did not start (port $AF_BASE taken?)"; }
    sleep 0.5
  done
  af_tune
  # Existing nodes: start their keepers together. New nodes: one after the other (the first registers as the
  # primary; a standby is cloned from it).
  for i in 1 2 3; do
    port=$((AF_BASE + i))
    if [ -f "$d/n$i/PG_VERSION" ] && ! af_service_running "$d/n$i"; then
      log "starting pg_auto_failover node n$i on 127.0.0.1:$port"
      af_tune_node "$d/n$i"
      af_spawn "n$i" run --pgdata "$d/n$i"
    fi
  done
  for i in 1 2 3; do
    port=$((AF_BASE + i))
    if [ ! -f "$d/n$i/PG_VERSION" ] && ! af_service_running "$d/n$i"; then
      log "creating pg_auto_failover node n$i on 127.0.0.1:$port (one time, ~25 s)"
      if [ "$i" = 1 ]; then af_initdb_first "$d/n1"; fi
      af_spawn "n$i" create postgres --pgdata "$d/n$i" --pgport "$port" --listen 127.0.0.1 --monitor "$(af_monitor_uri)" --auth trust \
        --no-ssl --hostname 127.0.0.1 --name "n$i" --run
      if [ "$i" = 1 ]; then af_wait_state "$port" single 120; else af_wait_state "$port" secondary 180; fi
    fi
  done
  # Every commit waits for one standby (the formation's default with two standbys; set explicitly, it is the point).
  af_ctl set formation number-sync-standbys 1 --pgdata "$d/monitor" >/dev/null 2>&1 || true
  for i in 1 2 3; do
    af_wait_state "$((AF_BASE + i))" "primary|secondary" 180
    if [ "$(af_ctl config get --pgdata "$d/n$i" timeout.network_partition_timeout 2>/dev/null)" != 8 ]; then
      af_tune_node "$d/n$i"; af_ctl reload --pgdata "$d/n$i" >/dev/null 2>&1 || true
    fi
  done
  log "pg_auto_failover formation up in $((SECONDS - started)) s"
}

af_down() {
  local d i; d=$(af_dir)
  [ -d "$d" ] || return 0
  for i in 3 2 1; do
    if af_service_running "$d/n$i"; then log "stopping pg_auto_failover node n$i"; af_ctl stop --pgdata "$d/n$i" >/dev/null 2>&1 || true; fi
  done
  if af_service_running "$d/monitor"; then log "stopping the pg_auto_failover monitor"; af_ctl stop --pgdata "$d/monitor" >/dev/null 2>&1 || true; fi
  # The keepers stop their postgres on the way out: wait (bounded), then stop what is left by its pid file.
  local deadline=$((SECONDS + 30)) x
  for x in n3 n2 n1 monitor; do
    while [ -f "$d/$x/postmaster.pid" ] && [ $SECONDS -lt $deadline ]; do
      as_user postgres "$PG_BIN/pg_ctl" -D "$d/$x" status >/dev/null 2>&1 || break; sleep 0.5
    done
    if as_user postgres "$PG_BIN/pg_ctl" -D "$d/$x" status >/dev/null 2>&1; then
      as_user postgres "$PG_BIN/pg_ctl" -D "$d/$x" -m fast -w stop >/dev/null 2>&1 || true
    fi
  done
}

af_running() {
  [ -d "$(af_dir)" ] || return 1
  if [ -z "$PG_BIN" ]; then local b; for b in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do [ -x "$b/psql" ] && { PG_BIN=$b; break; }; done; fi
  af_psql_monitor "select 1" | grep -q 1
}

# The formation's multi-host URI as the manager gives it (pg_autoctl show uri), in Npgsql's keyword form
# (primary-only sessions): what Workers:Postgres is set to.
af_connection_string() {
  local uri hosts
  uri=$(af_ctl show uri --formation default --pgdata "$(af_dir)/monitor" 2>/dev/null) || return 1
  hosts=$(printf '%s' "$uri" | sed -E 's#^postgres(ql)?://([^@/]*@)?([^/?]*).*#\3#')
  [ -n "$hosts" ] || return 1
  echo "Host=$hosts;Username=postgres;Database=postgres;Target Session Attributes=primary"
}

print_env() {
  echo "export WORKERS_RABBITMQ_URI=amqp://guest:guest@127.0.0.1:$RMQ_PORT/"
  echo "export WORKERS_RABBITMQ_MANAGEMENT_URI=http://guest:guest@127.0.0.1:$RMQ_MGMT_PORT/"
  echo "export WORKERS_POSTGRES='Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=workers'"
  # The 4.0 node only when it runs: tests on it skip (with the reason) when WORKERS_RABBITMQ4_URI is unset.
  # The automatic-failover formation only when it runs: tests on it fail with the reason when unset in CI.
  local af
  if af=$(af_running 2>/dev/null && af_connection_string 2>/dev/null); then
    echo "export WORKERS_POSTGRES_AUTOFAILOVER='$af'"
    echo "export WORKERS_POSTGRES_AUTOFAILOVER_DIR=$(af_dir)"
  fi
  if rmq4_running 2>/dev/null; then
    echo "export WORKERS_RABBITMQ4_URI=amqp://guest:guest@127.0.0.1:$RMQ4_PORT/"
    echo "export WORKERS_RABBITMQ4_MANAGEMENT_URI=http://guest:guest@127.0.0.1:$((RMQ4_PORT + 10000))/"
  fi
}

cluster_ports() { # i -> "amqp dist mgmt"
  local i=$1; echo "$((CLUSTER_BASE + i - 1)) $((CLUSTER_BASE + 20000 + i - 1)) $((CLUSTER_BASE + 10000 + i - 1))"
}

cluster_up() {
  ensure_rabbitmq_installed
  command -v curl >/dev/null 2>&1 || apt_install curl
  local i p
  # Start all three before joining: a node that was clustered before waits at boot for its peers, and the
  # nodes were stopped 3, 2, 1 (cluster-down), so r1 (stopped last) boots first without waiting.
  for i in 1 2 3; do
    # shellcheck disable=SC2046
    set -- $(cluster_ports $i); rmq_start "$CLUSTER_PREFIX$i" "$1" "$2" "$3"
  done
  for i in 2 3; do
    if ! rmq_ctl "$CLUSTER_PREFIX$i" cluster_status --formatter json 2>/dev/null | grep -q "\"${CLUSTER_PREFIX}1@$SHORT_HOST\""; then
      log "joining $CLUSTER_PREFIX$i to ${CLUSTER_PREFIX}1"
      # The node is not in r1's cluster: whatever it holds is stale, so reset it before joining.
      { rmq_ctl "$CLUSTER_PREFIX$i" stop_app && rmq_ctl "$CLUSTER_PREFIX$i" reset && rmq_ctl "$CLUSTER_PREFIX$i" join_cluster "${CLUSTER_PREFIX}1@$SHORT_HOST" && rmq_ctl "$CLUSTER_PREFIX$i" start_app; } \
        >/dev/null 2>&1 || die "$CLUSTER_PREFIX$i could not join ${CLUSTER_PREFIX}1 (log: $DATA/rabbitmq-$CLUSTER_PREFIX$i/log)"
    fi
  done
  for i in 1 2 3; do
    set -- $(cluster_ports $i)
    # A node left with its application stopped (a test that stopped it and died) is started again.
    rmq_ctl "$CLUSTER_PREFIX$i" start_app >/dev/null 2>&1 || true
    rmq_ctl "$CLUSTER_PREFIX$i" await_startup --timeout 60 >/dev/null 2>&1 || die "cluster node $CLUSTER_PREFIX$i did not start"
    rmq_wait_amqp "$1"; rmq_wait_mgmt "$3"
  done
  p=""
  for i in 1 2 3; do set -- $(cluster_ports $i); p="$p${p:+,}127.0.0.1:$1"; done
  echo "export WORKERS_RABBITMQ_CLUSTER=$p"
}

cluster_down() { local i; for i in 3 2 1; do rmq_stop "$CLUSTER_PREFIX$i"; done; }

status() {
  local state
  if rmq_running rmq; then state="running"; else state="stopped"; fi
  printf 'RabbitMQ    %-8s amqp://127.0.0.1:%s  (management http://127.0.0.1:%s, node rmq@%s)\n' "$state" "$RMQ_PORT" "$RMQ_MGMT_PORT" "$SHORT_HOST"
  if pg_running; then state="running"; elif pg_answers; then state="running*"; else state="stopped"; fi
  printf 'PostgreSQL  %-8s 127.0.0.1:%s  (data %s)\n' "$state" "$PG_PORT" "$(pg_dir)"
  local i
  for i in 1 2 3; do
    if rmq_running "$CLUSTER_PREFIX$i"; then set -- $(cluster_ports $i); printf 'Cluster %s%s  running  amqp://127.0.0.1:%s\n' "$CLUSTER_PREFIX" "$i" "$1"; fi
  done
  if af_running 2>/dev/null; then
    printf 'PG failover running  monitor 127.0.0.1:%s, nodes %s..%s (pg_auto_failover, data %s)\n' "$AF_BASE" "$((AF_BASE + 1))" "$((AF_BASE + 3))" "$(af_dir)"
    af_ctl show state --pgdata "$(af_dir)/monitor" 2>/dev/null | sed 's/^/    /' || true
  fi
  if rmq4_running 2>/dev/null; then printf 'RabbitMQ 4  running  amqp://127.0.0.1:%s  (management http://127.0.0.1:%s, node rmq4@%s)\n' "$RMQ4_PORT" "$((RMQ4_PORT + 10000))" "$SHORT_HOST"; fi
}

cmd=${1:-status}
resolve_data_dir
case "$cmd" in
  up)
    ensure_rabbitmq_installed
    ensure_postgres_installed
    command -v curl >/dev/null 2>&1 || apt_install curl
    # The outbound-connection test traces the worker's connect() calls.
    command -v strace >/dev/null 2>&1 || apt_install strace
    rmq_start rmq "$RMQ_PORT" $((RMQ_PORT + 20000)) "$RMQ_MGMT_PORT"
    pg_start
    rmq_wait_amqp "$RMQ_PORT"
    rmq_wait_mgmt "$RMQ_MGMT_PORT"
    if wants_broker 4.0; then rmq4_start; fi
    if [ "${WORKERS_AUTOFAILOVER:-0}" = 1 ]; then af_up; fi
    status >&2
    print_env
    ;;
  down)
    ensure_postgres_installed
    export PATH=$PATH:/usr/sbin
    cluster_down 2>/dev/null || true
    rmq_stop rmq 2>/dev/null || true
    rmq4_stop 2>/dev/null || true
    af_down
    pg_stop
    ;;
  status)
    export PATH=$PATH:/usr/sbin
    ensure_postgres_installed
    status
    ;;
  reset)
    "$0" down
    log "deleting $DATA"
    rm -rf "${DATA:?}"/rabbitmq-* "${DATA:?}"/postgres "${DATA:?}"/autofailover
    "$0" up
    ;;
  env) print_env ;;
  cluster-up) cluster_up ;;
  cluster-down) export PATH=$PATH:/usr/sbin; cluster_down ;;
  cluster-status) export PATH=$PATH:/usr/sbin; status ;;
  rabbitmq4-up) ensure_rabbitmq_installed; command -v curl >/dev/null 2>&1 || apt_install curl; rmq4_start; print_env | grep RABBITMQ4 ;;
  rabbitmq4-down) rmq4_stop ;;
  autofailover-up) af_up; print_env | grep AUTOFAILOVER ;;
  autofailover-down) ensure_postgres_installed; af_down ;;
  autofailover-reset) ensure_postgres_installed; af_down; rm -rf "$(af_dir)"; af_up; print_env | grep AUTOFAILOVER ;;
  *) die "unknown command '$cmd' (use: up | down | status | reset | env | cluster-up | cluster-down | cluster-status | rabbitmq4-up | rabbitmq4-down | autofailover-up | autofailover-down | autofailover-reset)" ;;
esac
