#!/usr/bin/env bash
# Benchmarks: raw RabbitMQ.Client, MassTransit (defaults and tuned), Wolverine and Workers on the same local
# RabbitMQ and PostgreSQL, in one run. Starts the local services (idempotent), then runs the benchmark program.
#   scripts/bench.sh [--quick] [--rounds N] [--messages N] [--only raw,masstransit-default,...] [--workloads ...]
#   scripts/bench.sh --micro            BenchmarkDotNet micro-benchmarks of middleware hot paths
# The report (markdown) and chart (PNG) go to results/ (git-ignored); the table is printed too.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

env_lines=$(scripts/services.sh up)
eval "$env_lines"

exec dotnet run -c Release --project tests/Workers.Benchmarks -- "$@"
