#!/usr/bin/env bash
# Runs the whole test suite: installs the Debian packages the tests use, builds, runs every
# test, and ends by printing the totals alone on the last line ("N passed, N failed, N skipped").
# The tests start and stop the services they need (containerd, redis, postgres) themselves.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh || exit 1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet build Orchestrator.sln -c Release -v quiet -nologo || exit 1
dotnet test tests/Orchestrator.Tests -c Release --no-build -nologo --logger "console;verbosity=normal" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The console logger ends with a summary block per run:
#   Total tests: 262 /  Passed: 261 /  Failed: 1 / (Skipped: n)
# and, with minimal verbosity, "Passed!  - Failed: 0, Passed: 43, Skipped: 0, ..." lines.
count() { grep -E "^ *$1: *[0-9]+ *$" "$log" | awk -F: '{s+=$2} END {print s+0}'; }
passed=$(count Passed); failed=$(count Failed); skipped=$(count Skipped)
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  read -r failed passed skipped < <(grep -E "^(Passed|Failed)! +- " "$log" \
    | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\1 \2 \3/' \
    | awk '{f+=$1; p+=$2; s+=$3} END {print f+0, p+0, s+0}')
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The run broke before it could count (a crash, a build error): count that as a failure.
  failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
