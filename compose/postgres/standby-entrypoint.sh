#!/usr/bin/env bash
# Entry point of the standby: on first start (empty data directory) it clones the primary with pg_basebackup
# (streaming the WAL it needs, creating its replication slot, writing primary_conninfo with -R), then runs the
# image's own entry point, which starts PostgreSQL as a hot standby. Later starts reuse the data directory.
set -euo pipefail
: "${PRIMARY_HOST:?}" "${REPLICATION_PASSWORD:?}"
repl_user=${REPLICATION_USER:-replicator}
standby=${STANDBY_NAME:-standby1}
slot=${standby//[^a-z0-9_]/_}
data=${PGDATA:-/var/lib/postgresql/data}

if [ ! -s "$data/PG_VERSION" ]; then
  mkdir -p "$data"; chown postgres:postgres "$data"; chmod 700 "$data"
  # The password reaches libpq through a temporary password file, never a command line.
  pass=$(mktemp); chown postgres "$pass"; chmod 600 "$pass"
  printf '%s:%s:replication:%s:%s\n' "$PRIMARY_HOST" "${PRIMARY_PORT:-5432}" "$repl_user" "$REPLICATION_PASSWORD" > "$pass"
  echo "[standby] cloning ${PRIMARY_HOST} with pg_basebackup"
  until gosu postgres pg_isready -q -h "$PRIMARY_HOST" -p "${PRIMARY_PORT:-5432}"; do sleep 1; done
  gosu postgres env PGPASSFILE="$pass" pg_basebackup -h "$PRIMARY_HOST" -p "${PRIMARY_PORT:-5432}" -U "$repl_user" \
    -D "$data" -X stream -R -C -S "$slot" --checkpoint=fast --no-password
  # libpq reads the password from this file at every reconnect; keep it inside the data directory (0600).
  mv "$pass" "$data/.pgpass_replication"
  # cluster_name is how the primary's synchronous_standby_names recognises this standby (application_name).
  printf "primary_conninfo = 'host=%s port=%s user=%s passfile=%s application_name=%s'\n" \
    "$PRIMARY_HOST" "${PRIMARY_PORT:-5432}" "$repl_user" "$data/.pgpass_replication" "$standby" >> "$data/postgresql.auto.conf"
fi
unset REPLICATION_PASSWORD
# Promoted, this server must not wait for a standby of its own (it has none): start it with no synchronous
# standby; the old primary, rebuilt as a standby, can make it synchronous again (see compose/README.md).
exec docker-entrypoint.sh "$@" -c synchronous_standby_names= -c hot_standby=on -c cluster_name="$standby"
