#!/usr/bin/env bash
# Brings up the docker-compose cluster (docker-compose.yml: Redis, PostgreSQL, three silos, two
# nodes) and runs the sample workload (examples/hello.yaml) on it in real containers:
#
#   1. Docker: the running daemon if there is one; otherwise a dockerd of our own, started here on
#      the host's containerd (or on a containerd of our own if none runs), with its data, sockets
#      and logs under the state directory, no iptables rules (published ports go through
#      docker-proxy) and no IP forwarding or masquerading set up.
#   2. Publishes the silo and the node agent (self-contained, linux-x64) into artifacts/compose/.
#   3. Images. Where no registry is reachable (the default, ORCH_COMPOSE_IMAGES=local): the base
#      is a Debian 12 root file system built with debootstrap and cached (scripts/compose/
#      base-image.sh), imported with `docker import`; Redis and PostgreSQL images are built on it
#      (scripts/compose/*.Dockerfile). In both modes the sample's image localhost/busybox:test is
#      built from busybox-static and imported by every node at start. Then the silo and agent
#      images (on ORCH_BASE_IMAGE, default the public .NET runtime-deps image).
#   4. docker-compose up; the cluster network routes nothing off the machine (unless
#      ORCH_COMPOSE_PRIVATE_NETWORK=0): no masquerading, and no forwarding from its bridge.
#   5. Copies the admin kubeconfig out of silo1 (each silo writes it at start; all three share
#      the cluster CA and admin token) to $state/admin.kubeconfig, mode 0600, with the server set
#      to silo1's published port: the API serves HTTPS only, with a certificate of the cluster CA
#      that names 127.0.0.1, and wants a credential for everything but health and version. Also
#      the CA alone (ca.crt) and the token as a curl header file (auth-header), for curl.
#   6. Applies examples/hello.yaml through silo1's API and checks that its pods run on both nodes
#      and answer HTTP (from inside their nodes: pod addresses are private to a node).
#
# Stop and remove everything with scripts/compose-down.sh. Settings: see scripts/compose/common.sh.
# Needs root, and Debian's docker.io, docker-compose, containerd, runc, iptables, iproute2,
# util-linux, busybox-static, curl, python3, plus debootstrap for the first local base image.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/compose/common.sh
. scripts/lib/kubeconfig.sh

project=${ORCH_COMPOSE_PROJECT:-orchestrator}
images_mode=${ORCH_COMPOSE_IMAGES:-local}
private_network=${ORCH_COMPOSE_PRIVATE_NETWORK:-1}
ports=("${ORCH_API_PORT_1:-8081}" "${ORCH_API_PORT_2:-8082}" "${ORCH_API_PORT_3:-8083}")
api=https://127.0.0.1:${ports[0]}
started=$SECONDS

step() { printf '[%3d s] %s\n' $((SECONDS - started)) "$*"; }

[ "$(id -u)" -eq 0 ] || fail "run as root: the nodes run containers, and dockerd may have to be started"
require dotnet docker docker-compose curl python3 findmnt setsid ip iptables-save busybox
case $images_mode in
  local | registry) ;;
  *) fail "ORCH_COMPOSE_IMAGES must be local or registry, not \"$images_mode\"" ;;
esac
if [ -f "$compose_env" ]; then
  fail "$state holds a cluster already (project $(grep -oP '^COMPOSE_PROJECT_NAME=\K.*' "$compose_env" || echo '?')); stop it with scripts/compose-down.sh first"
fi
mkdir -p "$state"

# Records a setting for docker-compose, compose-down.sh and the tests.
record() { # NAME VALUE
  printf '%s=%q\n' "$1" "$2" >>"$compose_env"
  export "$1=$2"
}
record COMPOSE_PROJECT_NAME "$project"
record ORCH_COMPOSE_STATE "$state"
record ORCH_API_PORT_1 "${ports[0]}"
record ORCH_API_PORT_2 "${ports[1]}"
record ORCH_API_PORT_3 "${ports[2]}"
record ORCH_PRELOAD_IMAGES "$state/preload"

# The nodes run privileged (docker-compose.yml) unless the host's capability bounding set lacks
# a capability privileged mode would grant: runc then cannot start them at all ("unable to apply
# caps"). In that case an override gives them every capability the host has instead.
compose_files=$repo/docker-compose.yml
missing_caps=$(host_missing_capabilities)
if [ -n "$missing_caps" ]; then
  {
    echo "# Written by compose-up.sh: this host's capability bounding set lacks $missing_caps,"
    echo "# so the nodes cannot be privileged; they get every capability the host has instead."
    echo 'version: "2.4"'
    echo 'x-unprivileged-node: &node'
    echo '  privileged: false'
    echo '  cap_add: [ALL]'
    echo "  cap_drop: [${missing_caps// /, }]"
    echo '  security_opt: [seccomp=unconfined, apparmor=unconfined]'
    echo 'services:'
    echo '  agent1: *node'
    echo '  agent2: *node'
  } >"$state/nodes-unprivileged.yml"
  compose_files+=:$state/nodes-unprivileged.yml
  step "the host lacks ${missing_caps}: nodes run with every other capability instead of privileged"
