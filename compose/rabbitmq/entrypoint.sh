#!/usr/bin/env bash
# Entry point of the RabbitMQ containers (nodes and the one-shot init): installs the cluster's shared
# Erlang cookie from $ERLANG_COOKIE, then runs the image's own entry point (or any other command).
# The cookie never reaches the image or the logs; it is removed from the environment before exec.
set -euo pipefail
if [ -z "${ERLANG_COOKIE:-}" ]; then
  echo "ERLANG_COOKIE is not set: every node and the init service need the same cookie (see compose/.env.example)" >&2
  exit 1
fi
data=/var/lib/rabbitmq
mkdir -p "$data"
# The server (user rabbitmq) and the CLI tools run as root in healthchecks (HOME=/root) read it from their home.
for file in "$data/.erlang.cookie" "${HOME:-/root}/.erlang.cookie"; do
  rm -f "$file"
  (umask 077 && printf '%s' "$ERLANG_COOKIE" > "$file")
done
if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then chown rabbitmq:rabbitmq "$data/.erlang.cookie"; fi
unset ERLANG_COOKIE
exec docker-entrypoint.sh "$@"
