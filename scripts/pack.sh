#!/usr/bin/env bash
# Packs every packable project (src/: WorkersFx.Resilience, .Postgres, .Hosting, .Exporters, .Cli) into a local feed,
# emptied first: WORKERS_PACKAGES_FEED, default artifacts/packages (git-ignored). Extra arguments go to dotnet pack
# (scripts/test.sh passes --no-build right after its Release build).
# Version (Directory.Build.props): VersionPrefix; VERSION_SUFFIX=ci.42 gives 0.1.0-ci.42; a v* tag on HEAD
# (or RELEASE_TAG=v1.2.0[-rc.1]) gives 1.2.0[-rc.1].
#   scripts/pack.sh [dotnet pack arguments]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
feed=${WORKERS_PACKAGES_FEED:-$repo/artifacts/packages}
if [ -z "${RELEASE_TAG:-}" ]; then
  RELEASE_TAG=$(git -C "$repo" describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null || true)
fi
export RELEASE_TAG DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
rm -rf "$feed"; mkdir -p "$feed"
# Project by project, src/ only (never the solution): a pack that builds must not rebuild the test projects, one of
# which may be running it (tests/Workers.Packaging.Tests packs this way when no feed was packed before it).
for project in "$repo"/src/*/*.csproj; do
  grep -q '<IsPackable>false</IsPackable>' "$project" && continue
  dotnet pack "$project" -c Release -nologo -clp:ErrorsOnly -o "$feed" "$@"
done
ls "$feed"