fi
record COMPOSE_FILE "$compose_files"

# --- 1. Docker -----------------------------------------------------------------------------------
start_own_containerd() {
  require containerd ctr
  local dir=$state/containerd
  mkdir -p "$dir"
  cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$dir/containerd.sock"
[debug]
  address = ""
  level = "warn"
[metrics]
  address = ""
EOF
  # setsid: a session of its own, so that a Ctrl-C in this terminal does not reach it.
  setsid containerd --config "$dir/config.toml" </dev/null >"$dir/containerd.log" 2>&1 &
  record ORCH_OWN_CONTAINERD_PID $!
  record ORCH_OWN_CONTAINERD_SOCKET "$dir/containerd.sock"
  wait_for "containerd on $dir/containerd.sock" 20 ctr --address "$dir/containerd.sock" version ||
    fail "containerd did not start: $(tail -n 5 "$dir/containerd.log")"
}

start_own_dockerd() {
  require dockerd
  local dir=$state/docker containerd_socket
  mkdir -p "$dir"
  if [ "${ORCH_COMPOSE_OWN_DOCKERD:-0}" != 1 ] && ctr --address /run/containerd/containerd.sock version >/dev/null 2>&1; then
    containerd_socket=/run/containerd/containerd.sock
  else
    start_own_containerd
    containerd_socket=$ORCH_OWN_CONTAINERD_SOCKET
  fi
  # What Docker had in iptables before, so that compose-down.sh removes only what ours adds.
  docker_iptables_rules iptables >"$dir/iptables-before"
  docker_iptables_rules ip6tables >"$dir/ip6tables-before"
  # dockerd sets the FORWARD policy to DROP when it manages iptables and forwarding; ours does
  # neither, but compose-down.sh puts back what was there whatever happened.
  forward_policy iptables >"$dir/iptables-forward-policy"
  forward_policy ip6tables >"$dir/ip6tables-forward-policy"
  [ -d /run/docker ] || touch "$dir/made-run-docker"
  echo '{}' >"$dir/daemon.json"
  # No iptables rules, no IP forwarding, no masquerading: published ports (127.0.0.1 only) go
  # through docker-proxy, which needs none of them. With its defaults dockerd would also set the
  # FORWARD policy to DROP while it runs, cutting off what other programs (other tests' node
  # namespaces) route through this host. A containerd namespace and cgroup parent of
  # its own, so that several such daemons on one containerd and one host never meet.
  setsid dockerd \
    --containerd="$containerd_socket" \
    --containerd-namespace="orch-compose-$project" \
    --containerd-plugins-namespace="orch-compose-$project-plugins" \
    --data-root="$dir/data" \
    --exec-root="$dir/exec" \
    --pidfile="$dir/dockerd.pid" \
    --host="unix://$dir/docker.sock" \
    --config-file="$dir/daemon.json" \
    --iptables=false \
    --ip-forward=false \
    --ip-masq=false \
    --bridge=none \
    --default-cgroupns-mode=private \
    --cgroup-parent="/orch-compose-$project" \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  record ORCH_OWN_DOCKERD_PID $!
  record ORCH_OWN_DOCKERD_CONTAINERD "$containerd_socket"
  record DOCKER_HOST "unix://$dir/docker.sock"
  wait_for "dockerd on $dir/docker.sock" 60 docker version ||
    fail "dockerd did not start: $(tail -n 5 "$dir/dockerd.log")"
}

if [ "${ORCH_COMPOSE_OWN_DOCKERD:-0}" != 1 ] && docker_answers "${DOCKER_HOST:-unix:///var/run/docker.sock}"; then
  record DOCKER_HOST "${DOCKER_HOST:-unix:///var/run/docker.sock}"
  step "using the Docker daemon at $DOCKER_HOST"
else
  start_own_dockerd
  step "started dockerd (pid $ORCH_OWN_DOCKERD_PID) at $DOCKER_HOST on containerd $ORCH_OWN_DOCKERD_CONTAINERD"
fi

