#!/usr/bin/env bash
# Creates the application's vhost and one least-privilege user per service, idempotently, through rabbitmqctl
# (Erlang distribution + shared cookie: no management credentials needed). Run by the one-shot `rabbitmq-init`
# compose service after the nodes are up; scripts and tests may run it against any node.
#
# Environment:
#   RABBITMQ_NODE          node to administer (default rabbit@rabbit1)
#   WORKERS_VHOST          the application's vhost (default orders)
#   WORKER_USER / WORKER_PASSWORD   the sample workers' account (consume + publish their own topology)
#   CLI_USER / CLI_PASSWORD         the `workers` CLI's account (publish, dead-letter inspection and replay)
#   ADMIN_USER             the operator account created by the nodes (RABBITMQ_DEFAULT_USER); it is granted the vhost
#   RABBITMQCTL            rabbitmqctl command (default rabbitmqctl)
# Passwords are passed to rabbitmqctl on standard input: never on a command line (visible in ps), never echoed.
set -euo pipefail
node=${RABBITMQ_NODE:-rabbit@rabbit1}
vhost=${WORKERS_VHOST:-orders}
worker_user=${WORKER_USER:-orders-worker}
cli_user=${CLI_USER:-workers-cli}
admin_user=${ADMIN_USER:-}
: "${WORKER_PASSWORD:?WORKER_PASSWORD is required}" "${CLI_PASSWORD:?CLI_PASSWORD is required}"
read -r -a ctl <<< "${RABBITMQCTL:-rabbitmqctl}"

rmq() { "${ctl[@]}" -q -n "$node" "$@"; }
log() { printf '[rabbitmq-init] %s\n' "$*"; }

# Permissions are regular expressions on resource names (queues and exchanges) inside the vhost:
#   configure = declare/delete, write = publish to an exchange / bind, read = consume / get / bind from.
# The sample's topology (MassTransit): queues and exchanges named after the endpoints (submit-order,
# order-accepted, and their _error/_skipped/_delay... companions), message-type exchanges
# (Workers.Sample.Contracts:*), fault exchanges (MassTransit:Fault--Workers.Sample.Contracts:*--) and each
# process's temporary bus endpoint (<host>_<process>_bus_<id>), and the redelivery delay ladder shared by
# the vhost's endpoints (workers.delay.L00..L23 exchanges and queues, workers.delay.deliver).
endpoints='submit-order|order-accepted'
types='Workers\.Sample\.Contracts:[A-Za-z0-9]+|MassTransit:Fault--Workers\.Sample\.Contracts:[A-Za-z0-9]+--'
ladder='workers\.delay\.[A-Za-z0-9]+'
worker_configure="^((${endpoints})(_[A-Za-z0-9_-]+)?|${types}|${ladder}|[A-Za-z0-9.-]+_bus_[a-z0-9]+)\$"
worker_write="$worker_configure"
worker_read="$worker_configure"
# The CLI declares nothing (it passively inspects queues), publishes to the endpoints' and types' exchanges and
# to the default exchange (dead-letter replay), and reads the dead-letter queues only.
cli_configure='^$'
cli_write="^((${endpoints})(_[A-Za-z0-9_-]+)?|${types}|amq\\.default)\$"
cli_read="^(${endpoints})_(error|skipped)\$"

# Wait (bounded) for the node: the init service starts as soon as the nodes report healthy.
"${ctl[@]}" -q -n "$node" await_startup --timeout 120 >/dev/null

if ! rmq list_vhosts name | grep -Fxq "$vhost"; then
  log "creating vhost $vhost"
  rmq add_vhost "$vhost" >/dev/null
fi

# Each rabbitmqctl call starts an Erlang VM (about a second): list the users once.
users=$(rmq list_users --no-table-headers | cut -f1)

ensure_user() { # name password tags
  local name=$1 password=$2 tags=$3
  if printf '%s\n' "$users" | grep -Fxq "$name"; then
    printf '%s' "$password" | rmq change_password "$name" >/dev/null
  else
    log "creating user $name"
    printf '%s' "$password" | rmq add_user "$name" >/dev/null
  fi
  # shellcheck disable=SC2086
  rmq set_user_tags "$name" $tags >/dev/null
}

ensure_user "$worker_user" "$WORKER_PASSWORD" ""
rmq set_permissions -p "$vhost" "$worker_user" "$worker_configure" "$worker_write" "$worker_read" >/dev/null
ensure_user "$cli_user" "$CLI_PASSWORD" "management"
rmq set_permissions -p "$vhost" "$cli_user" "$cli_configure" "$cli_write" "$cli_read" >/dev/null
if [ -n "$admin_user" ]; then
  rmq set_permissions -p "$vhost" "$admin_user" '.*' '.*' '.*' >/dev/null
fi

# No default account may remain: guest is created by a node that boots without RABBITMQ_DEFAULT_USER.
if [ "${KEEP_GUEST:-0}" != 1 ] && printf '%s\n' "$users" | grep -Fxq guest; then
  log "deleting the default guest user"
  rmq delete_user guest >/dev/null
fi
log "vhost $vhost: users $worker_user, $cli_user ready"
