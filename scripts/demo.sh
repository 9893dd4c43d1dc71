#!/usr/bin/env bash
# The main job on a fresh machine: start the local services (installing what is missing), build, and run
# the sample workers on a workload of orders, showing where every message went.
#   scripts/demo.sh [--orders N] [--invalid N] [--flaky N] [--timeout SECONDS]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "Starting the local services (RabbitMQ, PostgreSQL) ..."
eval "$(scripts/services.sh up)"
echo "Building the sample ..."
dotnet build src/Workers.Sample -c Release -v quiet -nologo -clp:ErrorsOnly >/dev/null
exec dotnet src/Workers.Sample/bin/Release/net10.0/Workers.Sample.dll --demo "$@"
