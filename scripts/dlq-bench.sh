#!/usr/bin/env bash
# Peak resident memory and wall time of the queue-based dlq commands on a big dead-letter queue. Prints figures only.
#   scripts/dlq-bench.sh [--messages N] [--batch B] [--cli path/to/workers.dll]
# Needs a running broker (WORKERS_RABBITMQ_URI and WORKERS_RABBITMQ_MANAGEMENT_URI, as for the tests:
# eval "$(scripts/services.sh env)"); works in a vhost of its own, deleted at the end. Default: 20,000 dead letters,
# the CLI built from this checkout (dotnet build -c Release src/Workers.Cli). --cli measures another build (e.g. an
# older one, for a before/after figure); --batch is passed only when given.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
messages=20000
batch=
cli="$repo/src/Workers.Cli/bin/Release/net10.0/workers.dll"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --messages) messages=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    *) echo "usage: $0 [--messages N] [--batch B] [--cli workers.dll]" >&2; exit 2 ;;
  esac
done
[[ -f "$cli" ]] || { echo "error: no CLI at $cli (dotnet build -c Release src/Workers.Cli)" >&2; exit 2; }

amqp=${WORKERS_RABBITMQ_URI:-amqp://guest:guest@127.0.0.1:5673/}
mgmt=${WORKERS_RABBITMQ_MANAGEMENT_URI:-http://guest:guest@127.0.0.1:15673/}
mgmt=${mgmt%/}
vhost="dlq-bench-$$-$RANDOM"
uri="${amqp%/}/$vhost"
user=$(echo "$amqp" | sed -E 's#^amqps?://([^:]+):.*#\1#')
curl -fsS -X PUT "$mgmt/api/vhosts/$vhost" >/dev/null
trap 'curl -fsS -X DELETE "$mgmt/api/vhosts/$vhost" >/dev/null || true' EXIT
curl -fsS -X PUT -H 'content-type: application/json' -d '{"configure":".*","write":".*","read":".*"}' "$mgmt/api/permissions/$vhost/$user" >/dev/null
for q in bench bench_error; do
  curl -fsS -X PUT -H 'content-type: application/json' -d '{"durable":true}' "$mgmt/api/queues/$vhost/$q" >/dev/null
done

workers() { dotnet "$cli" "$@" --rabbitmq "$uri"; }
extra=()
[[ -n "$batch" ]] && extra=(--batch "$batch")

workers publish bench_error --type Bench.OrderSubmitted --body '{"number":1,"note":"a dead letter of about two hundred bytes of JSON body, like a small business event"}' \
  --count "$messages" --header Workers-Fault-Queue=bench --header Workers-Fault-ExceptionType=System.TimeoutException >/dev/null 2>&1

# One measured run: wall seconds and peak RSS (GNU time), and the broker's counts afterwards.
measure() {
  local label=$1; shift
  local out; out=$(mktemp)
  /usr/bin/time -f '%e %M' -o "$out" dotnet "$cli" "$@" --rabbitmq "$uri" "${extra[@]}" >/dev/null 2>&1 || echo "  ($label exited non-zero)"
  read -r seconds kib < "$out"; rm -f "$out"
  # Exact ready counts over AMQP (the management API's figures lag by seconds): status without a management API.
  local counts
  counts=$(dotnet "$cli" status bench --json --management http://127.0.0.1:9/ --rabbitmq "$uri" 2>/dev/null | jq -r '.endpoints[0] | "bench_error=\(.error) bench=\(.ready)"' 2>/dev/null || true)
  printf '%-22s %8.1f s  %8.1f MiB peak RSS  (%s msg/s)  %s\n' "$label" "$seconds" "$(echo "$kib/1024" | bc -l)" \
    "$(echo "$messages/$seconds" | bc)" "$counts"
}

echo "dlq commands on $messages dead letters${batch:+ (--batch $batch)}; CLI $cli"
measure "dlq list --json" dlq list bench --json
measure "dlq replay --dry-run" dlq replay bench --dry-run
measure "dlq replay" dlq replay bench
