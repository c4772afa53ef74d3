#!/usr/bin/env bash
# Stops what scripts/up.sh started, by the PIDs it recorded: first the sample workload is
# deleted (so its containers stop), then the agent, the silo and containerd (only if up.sh
# started it). State stays in run/data. Workloads of your own keep their objects; delete them
# before running this if their containers should stop too.
# The API (HTTPS only) is reached as the admin of the kubeconfig the silo wrote in its data
# directory (ORCHESTRATOR_KUBECONFIG, default run/data/admin.kubeconfig).
set -uo pipefail
cd "$(dirname "$0")/.."
api=${ORCHESTRATOR_API:-https://127.0.0.1:8080}
kubeconfig=${ORCHESTRATOR_KUBECONFIG:-run/data/admin.kubeconfig}
. scripts/lib/kubeconfig.sh

# The CA and the token as curl reads them, in a directory of this run's only.
auth=$(mktemp -d)
trap 'rm -rf "$auth"' EXIT
api_curl() {
  curl --cacert "$auth/ca.crt" -H @"$auth/auth-header" "$@"
}
if [ -f "$kubeconfig" ] && kubeconfig_curl_files "$kubeconfig" "$auth" && api_curl -sf "$api/readyz" >/dev/null 2>&1; then
  api_curl -sf -X DELETE "$api/apis/apps/v1/namespaces/default/deployments/hello" >/dev/null && echo "deleted the sample deployment"
  api_curl -sf -X DELETE "$api/api/v1/namespaces/default/services/hello" >/dev/null
  for _ in $(seq 1 60); do
    api_curl -sf "$api/api/v1/namespaces/default/pods?labelSelector=app%3Dhello" | grep -q '"kind":"Pod"' || break
    sleep 0.5
  done
fi
# containerd only if up.sh started it (its PID file exists); a system containerd stays.
for name in agent silo containerd; do
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
# The agent's pod bridge (made by the CNI bridge plugin) goes with it.
ip link del orch0 2>/dev/null && echo "removed bridge orch0"
exit 0
