#!/usr/bin/env bash
# Base images for the local container checks, made without an image registry:
#   localhost/debian:bookworm-min     debootstrap --variant=minbase, then `podman import`
#   localhost/residency-python:3.11   python3 (3.11) + pip on that base, standing in for python:3.11-slim
# Idempotent: an image that exists is kept (remove it with `podman rmi` to rebuild).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
say() { printf '[base-image] %s\n' "$*" >&2; }

if ! podman image exists localhost/debian:bookworm-min; then
  rootfs="$(mktemp -d /tmp/residency-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  say "debootstrap bookworm (minbase) from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$rootfs.log" 2>&1 \
    || { tail -n 20 "$rootfs.log" >&2; exit 1; }
  # Without PATH in the image's config, `podman kube play` cannot find `sh`.
  tar -C "$rootfs" -c . | podman import -q \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - localhost/debian:bookworm-min
  rm -f "$rootfs.log"
fi
if ! podman image exists localhost/residency-python:3.11; then
  say "building localhost/residency-python:3.11"
  podman build -q -t localhost/residency-python:3.11 "$root/deploy/podman/python-base"
fi
say "ready: localhost/debian:bookworm-min, localhost/residency-python:3.11"
