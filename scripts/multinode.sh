#!/usr/bin/env bash
# Several worker nodes on this machine, by hand: the same topology as the multi-node test harness
# (tests/Orchestrator.Tests/MultiNode/MultiNodeCluster.cs), with a control plane and real
# containers.
#
#   scripts/multinode.sh up [NODES]   build, then start: a silo (API on https://127.0.0.1:8080,
#                                     admin kubeconfig run/multinode/silo/admin.kubeconfig), a private
#                                     containerd, a "hub" network namespace with bridge hub0
#                                     (172.30.0.1/24) and NODES (default 3) node namespaces, each
#                                     with its veth to the hub (172.30.0.1N), pod bridge, routes
#                                     and a node agent (nsenter --net) with its service proxy
#   scripts/multinode.sh down         stop everything up started (by the PIDs it recorded) and
#                                     remove every namespace, link, mount and directory it made
#   scripts/multinode.sh status       nodes, and each node's service rules (iptables-save)
#   scripts/multinode.sh exec NODE|hub CMD...   run a command in a node's (1..N) or the hub's
#                                     network namespace, e.g. `exec hub busybox nc ...`
#   scripts/multinode.sh cut|heal NODE          pull or restore a node's cable (its veth at the hub)
#
# The root network namespace gains no link, address, route or iptables rule: every one of them
# lives in a namespace named orch-dev-*, and goes with it. Agents reach the silo's gateway on
# their own namespace's 127.0.0.1:30000, relayed by socat over a unix socket to the silo's
# 127.0.0.1:30000, and its API (where they join with the silo's node-token) on 127.0.0.1:8080 the
# same way (so nothing but loopback carries control-plane traffic). Pods get a default
# route to their node, and nodes have no default route: no pod traffic leaves the machine.
# State and logs are under run/multinode/. Needs root, and Debian's containerd, runc,
# containernetworking-plugins, iptables, iproute2, busybox-static and socat.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
state=$root/run/multinode
prefix=orch-dev
hub=$prefix-hub
api=https://127.0.0.1:8080
# Written by the silo once its API listens (HTTPS only; a credential for all but health).
kubeconfig=$state/silo/admin.kubeconfig
gateway=30000
cluster_cidr=10.244.0.0/16
service_cidr=10.96.0.0/12
image_name=localhost/busybox:test

node_ns() { echo "$prefix-n$1"; }
node_ip() { echo "172.30.0.$((10 + $1))"; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then echo "error: run as root" >&2; exit 1; fi
}

start_bg() { # name, command...
  local name=$1; shift
  nohup "$@" >"$state/$name.log" 2>&1 &
  echo $! >"$state/$name.pid"
}

. scripts/lib/wait.sh
. scripts/lib/kubeconfig.sh

# curl as the admin of the silo's kubeconfig, trusting only the cluster CA (files made by up).
api_curl() {
  curl --cacert "$state/ca.crt" -H @"$state/auth-header" "$@"
}

