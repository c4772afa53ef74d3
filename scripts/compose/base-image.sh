#!/usr/bin/env bash
# Builds, or finds in the cache, the root file system of the base image the compose cluster uses
# where no container registry is reachable: a minimal Debian 12 made with debootstrap (which
# needs only Debian's mirror), with what the silo needs at run time (the .NET runtime-deps
# libraries), what a node needs (containerd, runc, CNI plugins, iptables, iproute2, util-linux),
# and Redis and PostgreSQL, which stand in for their official images.
#
# usage: base-image.sh    prints the path of the tarball (for `docker import`)
#
# The tarball is kept in ORCH_COMPOSE_CACHE (default /var/cache/orchestrator/compose), named by
# a hash of this recipe, so it is built once per machine (about a minute with a nearby mirror)
# and rebuilt only when the recipe changes. Concurrent runs wait for each other (flock).
# ORCH_DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org/debian).
set -euo pipefail

cache=${ORCH_COMPOSE_CACHE:-/var/cache/orchestrator/compose}
mirror=${ORCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
packages=(
  # .NET runtime-deps (glibc, libgcc, libstdc++ and zlib come with minbase)
  ca-certificates libssl3 tzdata
  # a node
  containerd runc containernetworking-plugins iptables iproute2 util-linux
  # stand-ins for the official redis and postgres images
  redis-server postgresql-15
)
# Bump when the steps below change in a way the package list does not show.
recipe_version=1

recipe="$suite minbase ${packages[*]} v$recipe_version"
key=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
tarball=$cache/debian-$suite-$key.tar

if [ -s "$tarball" ]; then
  echo "$tarball"
  exit 0
fi

fail() {
  echo "error: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "building the base image runs debootstrap, which needs root"
missing=()
for c in debootstrap curl flock findmnt; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
[ ${#missing[@]} -eq 0 ] || fail "building the base image needs ${missing[*]}: apt-get install debootstrap curl util-linux"
if ! curl -sfI --max-time 15 "$mirror/dists/$suite/Release" >/dev/null; then
  fail "building the base image needs Debian's mirror, and $mirror/dists/$suite/Release did not answer within 15 s. Set ORCH_DEBIAN_MIRROR to a reachable mirror, or put a root file system tarball at $tarball."
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
# Another run may have built it while we waited for the lock.
if [ -s "$tarball" ]; then
  echo "$tarball"
  exit 0
fi

work=$(mktemp -d "$cache/build.XXXXXX")
cleanup() {
  # debootstrap mounts /proc and /sys in the target and leaves them mounted when it fails.
  findmnt -rn -o TARGET | awk -v root="$work" 'index($0, root "/") == 1' | sort -r | while read -r target; do
    umount --lazy "$target" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

echo "building the base image's root file system with debootstrap ($suite from $mirror; log in $work/debootstrap.log)..." >&2
include=$(IFS=,; echo "${packages[*]}")
# About a minute from deb.debian.org on the development machines; the limit ends it well within
# the compose test's 10 minutes, so that no debootstrap outlives a test that gave up.
if ! timeout 420 debootstrap --variant=minbase --include="$include" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 20 "$work/debootstrap.log" >&2
  fail "debootstrap failed (or took more than 7 minutes); the lines above are the end of its log"
fi

rootfs=$work/rootfs
# What an image does not need: downloaded packages, package lists, documentation, and the
# build machine's identity (Docker provides hostname and resolv.conf).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc "$rootfs"/usr/share/man "$rootfs"/usr/share/info "$rootfs"/usr/share/locale \
  "$rootfs"/etc/hostname "$rootfs"/etc/resolv.conf
tar --numeric-owner --one-file-system -C "$rootfs" -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$tarball"
echo "cached $tarball ($(du -h "$tarball" | cut -f1))" >&2
echo "$tarball"
