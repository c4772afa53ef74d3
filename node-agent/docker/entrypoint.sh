#!/bin/bash
# Entrypoint of the node agent's image: this container is one worker node. It starts the node's
# own containerd, imports the images found under $PRELOAD_DIR (OCI or Docker tarballs, for
# machines without a registry), then runs the node agent in its place.
#
# The container needs what running containers inside a container needs (docker-compose.yml gives
# it): capabilities (all but those the host lacks), no seccomp or AppArmor confinement, a
# private cgroup namespace, and /var/lib/containerd on a file system overlayfs can use as its
# upper layer (a volume, not the container's own overlay root).
set -euo pipefail

PRELOAD_DIR=${PRELOAD_DIR:-/var/lib/orchestrator-agent/preload}
socket=/run/containerd/containerd.sock
namespace=${Agent__ContainerdNamespace:-orchestrator}

log() { echo "entrypoint: $*" >&2; }

# Without --privileged, Docker mounts /sys, /proc/sys and the cgroup file systems read-only; runc
# needs to create the pods' cgroups, and the CNI bridge plugin turns on IP forwarding in this
# container's network namespace. Remounting changes only this container's view: /proc/sys/net is
# this container's own, and with a private cgroup namespace (cgroup v2, or dockerd
# --default-cgroupns-mode=private on v1) the cgroup root it sees is its own cgroup.
read_only() { findmnt -rn -o OPTIONS "$1" | grep -qE '(^|,)ro(,|$)'; }
if read_only /sys; then
  mount -o remount,rw /sys
fi
if read_only /proc/sys; then
  mount -o remount,bind,rw /proc/sys
fi
findmnt -rn -t cgroup,cgroup2 -o TARGET | while read -r target; do
  if read_only "$target"; then
    mount -o remount,bind,rw "$target"
  fi
done
# cgroup v2 lets only leaf groups hold processes once controllers are enabled for children:
# move this container's processes into a leaf and hand every controller down, as docker:dind does.
if [ -f /sys/fs/cgroup/cgroup.controllers ] && [ ! -d /sys/fs/cgroup/init ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control
fi

mkdir -p /run/containerd
# Its shims copy their own info-level chatter (one block per container start) to containerd's
# output, whatever containerd's log level; the container's log keeps the agent readable.
containerd --config /etc/orchestrator-agent/containerd.toml 2> >(grep --line-buffered -v 'level=info' >&2) &
containerd_pid=$!
for _ in $(seq 1 100); do
  if ctr --address "$socket" version >/dev/null 2>&1; then break; fi
  if ! kill -0 "$containerd_pid" 2>/dev/null; then log "containerd exited at start"; exit 1; fi
  sleep 0.1
done
ctr --address "$socket" version >/dev/null || { log "containerd did not answer on $socket within 10 s"; exit 1; }

shopt -s nullglob
for image in "$PRELOAD_DIR"/*.tar; do
  ctr --address "$socket" --namespace "$namespace" images import "$image" >/dev/null
  log "imported $(basename "$image") into containerd namespace $namespace"
done

# The agent takes this process's place; when it exits the container stops, and with it
# containerd and every pod (they live in this container's PID namespace).
exec /app/Orchestrator.NodeAgent "$@"
