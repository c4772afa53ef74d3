#!/usr/bin/env bash
# Brings Orchestrator up on this machine and runs the sample workload (examples/hello.yaml) in
# real containers: one control-plane silo (embedded profile: state in run/data) and one node
# agent driving containerd (started here if none is running), all in the background with their
# logs and PIDs under run/. Stop them with scripts/down.sh. AGENT_RUNTIME=fake runs the sample
# without containers (no root needed for the agent then).
# The API serves HTTPS only and wants a credential: the silo makes a cluster CA and an admin
# token at its first start and writes them into run/data/admin.kubeconfig (mode 0600), which
# kubectl uses as it is; this script's curl calls use the same CA and token. It also writes the
# node bootstrap token to run/data/node-token (0600): the agent joins with it (Agent:TokenFile),
# and so would a node agent on another machine (Agent:Server=https://<this machine>:8080).
# .NET grain clients connect with Orchestrator:Kubeconfig=run/data/admin.kubeconfig.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
api=${ORCHESTRATOR_API:-https://127.0.0.1:8080}
kubeconfig=$root/run/data/admin.kubeconfig
runtime=${AGENT_RUNTIME:-containerd}
containerd_socket=/run/containerd/containerd.sock

scripts/install-deps.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "building..."
dotnet build Orchestrator.sln -c Release -v quiet -nologo >/dev/null
mkdir -p run

start() { # name, command...
  local name=$1; shift
  if [ -f "run/$name.pid" ] && kill -0 "$(cat "run/$name.pid")" 2>/dev/null; then
    echo "$name already running (pid $(cat "run/$name.pid"))"
    return
  fi
  nohup "$@" >"run/$name.log" 2>&1 &
  echo $! >"run/$name.pid"
  echo "started $name (pid $!, log run/$name.log)"
}

. scripts/lib/wait.sh

if [ "$runtime" = containerd ]; then
  if ! ctr --address "$containerd_socket" version >/dev/null 2>&1; then
    start containerd containerd
    wait_for "containerd" 60 ctr --address "$containerd_socket" version
  fi
  # No registry is reachable: the sample's image is built here from busybox-static.
  scripts/build-test-image.sh run/image "$containerd_socket" orchestrator >/dev/null
  echo "imported localhost/busybox:test into containerd"
fi

start silo dotnet "$root/silos/bin/Release/net10.0/Orchestrator.Silo.dll" --urls "$api" --Orchestrator:DataDirectory="$root/run/data"
wait_for "the API at $api" 60 sh -c "test -s '$kubeconfig' && curl -sf --cacert run/data/credentials/ca.crt '$api/readyz'"
# curl as the kubeconfig's admin: its CA, its bearer token (through a 0600 file, not argv).
. scripts/lib/kubeconfig.sh
auth=$(mktemp -d)
trap 'rm -rf "$auth"' EXIT
kubeconfig_curl_files "$kubeconfig" "$auth"
kcurl() { curl -sf --cacert "$auth/ca.crt" -H @"$auth/auth-header" "$@"; }
agent_data=()
if [ "$runtime" = fake ]; then
  agent_data=(--Agent:DataDirectory="$root/run/agent") # not root: keep its credentials under run/
fi
start agent dotnet "$root/node-agent/bin/Release/net10.0/Orchestrator.NodeAgent.dll" --Agent:Runtime="$runtime" --Agent:NodeName="$(hostname | tr 'A-Z_' 'a-z-')" \
  --Agent:Server="$api" --Agent:TokenFile="$root/run/data/node-token" "${agent_data[@]}"
wait_for "the node to register" 60 sh -c "curl -sf --cacert $auth/ca.crt -H @$auth/auth-header $api/api/v1/nodes | grep -q '\"type\":\"Ready\",\"status\":\"True\"'"

echo "applying examples/hello.yaml"
kcurl -X POST -H 'Content-Type: application/yaml' --data-binary @<(awk 'BEGIN{RS="---\n"} /kind: Deployment/' examples/hello.yaml) \
  "$api/apis/apps/v1/namespaces/default/deployments" >/dev/null || echo "(the deployment exists already)"
kcurl -X POST -H 'Content-Type: application/yaml' --data-binary @<(awk 'BEGIN{RS="---\n"} /kind: Service/' examples/hello.yaml) \
  "$api/api/v1/namespaces/default/services" >/dev/null || echo "(the service exists already)"
wait_for "3 available replicas" 60 sh -c "curl -sf --cacert $auth/ca.crt -H @$auth/auth-header $api/apis/apps/v1/namespaces/default/deployments/hello | grep -q '\"availableReplicas\":3'"

echo
echo "hello is running:"
printf '%-26s %-10s %-10s %s\n' NAME STATUS NODE IP
kcurl "$api/api/v1/namespaces/default/pods?labelSelector=app%3Dhello" | sed 's/{"apiVersion":"v1","kind":"Pod"/\n&/g' | grep '"kind":"Pod"' \
  | while read -r pod; do
      field() { echo "$pod" | grep -oE "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
      printf '%-26s %-10s %-10s %s\n' "$(field name)" "$(field phase)" "$(field nodeName)" "$(field podIP)"
    done
ip=$(kcurl "$api/api/v1/namespaces/default/pods?labelSelector=app%3Dhello" | grep -oE '"podIP":"[0-9.]+"' | head -1 | cut -d'"' -f4)
if [ "$runtime" = containerd ] && [ -n "$ip" ]; then
  echo
  echo "curl http://$ip:8080/  ->  $(curl -sf --max-time 5 "http://$ip:8080/" || echo '(no answer)')"
fi
echo
echo "API: $api   kubeconfig (admin; keep it private): $kubeconfig"
echo "try: KUBECONFIG=$kubeconfig kubectl get pods"
echo "node bootstrap token (for more agents: --Agent:TokenFile, --Agent:Server=$api): $root/run/data/node-token"
echo " or: curl --cacert run/data/credentials/ca.crt -H \"Authorization: Bearer \$(sed -n 's/^ *token: *//p' $kubeconfig)\" $api/api/v1/namespaces/default/pods"
echo "stop everything with: scripts/down.sh"
