#!/usr/bin/env bash
# Container health probe for the worker image: GET http://127.0.0.1:<port><path>, healthy on HTTP 200.
# The aspnet base image ships neither curl nor wget, so this speaks HTTP/1.0 over bash's /dev/tcp.
#   workers-healthcheck [path]     path defaults to /health/live
# The port is the first of ASPNETCORE_HTTP_PORTS (default 8080); WORKERS_HEALTHCHECK_TIMEOUT bounds the probe (s).
set -u
path=${1:-/health/live}
ports=${ASPNETCORE_HTTP_PORTS:-8080}
port=${ports%%[;,]*}
limit=${WORKERS_HEALTHCHECK_TIMEOUT:-4}

probe() {
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$2" >&3
  local status
  IFS= read -r status <&3 || return 1
  exec 3<&-
  case "$status" in
    "HTTP/1."?" 200 "*) return 0 ;;
    *) printf 'unhealthy: %s\n' "${status%$'\r'}" >&2; return 1 ;;
  esac
}

if [ "${WORKERS_HEALTHCHECK_INNER:-}" = 1 ]; then probe "$port" "$path"; exit $?; fi
# Bound the whole probe (connect + read) so a hung process is reported unhealthy, not stuck.
WORKERS_HEALTHCHECK_INNER=1 exec timeout "$limit" bash "$0" "$path"
