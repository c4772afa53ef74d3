#!/usr/bin/env bash
# Stops and removes what scripts/compose-up.sh made, from what it recorded in
# $ORCH_COMPOSE_DIR/compose.env (default run/compose): the cluster's containers, network and
# volumes (its data: `docker-compose down -v`), the images it built, and, if it started them,
# its dockerd and containerd (by their PIDs) with their data, mounts, cgroups and any iptables
# rules dockerd added. Safe to run again, and after a compose-up.sh that failed half-way.
# ORCH_COMPOSE_KEEP_IMAGES=1 keeps the images on a Docker daemon that compose-up.sh did not start.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/compose/common.sh

[ "$(id -u)" -eq 0 ] || fail "run as root"
if [ ! -f "$compose_env" ]; then
  echo "nothing to stop: no $compose_env"
  exit 0
fi
load_state
project=$COMPOSE_PROJECT_NAME
leftovers=0

if [ -n "${DOCKER_HOST:-}" ] && docker_answers "$DOCKER_HOST"; then
  # A short stop timeout: the volumes, and so the data, go too.
  if ! compose down --volumes --remove-orphans --timeout 5 >"$state/down.log" 2>&1; then
    cat "$state/down.log" >&2
    leftovers=1
  fi
  if [ -z "${ORCH_OWN_DOCKERD_PID:-}" ] && [ "${ORCH_COMPOSE_KEEP_IMAGES:-0}" != 1 ] && [ -f "$state/images" ]; then
    # Newest first: images built on the base go before it.
    tac "$state/images" | awk '!seen[$0]++' | while read -r image; do
      docker image rm "$image" >/dev/null 2>&1 && echo "removed image $image"
    done
  fi
fi

if [ -n "${ORCH_OWN_DOCKERD_PID:-}" ]; then
  dir=$state/docker
  stop_pid "$ORCH_OWN_DOCKERD_PID" 30
  echo "stopped dockerd (pid $ORCH_OWN_DOCKERD_PID)"
  remove_added_docker_rules iptables "$dir/iptables-before"
  remove_added_docker_rules ip6tables "$dir/ip6tables-before"
  restore_forward_policy iptables "$dir/iptables-forward-policy"
  restore_forward_policy ip6tables "$dir/ip6tables-forward-policy"
  # The bridge goes with `down`; if dockerd died first, it stays behind.
  if [ -n "${ORCH_COMPOSE_BRIDGE:-}" ] && ip link show "$ORCH_COMPOSE_BRIDGE" >/dev/null 2>&1; then
    ip link delete "$ORCH_COMPOSE_BRIDGE" && echo "removed bridge $ORCH_COMPOSE_BRIDGE"
  fi
  unmount_under "$dir"
  # Its containers' cgroups (--cgroup-parent), children first; rmdir removes only empty groups.
  for group in /sys/fs/cgroup/*/"orch-compose-$project" /sys/fs/cgroup/"orch-compose-$project"; do
    [ -d "$group" ] && find "$group" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  # dockerd makes /run/docker whatever its exec root; remove it if it was ours alone.
  if [ -f "$dir/made-run-docker" ] && ! pgrep -x dockerd >/dev/null; then
    rm -rf /run/docker
  fi
  # Its containerd namespaces, emptied by `down` (containers) and dockerd (which keeps images in
  # its own data root, removed below).
  socket=${ORCH_OWN_DOCKERD_CONTAINERD:-}
  if [ -n "$socket" ] && ctr --address "$socket" version >/dev/null 2>&1; then
    for ns in "orch-compose-$project" "orch-compose-$project-plugins"; do
      ctr --address "$socket" namespaces remove "$ns" >/dev/null 2>&1 || true
    done
  fi
fi

if [ -n "${ORCH_OWN_CONTAINERD_PID:-}" ]; then
  dir=$state/containerd
  stop_pid "$ORCH_OWN_CONTAINERD_PID" 10
  echo "stopped containerd (pid $ORCH_OWN_CONTAINERD_PID)"
  # Shims outlive containerd by design; those started for our socket are ours to end.
  for pid in $(pgrep -f "containerd-shim.*-address $dir/containerd.sock" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  unmount_under "$dir"
fi

if [ -n "$(mounts_under "$state")" ]; then
  unmount_under "$state"
fi
for pid in ${ORCH_OWN_DOCKERD_PID:-} ${ORCH_OWN_CONTAINERD_PID:-}; do
  if kill -0 "$pid" 2>/dev/null; then
    echo "error: process $pid is still running" >&2
    leftovers=1
  fi
done
if [ -n "$(mounts_under "$state")" ]; then
  echo "error: still mounted under $state:" >&2
  mounts_under "$state" >&2
  leftovers=1
fi
if [ "$leftovers" = 0 ]; then
  rm -rf "$state"
  echo "removed $state"
fi
exit "$leftovers"
