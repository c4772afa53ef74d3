#!/usr/bin/env bash
# Installs what Orchestrator needs to build, run and test on Debian 12, from Debian's own
# packages. Idempotent: packages already present are left alone. Run as root.
set -euo pipefail

packages=(
  ca-certificates
  curl
  iproute2
  procps
  sqlite3
  util-linux
  # node agents: containers, pod networking, service routing, the test image
  containerd
  runc
  containernetworking-plugins
  iptables
  busybox-static
  socat
  # the cluster profile's stores (the tests start their own instances)
  redis-server
  postgresql
  # the docker-compose cluster (scripts/compose-up.sh and its test start their own dockerd); its
  # base image is a Debian root file system made with debootstrap, as no registry is reachable
  docker.io
  docker-compose
  debootstrap
  python3
)

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET SDK 10 is not installed (dotnet is not on PATH)." >&2
  echo "       Install it from https://dotnet.microsoft.com/download and run this again." >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packages must not start services here (there may be no init system to manage them):
  # Orchestrator's scripts and tests start what they need themselves.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
