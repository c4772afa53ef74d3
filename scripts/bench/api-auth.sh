#!/usr/bin/env bash
# GET latency of the API on one kept-alive connection (curl reuses it for consecutive URLs):
# usage: scripts/bench/api-auth.sh [rounds] [requests]; OLD_ROOT (default /work/wt-old) is a
# checkout of 25c4b42 built in Release (git worktree add ../wt-old 25c4b42 && dotnet build -c Release silos).
# old main (25c4b42: plain HTTP, no credential) against this main (HTTPS, admin token, authorizer).
set -u
rounds=${1:-3}; n=${2:-1000}
start() { # dir data port gw silo scheme
  rm -rf "$2"; mkdir -p "$2"
  dotnet "$1/silos/bin/Release/net10.0/Orchestrator.Silo.dll" --urls "$6://127.0.0.1:$3" --Orchestrator:DataDirectory="$2" --Orchestrator:SiloPort=$5 --Orchestrator:GatewayPort=$4 --Logging:LogLevel:Default=Warning >"$2/log" 2>&1 &
  echo $!
}
old=$(start "${OLD_ROOT:-/work/wt-old}" /tmp/bench-old 18501 18502 18503 http)
new=$(start "$(cd "$(dirname "$0")/../.." && pwd)" /tmp/bench-new 18511 18512 18513 https)
for i in $(seq 60); do curl -sf http://127.0.0.1:18501/readyz >/dev/null && [ -s /tmp/bench-new/admin.kubeconfig ] && break; sleep 1; done
sleep 3
token=$(sed -n 's/^ *token: *//p' /tmp/bench-new/admin.kubeconfig)
measure() { # label url curl-args...
  local label=$1 url=$2; shift 2
  local urls=(); for _ in $(seq $n); do urls+=(-o /dev/null "$url"); done
  curl -s "$@" -w '%{http_code} %{time_total}\n' "${urls[@]}" | sort -k2 -g | awk -v l="$label" '
    { if ($1 != 200) bad++; t[NR] = $2 * 1000; sum += $2 * 1000 }
    END { printf "%s: %d GETs, median %.2f ms, p99 %.2f ms, mean %.2f ms, non-200 %d\n", l, NR, t[int(NR/2)], t[int(NR*0.99)], sum/NR, bad }'
}
# A ServiceAccount token as well: signature, account and RBAC checked on every request.
export KUBECONFIG=/tmp/bench-new/admin.kubeconfig
token=$(sed -n 's/^ *token: *//p' /tmp/bench-new/admin.kubeconfig)
# (kubectl create rolebinding sends protobuf, which the API does not read for RBAC kinds yet.)
curl -sf --cacert /tmp/bench-new/credentials/ca.crt -H "Authorization: Bearer $token" -H 'Content-Type: application/yaml' -X POST \
  https://127.0.0.1:18511/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings --data-binary @- >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bench-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: default, namespace: default}]
YAML
satoken=$(kubectl create token default -n default)
sleep 1
for r in $(seq $rounds); do
  measure "round $r old (http, anonymous)" http://127.0.0.1:18501/api/v1/namespaces/default
  measure "round $r new (https, admin token)" https://127.0.0.1:18511/api/v1/namespaces/default --cacert /tmp/bench-new/credentials/ca.crt -H "Authorization: Bearer $token"
  measure "round $r new (https, ServiceAccount token, RBAC view)" https://127.0.0.1:18511/api/v1/namespaces/default/pods --cacert /tmp/bench-new/credentials/ca.crt -H "Authorization: Bearer $satoken"
  measure "round $r old (http, anonymous) pods" http://127.0.0.1:18501/api/v1/namespaces/default/pods
done
kill $old $new
