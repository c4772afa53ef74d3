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
# Arguments go to dotnet test (e.g. --filter FullyQualifiedName~NodeLifecycle for a subset).
dotnet test tests/Orchestrator.Tests -c Release --no-build -nologo --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The console shows each test's name and result, and for a failed test its output and the tail
# of its log; every test's logs (silos, agents, in-process hosts) are in a file of its own under
# tests/Orchestrator.Tests/bin/Release/net10.0/test-logs/. The console logger ends with a
# summary block per run, the only place counted (a failed test's output may hold such lines):
#   Total tests: 262
#        Passed: 261
#        Failed: 1
#       Skipped: n
#    Total time: ...
# and, with minimal verbosity, "Passed!  - Failed: 0, Passed: 43, Skipped: 0, ..." lines.
count() {
  awk -v what="$1" '
    /^Total tests: *[0-9]+ *$/ { summary = 1; next }
    /^ *Total time:/ { summary = 0 }
    summary && $0 ~ "^ *" what ": *[0-9]+ *$" { split($0, f, ":"); s += f[2] }
    END { print s + 0 }' "$log"
}
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
echo "Each test's logs: tests/Orchestrator.Tests/bin/Release/net10.0/test-logs/"
# The failed tests' names once more at the end, where a reader of only the last lines (CI's
# summary) finds them.
grep -E "^  Failed [A-Za-z0-9_.]+(\(.*\))? \[" "$log" | sed -E "s/^  Failed /failed: /" | sort -u
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