# --- 2. Publish ----------------------------------------------------------------------------------
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
for app in silos/Orchestrator.Silo.csproj:silo node-agent/Orchestrator.NodeAgent.csproj:node-agent; do
  project_file=${app%%:*} out=artifacts/compose/${app##*:}
  rm -rf "$out"
  # No build servers: nothing of ours keeps running after this script.
  if ! dotnet publish "$project_file" -c Release -r linux-x64 --self-contained -o "$out" --disable-build-servers -nologo -v quiet >"$state/publish.log" 2>&1; then
    tail -n 30 "$state/publish.log" >&2
    fail "dotnet publish $project_file failed (log: $state/publish.log)"
  fi
done
step "published the silo and the node agent into artifacts/compose/"

# --- 3. Images -----------------------------------------------------------------------------------
build_image() { # tag, dockerfile, context, build args...
  local tag=$1 file=$2 context=$3
  shift 3
  docker build -q -t "$tag" -f "$file" "$@" "$context" >>"$state/build.log" 2>&1 ||
    fail "docker build of $tag failed: $(tail -n 20 "$state/build.log")"
  echo "$tag" >>"$state/images"
}
if [ "$images_mode" = local ]; then
  base_tar=$(scripts/compose/base-image.sh)
  key=$(basename "$base_tar" .tar)
  key=${key##*-}
  record ORCH_BASE_IMAGE "localhost/orchestrator-compose/base:$key"
  record ORCH_REDIS_IMAGE "localhost/orchestrator-compose/redis:$key"
  record ORCH_POSTGRES_IMAGE "localhost/orchestrator-compose/postgres:$key"
  if ! docker image inspect "$ORCH_BASE_IMAGE" >/dev/null 2>&1; then
    docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' "$base_tar" "$ORCH_BASE_IMAGE" >/dev/null
    echo "$ORCH_BASE_IMAGE" >>"$state/images"
  fi
  build_image "$ORCH_REDIS_IMAGE" scripts/compose/redis.Dockerfile scripts/compose --build-arg "BASE_IMAGE=$ORCH_BASE_IMAGE"
  build_image "$ORCH_POSTGRES_IMAGE" scripts/compose/postgres.Dockerfile scripts/compose --build-arg "BASE_IMAGE=$ORCH_BASE_IMAGE"
  step "base image $ORCH_BASE_IMAGE (from $base_tar), Redis and PostgreSQL images"
fi
# The sample's image, which no registry has: every node imports it at start.
mkdir -p "$state/preload"
scripts/build-test-image.sh "$state/image" >/dev/null
cp "$state/image/busybox-oci.tar" "$state/preload/"
record ORCH_SILO_IMAGE "localhost/orchestrator-compose/silo:$project"
record ORCH_AGENT_IMAGE "localhost/orchestrator-compose/node-agent:$project"
# One build per image: the other silos and node use the same one.
if ! compose build silo1 agent1 >>"$state/build.log" 2>&1; then
  tail -n 30 "$state/build.log" >&2
  fail "docker-compose build failed (log: $state/build.log)"
fi
printf '%s\n' "$ORCH_SILO_IMAGE" "$ORCH_AGENT_IMAGE" >>"$state/images"
step "built $ORCH_SILO_IMAGE and $ORCH_AGENT_IMAGE"

# --- 4. Up ---------------------------------------------------------------------------------------
if [ "$private_network" = 1 ]; then
  record ORCH_IP_MASQUERADE false
fi
compose up --no-start >>"$state/compose.log" 2>&1 || fail "docker-compose up --no-start failed: $(tail -n 20 "$state/compose.log")"
network_id=$(docker network inspect -f '{{.Id}}' "${project}_cluster")
bridge=$(docker network inspect -f '{{index .Options "com.docker.network.bridge.name"}}' "${project}_cluster")
bridge=${bridge:-br-${network_id:0:12}}
record ORCH_COMPOSE_BRIDGE "$bridge"
if [ "$private_network" = 1 ]; then
  # The containers' default route leads to the host, which may forward (net.ipv4.ip_forward=1)
  # anything they send to other networks. Per-interface forwarding off: packets that arrive on
  # this bridge are delivered to the host or dropped, never routed on. It goes with the bridge.
  sysctl -qw "net.ipv4.conf.$bridge.forwarding=0"
  sysctl -qw "net.ipv6.conf.$bridge.disable_ipv6=1"
fi
# Starts in dependency order and waits for health checks: databases, then silos, then nodes.
compose up -d >>"$state/compose.log" 2>&1 || {
  compose ps >&2 || true
  fail "docker-compose up failed: $(tail -n 20 "$state/compose.log")"
}
step "cluster up (project $project, network bridge $bridge); API on ${ports[*]/#/127.0.0.1:}"

# --- 5. The admin kubeconfig ----------------------------------------------------------------------
kubeconfig=$state/admin.kubeconfig
ca=$state/ca.crt
auth=$state/auth-header
# Written once silo1's API listens; the health check (the silo's "probe") reads it, so a healthy
# silo has it already.
silo_kubeconfig() {
  compose exec -T silo1 cat /var/lib/orchestrator/admin.kubeconfig >"$kubeconfig.tmp"
}
(
  umask 077
  wait_for "silo1 to write its kubeconfig" 60 silo_kubeconfig || {
    compose logs --tail 30 silo1 >&2 || true
    exit 1
  }
  # The server as seen from this host: silo1's published port (the certificate names 127.0.0.1).
  sed -E "s#^([[:space:]]*server:[[:space:]]*).*#\1$api#" "$kubeconfig.tmp" >"$kubeconfig"
  rm -f "$kubeconfig.tmp"
)
# $state/ca.crt and $state/auth-header (scripts/lib/kubeconfig.sh).
kubeconfig_curl_files "$kubeconfig" "$state"
record ORCH_KUBECONFIG "$kubeconfig"
step "wrote the admin kubeconfig to $kubeconfig (server $api)"
# curl as the admin, trusting only the cluster CA; the token from a file, not on a command line.
api_curl() {
  curl --cacert "$ca" -H @"$auth" "$@"
}

# --- 6. The sample workload ----------------------------------------------------------------------
json() { # python expression over the JSON document on stdin, bound to d
  python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
nodes_ready() {
  api_curl -sf "$api/api/v1/nodes" | json "sum(1 for n in d['items'] if any(c['type']=='Ready' and c['status']=='True' for c in n['status'].get('conditions',[])))" | grep -qx 2
}
wait_for "both nodes to be Ready" 120 nodes_ready || {
  compose logs --tail 30 agent1 agent2 >&2 || true
  exit 1
}
document() { # kind: one document of examples/hello.yaml
  awk -v kind="kind: $1" 'BEGIN { RS = "---\n" } index($0, kind "\n") { printf "%s", $0 }' examples/hello.yaml
}
post() { # path, kind
  local code
  code=$(document "$2" | api_curl -s -o "$state/response.json" -w '%{http_code}' -X POST -H 'Content-Type: application/yaml' --data-binary @- "$api$1")
  case $code in
    201) ;;
    409) echo "($2 hello exists already)" ;;
    *) fail "POST $1 answered $code: $(cat "$state/response.json")" ;;
  esac
}
post /apis/apps/v1/namespaces/default/deployments Deployment
post /api/v1/namespaces/default/services Service
available() {
  api_curl -sf "$api/apis/apps/v1/namespaces/default/deployments/hello" | json "d.get('status',{}).get('availableReplicas',0)" | grep -qx 3
}
wait_for "the 3 replicas of hello to be available" 180 available || {
  api_curl -s "$api/api/v1/namespaces/default/pods?labelSelector=app%3Dhello" >&2 || true
  exit 1
}

