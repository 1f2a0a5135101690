#!/usr/bin/env bash
# Builds the base images Berth's tests (and air-gapped installs) need, from Debian packages only:
#   berth/debian:bookworm  debootstrap --variant=minbase, imported with `docker import`
#   berth/node:24          the Debian image plus the Node.js 24 runtime Berth itself runs on
#   berth-test/hello       a tiny HTTP app used by the integration tests
# No registry is contacted. The debootstrap tarball is cached so a rerun takes seconds.
set -euo pipefail
CACHE_DIR=${BERTH_CACHE_DIR:-/var/cache/berth}
MIRROR=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
NODE_DIR=${BERTH_NODE_DIR:-/opt/berth/node}
DOCKER=${DOCKER:-/usr/bin/docker}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$CACHE_DIR"

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

tarball="$CACHE_DIR/bookworm-minbase.tar"
if ! have_image berth/debian:bookworm; then
  if [ ! -s "$tarball" ]; then
    echo "base-images: debootstrap bookworm (minbase) from $MIRROR"
    rootfs=$(mktemp -d /tmp/berth-rootfs.XXXXXX)
    debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE_DIR/debootstrap.log"; exit 1; }
    # Trim what a container never needs; keep apt working for later stack builds.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  echo "base-images: docker import berth/debian:bookworm"
  "$DOCKER" import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' "$tarball" berth/debian:bookworm >/dev/null
fi

if ! have_image berth/node:24; then
  echo "base-images: berth/node:24 from $NODE_DIR"
  ctx=$(mktemp -d /tmp/berth-node.XXXXXX)
  cp "$NODE_DIR/bin/node" "$ctx/node"
  printf 'FROM berth/debian:bookworm\nCOPY node /usr/local/bin/node\nENV NODE_ENV=production\nCMD ["node"]\n' >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t berth/node:24 "$ctx" >/dev/null
  rm -rf "$ctx"
fi

# The test app changes with the repo, so it is rebuilt every time (cached layers make it ~1 s).
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t berth-test/hello:latest "$here/test/fixtures/hello" >/dev/null
echo "base-images: ready (berth/debian:bookworm, berth/node:24, berth-test/hello:latest)"