up() {
  local nodes=${1:-3}
  need_root
  if [ -f "$state/nodes" ]; then echo "already up ($(cat "$state/nodes") nodes); run '$0 down' first" >&2; exit 1; fi
  for p in containerd runc containernetworking-plugins iptables iproute2 busybox-static socat; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || { echo "installing $p"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null; }
  done
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  echo "building..."
  dotnet build Orchestrator.sln -c Release -v quiet -nologo >/dev/null
  mkdir -p "$state"
  echo "$nodes" >"$state/nodes"

  # containerd of its own, as the tests use (no CRI plugin, state under run/multinode).
  mkdir -p "$state/containerd"
  cat >"$state/containerd/config.toml" <<EOF
version = 2
root = "$state/containerd/root"
state = "$state/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt"]
[grpc]
  address = "$state/containerd/containerd.sock"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  start_bg containerd containerd --config "$state/containerd/config.toml"
  wait_for containerd 120 ctr --address "$state/containerd/containerd.sock" version

  start_bg silo dotnet "$root/silos/bin/Release/net10.0/Orchestrator.Silo.dll" --urls "$api" \
    --Orchestrator:DataDirectory="$state/silo" --Orchestrator:GatewayPort=$gateway \
    --Orchestrator:ClusterCidr=$cluster_cidr --Orchestrator:ServiceCidr=$service_cidr
  wait_for "the silo's kubeconfig $kubeconfig" 120 test -s "$kubeconfig"
  kubeconfig_curl_files "$kubeconfig" "$state"
  wait_for "the API at $api" 120 api_curl -sf "$api/readyz"
  # The silo's gateway and API as unix sockets, for the node namespaces' relays (agents join
  # through the API with the node bootstrap token the silo wrote, then connect to the gateway).
  start_bg relay-root socat "UNIX-LISTEN:$state/gateway.sock,fork,unlink-early" "TCP:127.0.0.1:$gateway"
  start_bg relay-api-root socat "UNIX-LISTEN:$state/api.sock,fork,unlink-early" "TCP:127.0.0.1:8080"

  ip netns add "$hub"
  ip -n "$hub" link set lo up
  ip -n "$hub" link add hub0 type bridge
  ip -n "$hub" addr add 172.30.0.1/24 dev hub0
  ip -n "$hub" link set hub0 up

  bash scripts/build-test-image.sh "$state/image" >/dev/null
  for i in $(seq 1 "$nodes"); do
    local ns; ns=$(node_ns "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$hub" link add "n$i" type veth peer name eth0 netns "$ns"
    ip -n "$hub" link set "n$i" master hub0 up
    ip -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link add "orch-n$i" type bridge
    ip -n "$ns" link set "orch-n$i" up
    ip -n "$ns" route add $service_cidr dev "orch-n$i"
    nsenter --net="/run/netns/$ns" sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
    ctr --address "$state/containerd/containerd.sock" -n "$ns" images import "$state/image/busybox-oci.tar" >/dev/null
    start_bg "relay-n$i" nsenter --net="/run/netns/$ns" socat "TCP-LISTEN:$gateway,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$state/gateway.sock"
    start_bg "relay-api-n$i" nsenter --net="/run/netns/$ns" socat "TCP-LISTEN:8080,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$state/api.sock"
    start_bg "agent-n$i" nsenter --net="/run/netns/$ns" dotnet "$root/node-agent/bin/Release/net10.0/Orchestrator.NodeAgent.dll" \
      --Orchestrator:GatewayPort=$gateway --Agent:Server="$api" --Agent:TokenFile="$state/silo/node-token" \
      --Agent:NodeName="node-$i" --Agent:Runtime=containerd \
      --Agent:ContainerdAddress="$state/containerd/containerd.sock" --Agent:ContainerdNamespace="$ns" \
      --Agent:DataDirectory="$state/agent-n$i" --Agent:NetnsDirectory="$state/netns-n$i" \
      --Agent:BridgeName="orch-n$i" --Agent:NodeIP="$(node_ip "$i")" --Agent:Labels:node="node-$i"
  done
  for i in $(seq 1 "$nodes"); do
    wait_for "node-$i to be Ready" 120 sh -c "curl -sf --cacert $state/ca.crt -H @$state/auth-header $api/api/v1/nodes/node-$i | grep -q '\"type\":\"Ready\",\"status\":\"True\"'"
  done
  # Each node's pod CIDR (allocated at registration) is routed to it from every other node and
  # from the hub.
  for i in $(seq 1 "$nodes"); do
    local cidr; cidr=$(api_curl -sf "$api/api/v1/nodes/node-$i" | grep -oE '"podCIDR":"[^"]+"' | cut -d'"' -f4)
    ip -n "$hub" route replace "$cidr" via "$(node_ip "$i")"
    for j in $(seq 1 "$nodes"); do
      [ "$i" = "$j" ] || ip -n "$(node_ns "$j")" route replace "$cidr" via "$(node_ip "$i")"
    done
    echo "node-$i  $(node_ip "$i")  pod CIDR $cidr  namespace $(node_ns "$i")"
  done
  echo
  echo "API: $api   image: $image_name   hub namespace: $hub"
  echo "Wrote kubeconfig $kubeconfig   (KUBECONFIG=$kubeconfig kubectl get nodes)"
  echo "curl: curl --cacert $state/ca.crt -H @$state/auth-header $api/api/v1/nodes"
  echo "try: scripts/multinode.sh exec hub busybox nc ...; scripts/multinode.sh status; scripts/multinode.sh down"
}

