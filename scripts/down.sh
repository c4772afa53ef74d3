#!/usr/bin/env bash
# Stops what scripts/up.sh started, by the PIDs it recorded. State stays in run/data.
set -uo pipefail
cd "$(dirname "$0")/.."
for name in agent silo; do
  if [ -f "run/$name.pid" ]; then
    pid=$(cat "run/$name.pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      echo "stopped $name (pid $pid)"
    fi
    rm -f "run/$name.pid"
  fi
done
