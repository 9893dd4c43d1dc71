#!/usr/bin/env bash
# Runs every test on this machine: starts the local services (installing what is missing) with both brokers
# (RabbitMQ 3.10 and 4.0), builds, packs every package into artifacts/packages (scripts/pack.sh), runs
# `dotnet test Workers.sln` on 3.10 (with the automatic-failover PostgreSQL of `services.sh autofailover-up` running), then the broker-facing suites again on 4.0 (WORKERS_TEST_RABBITMQ4_PROJECTS,
# default Resilience, Cli, the sample-host integration tests and the fault suite, whose private nodes then run 4.0
# too; WORKERS_TEST_RABBITMQ4=0 skips that run),
# and ends with one line summing both runs: N passed, N failed, N skipped.
#   scripts/test.sh [extra dotnet test arguments]
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

rabbitmq4=${WORKERS_TEST_RABBITMQ4:-1}
brokers=3.10; [ "$rabbitmq4" = 1 ] && brokers=3.10,4.0
# The 4.0 node runs from a Debian 13 root in its own mount namespace; when this run started it, it stops it again
# on the way out (the 3.10 node and PostgreSQL stay up for the next run or the demo).
rabbitmq4_started_here=0
if [ "$rabbitmq4" = 1 ] && ! scripts/services.sh env 2>/dev/null | grep -q WORKERS_RABBITMQ4_URI; then rabbitmq4_started_here=1; fi
# The same for the automatic-failover PostgreSQL (pg_auto_failover monitor + three nodes; WORKERS_TEST_AUTOFAILOVER=0
# leaves it out and its tests fail with the reason): created once (~20 s), started again on its data (~6 s).
autofailover=${WORKERS_TEST_AUTOFAILOVER:-1}
autofailover_started_here=0
if [ "$autofailover" = 1 ] && ! scripts/services.sh env 2>/dev/null | grep -q WORKERS_POSTGRES_AUTOFAILOVER=; then autofailover_started_here=1; fi
stop_rabbitmq4() {
  if [ "$rabbitmq4_started_here" = 1 ]; then scripts/services.sh rabbitmq4-down >/dev/null 2>&1 || true; fi
  if [ "$autofailover_started_here" = 1 ]; then scripts/services.sh autofailover-down >/dev/null 2>&1 || true; fi
}
trap stop_rabbitmq4 EXIT
env_lines=$(WORKERS_BROKERS=$brokers WORKERS_AUTOFAILOVER=$autofailover scripts/services.sh up) || { echo "services failed to start"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
eval "$env_lines"
# The automatic-failover scenarios skip themselves without the formation: in this run its absence is a failure.
if [ "$autofailover" = 1 ] && [ -z "${WORKERS_POSTGRES_AUTOFAILOVER:-}" ]; then
  echo "the automatic-failover PostgreSQL (services.sh autofailover-up) is not running: the run failed"; autofailover_missing=1
fi
# docker-compose validates compose/docker-compose.yml offline (tests/Workers.IntegrationTests/Deploy).
if ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt_get() { DEBIAN_FRONTEND=noninteractive apt-get "$@" >/dev/null 2>&1; }
  apt_get install -y -qq --no-install-recommends docker-compose || { apt_get update -qq && apt_get install -y -qq --no-install-recommends docker-compose; } || true
fi
command -v docker-compose >/dev/null 2>&1 || echo "docker-compose is missing: the compose validation test will be skipped"

results=$repo/TestResults
rm -rf "$results"; mkdir -p "$results"

# Build once (in parallel), then run the test projects one after another: the fault and cluster suites
# stop, kill and restart brokers, and timing-sensitive suites should not share 2 cores with them.
dotnet build Workers.sln -c Release -nologo -clp:ErrorsOnly
rc=$?
built=$rc
packed=0
# Every package into the local feed (artifacts/packages), from the build above (~15 s): a pack failure fails the run,
# and tests/Workers.Packaging.Tests installs from this feed into fresh apps (packing inside the test would build
# again). Without WORKERS_PACKAGES_FEED that test packs into a folder of its own.
if [ $rc -eq 0 ]; then
  started=$SECONDS
  if scripts/pack.sh --no-build >/dev/null; then
    export WORKERS_PACKAGES_FEED=$repo/artifacts/packages
    echo "packed every package into artifacts/packages: $((SECONDS - started)) s"
  else
    echo "scripts/pack.sh failed"; packed=1
  fi
fi
if [ $rc -eq 0 ]; then
  dotnet test Workers.sln -c Release --no-build -m:1 \
    --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" \
    --blame-hang-timeout 10m "$@"
  rc=$?
fi

# The broker-facing suites again, on RabbitMQ 4.0 (its own results folder, summed below).
if [ $built -eq 0 ]; then
  if [ "$rabbitmq4" = 1 ]; then
    if [ -z "${WORKERS_RABBITMQ4_URI:-}" ]; then
      echo "the RabbitMQ 4.0 node is not running: the 4.0 run failed"; rc=1; rabbitmq4_missing=1
    else
      started=$SECONDS
      for project in ${WORKERS_TEST_RABBITMQ4_PROJECTS:-Workers.Resilience.Tests Workers.Cli.Tests Workers.IntegrationTests Workers.FaultTests}; do
        filter=()
        case $project in
          # The fault suite's scenarios whose subject is not the broker (database failover, soak) or that need the 3.10
          # cluster run once, in the 3.10 run (tests/Workers.FaultTests/FaultTraits.cs).
          Workers.FaultTests) filter=(--filter "FaultBroker!=3.10-only") ;;
          # The sample host on the broker: the bad-messages breaker, endpoints, watchdog. Deploy files, the cluster
          # drill, the database outage and the 4.0-specific tests (which use the 4.0 node from the 3.10 run) run once.
          Workers.IntegrationTests) filter=(--filter "FullyQualifiedName~.BadMessagesBreakerTests|FullyQualifiedName~.SampleHostTests|FullyQualifiedName~.WorkerEndpointsTests|FullyQualifiedName~.ConsumerWatchdogTests") ;;
        esac
        # Private nodes (fault suite, redelivery durability) run RabbitMQ 4.0 from the Debian 13 root too.
        WORKERS_RABBITMQ_URI=$WORKERS_RABBITMQ4_URI WORKERS_RABBITMQ_MANAGEMENT_URI=$WORKERS_RABBITMQ4_MANAGEMENT_URI \
          WORKERS_PRIVATE_BROKER=4.0 \
          dotnet test "tests/$project" -c Release --no-build "${filter[@]}" \
            --logger "trx;LogFilePrefix=rabbitmq4-$project" --logger "console;verbosity=minimal" \
            --results-directory "$results/rabbitmq4" --blame-hang-timeout 10m "$@" || rc=1
      done
      echo "RabbitMQ 4.0 run: $((SECONDS - started)) s"
    fi
  fi
fi

passed=0 failed=0 skipped=0 files=0
for trx in "$results"/*.trx "$results"/rabbitmq4/*.trx; do
  [ -f "$trx" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  attr() { printf '%s' "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(attr passed)))
  failed=$((failed + $(attr failed) + $(attr error) + $(attr timeout) + $(attr aborted)))
  skipped=$((skipped + $(attr notExecuted)))
done
if [ -n "${rabbitmq4_missing:-}" ]; then failed=$((failed + 1)); fi
if [ -n "${autofailover_missing:-}" ]; then rc=1; failed=$((failed + 1)); fi
if [ $packed -ne 0 ]; then rc=1; failed=$((failed + 1)); fi   # the tests ran, but a package did not pack
if [ $rc -ne 0 ] && [ $failed -eq 0 ]; then failed=1; fi   # the build or a test host failed before reporting
if [ $files -eq 0 ] && [ $rc -eq 0 ]; then rc=1; failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