stop_pid() { # name
  local f="$state/$1.pid"
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

down() {
  need_root
  local nodes; nodes=$(cat "$state/nodes" 2>/dev/null || echo 0)
  local sock="$state/containerd/containerd.sock"
  for i in $(seq 1 "$nodes"); do stop_pid "agent-n$i"; stop_pid "relay-n$i"; stop_pid "relay-api-n$i"; done
  stop_pid relay-root
  stop_pid relay-api-root
  stop_pid silo
  for i in $(seq 1 "$nodes"); do
    local ns; ns=$(node_ns "$i")
    if [ -S "$sock" ]; then
      for t in $(ctr --address "$sock" -n "$ns" tasks list -q 2>/dev/null); do ctr --address "$sock" -n "$ns" tasks delete --force "$t" >/dev/null 2>&1 || true; done
      for c in $(ctr --address "$sock" -n "$ns" containers list -q 2>/dev/null); do ctr --address "$sock" -n "$ns" containers delete "$c" >/dev/null 2>&1 || true; done
      for m in $(ctr --address "$sock" -n "$ns" images list -q 2>/dev/null); do ctr --address "$sock" -n "$ns" images remove --sync "$m" >/dev/null 2>&1 || true; done
      ctr --address "$sock" namespaces remove "$ns" >/dev/null 2>&1 || true
    fi
    # containerd's cgroups for the namespace (children first).
    for d in /sys/fs/cgroup/"$ns" /sys/fs/cgroup/*/"$ns"; do
      [ -d "$d" ] && { find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true; rmdir "$d" 2>/dev/null || true; }
    done
  done
  stop_pid containerd
  # Pod network namespaces and other mounts under the state directory.
  if [ -d "$state" ]; then
    { grep -F " $state/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | while read -r m; do umount --lazy "$m" || true; done
  fi
  for i in $(seq 1 "$nodes"); do ip netns delete "$(node_ns "$i")" 2>/dev/null || true; done
  ip netns delete "$hub" 2>/dev/null || true
  rm -rf "$state"
  echo "down: every $prefix-* namespace and everything under run/multinode removed"
}

status() {
  local nodes; nodes=$(cat "$state/nodes" 2>/dev/null || { echo "not up"; exit 0; })
  api_curl -sf "$api/api/v1/nodes" | grep -oE '"name":"node-[0-9]+"|"podCIDR":"[^"]+"|"type":"Ready","status":"[A-Za-z]+"' | paste - - - || true
  for i in $(seq 1 "$nodes"); do
    echo "--- node-$i ($(node_ns "$i")): service rules"
    nsenter --net="/run/netns/$(node_ns "$i")" iptables-save -t nat | grep -E '^(-A ORCH-SERVICES|-A ORCH-NODEPORTS)' || echo "(none)"
  done
}

in_ns() { # NODE|hub, command...
  local which=$1; shift
  local ns; if [ "$which" = hub ]; then ns=$hub; else ns=$(node_ns "$which"); fi
  exec nsenter --net="/run/netns/$ns" "$@"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  exec) shift; in_ns "$@" ;;
  cut) need_root; ip -n "$hub" link set "n$2" down ;;
  heal) need_root; ip -n "$hub" link set "n$2" up ;;
  *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
