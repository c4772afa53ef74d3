#!/usr/bin/env bash
# Builds the test image "localhost/busybox:test" without any registry: a root filesystem made of
# Debian's busybox-static (/bin/busybox plus a symlink per applet: sh, httpd, nc, sleep, wget ...),
# packed as an OCI image layout tarball, then (optionally) imported into containerd.
#
# usage: build-test-image.sh OUT_DIR [CTR_ADDRESS CTR_NAMESPACE]
#   OUT_DIR/busybox-oci.tar     the OCI image tarball (for `ctr images import`)
#   OUT_DIR/busybox-rootfs.tar  the root filesystem alone (for `docker import`)
# With CTR_ADDRESS and CTR_NAMESPACE it also runs
#   ctr --address CTR_ADDRESS -n CTR_NAMESPACE images import OUT_DIR/busybox-oci.tar
#
# The output is reproducible (fixed mtimes and owners, sorted entries), so the image digest is
# the same on every machine with the same busybox-static.
set -euo pipefail

IMAGE_NAME="${IMAGE_NAME:-localhost/busybox:test}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"

if [[ $# -lt 1 ]]; then
    echo "usage: $0 OUT_DIR [CTR_ADDRESS CTR_NAMESPACE]" >&2
    exit 2
fi
out="$1"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if ! "$BUSYBOX" --list >/dev/null 2>&1; then
    echo "$BUSYBOX is not a working busybox; install Debian's busybox-static (apt-get install busybox-static)" >&2
    exit 1
fi
# A dynamically linked busybox would need the host's libc inside the image.
if command -v ldd >/dev/null && ldd "$BUSYBOX" 2>/dev/null | grep -q '=>'; then
    echo "$BUSYBOX is dynamically linked; the image needs the static one (busybox-static)" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,var/www,root,home}
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
    [[ "$applet" == busybox ]] && continue
    ln -s busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo "hello from busybox httpd" > "$root/var/www/index.html"

# The layer: an uncompressed, reproducible tar of the root filesystem.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$root" -cf "$out/busybox-rootfs.tar" .

oci="$work/oci"
mkdir -p "$oci/blobs/sha256"
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

layer_digest="$(sha "$out/busybox-rootfs.tar")"
cp "$out/busybox-rootfs.tar" "$oci/blobs/sha256/$layer_digest"
layer_size="$(size "$out/busybox-rootfs.tar")"

arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
printf '%s' "{\"architecture\":\"$arch\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"sh\"],\"WorkingDir\":\"/\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$layer_digest\"]},\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"scripts/build-test-image.sh (busybox-static)\"}],\"created\":\"1970-01-01T00:00:00Z\"}" > "$work/config.json"
config_digest="$(sha "$work/config.json")"
config_size="$(size "$work/config.json")"
cp "$work/config.json" "$oci/blobs/sha256/$config_digest"

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_digest\",\"size\":$config_size},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$layer_digest\",\"size\":$layer_size}]}" > "$work/manifest.json"
manifest_digest="$(sha "$work/manifest.json")"
manifest_size="$(size "$work/manifest.json")"
cp "$work/manifest.json" "$oci/blobs/sha256/$manifest_digest"

# io.containerd.image.name gives containerd the full name; org.opencontainers.image.ref.name is
# the OCI tag for other tools.
printf '%s' "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$manifest_digest\",\"size\":$manifest_size,\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"},\"annotations\":{\"io.containerd.image.name\":\"$IMAGE_NAME\",\"org.opencontainers.image.ref.name\":\"${IMAGE_NAME##*:}\"}}]}" > "$oci/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' > "$oci/oci-layout"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$oci" -cf "$out/busybox-oci.tar" oci-layout index.json blobs

if [[ $# -ge 3 ]]; then
    ctr --address "$2" -n "$3" images import "$out/busybox-oci.tar" >/dev/null
    ctr --address "$2" -n "$3" images ls -q | grep -qx "$IMAGE_NAME" || {
        echo "importing $out/busybox-oci.tar did not produce $IMAGE_NAME in namespace $3" >&2
        exit 1
    }
fi
echo "$IMAGE_NAME"
