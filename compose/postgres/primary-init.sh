#!/usr/bin/env bash
# Runs once, on the primary's first start (mounted into /docker-entrypoint-initdb.d by docker-compose.yml).
# Creates the application's role and database and the replication role, allows the standby to stream from this
# server, and makes the standby synchronous: a commit is acknowledged only once the standby has it, so a failover
# to the standby loses no acknowledged write. Passwords come from the environment; none is echoed.
set -euo pipefail
: "${WORKERS_DB_PASSWORD:?}" "${REPLICATION_PASSWORD:?}"
db=${WORKERS_DB_NAME:-workers}
app_user=${WORKERS_DB_USER:-workers}
repl_user=${REPLICATION_USER:-replicator}
standby=${STANDBY_NAME:-standby1}

# psql variables (-v) are quoted by psql itself (:'var' / :"var"), so no value is ever spliced into SQL text.
psql -v ON_ERROR_STOP=1 -q --username "$POSTGRES_USER" --dbname postgres \
  -v app_user="$app_user" -v app_password="$WORKERS_DB_PASSWORD" -v db="$db" \
  -v repl_user="$repl_user" -v repl_password="$REPLICATION_PASSWORD" -v standby="FIRST 1 ($standby)" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"db" OWNER :"app_user";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
CREATE ROLE :"repl_user" LOGIN REPLICATION PASSWORD :'repl_password';
-- Takes effect when the server restarts after initialisation (the init scripts run on a temporary server):
-- writes then wait for the named standby.
ALTER SYSTEM SET synchronous_standby_names = :'standby';
SQL

# Replication connections from the compose network, password-authenticated.
echo "host replication ${repl_user} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