# name node ip phase, one line per pod
pods=$(api_curl -sf "$api/api/v1/namespaces/default/pods?labelSelector=app%3Dhello" |
  json "'\n'.join(f\"{p['metadata']['name']} {p['spec'].get('nodeName','-')} {p['status'].get('podIP','-')} {p['status'].get('phase','-')}\" for p in d['items'])")
echo
printf '%-26s %-8s %-14s %-8s %s\n' POD NODE IP PHASE "HTTP (from its node)"
declare -A on_node=()
failed=0
while read -r name node ip phase; do
  container=$(compose ps -q "agent${node#node-}" 2>/dev/null || true)
  answer="(no container for $node)"
  if [ -n "$container" ] && [ "$ip" != - ]; then
    # bash's /dev/tcp inside the node's container: pod addresses are routed only there.
    answer=$(docker exec "$container" timeout 5 bash -c "exec 3<>/dev/tcp/$ip/8080 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && tail -n 1 <&3" 2>&1 || true)
  fi
  printf '%-26s %-8s %-14s %-8s %s\n' "$name" "$node" "$ip" "$phase" "$answer"
  on_node[$node]=1
  if [ "$phase" != Running ] || [[ $answer != "hello from"* ]]; then
    failed=1
  fi
done <<<"$pods"
echo
[ "$failed" = 0 ] || fail "not every pod of hello runs and answers"
[ "${#on_node[@]}" -ge 2 ] || fail "the pods of hello run on ${!on_node[*]} only, not on both nodes"
step "hello runs on ${!on_node[*]}"
echo
echo "API: ${ports[*]/#/https://127.0.0.1:}   (HTTPS; every request but /healthz, /readyz, /version needs a credential)"
echo "Wrote kubeconfig $kubeconfig   (KUBECONFIG=$kubeconfig kubectl get pods)"
echo "try: curl --cacert $ca -H @$auth $api/api/v1/namespaces/default/pods"
echo "docker: DOCKER_HOST=$DOCKER_HOST docker-compose -p $project ps   (settings in $compose_env)"
echo "stop and remove everything with: ORCH_COMPOSE_DIR=$state scripts/compose-down.sh"
