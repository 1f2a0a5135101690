#!/usr/bin/env bash
# Builds the base images Berth's tests (and air-gapped installs) need, from Debian packages only:
#   berth/debian:bookworm  debootstrap --variant=minbase, imported with `docker import`
#   berth/node:24          the Debian image plus the Node.js 24 runtime Berth itself runs on, and npm
#                          (the builder's node stack runs `npm ci` in it)
#   berth/python:3         the Debian image plus Debian's python3, venv and pip (the python stack)
#   berth/go:1             the Debian image plus Debian's Go toolchain (the go stack compiles there;
#                          the binaries then run on berth/debian:bookworm)
#   berth/postgres:15, berth/redis:7, berth/mariadb:10
#                          data services (berth addons:create) from Debian's postgresql-15, redis-server
#                          and mariadb-server; entrypoint and health check in scripts/service-images/
#   berth-test/hello       a tiny HTTP app used by the integration tests
# No image registry is contacted; npm's tarball comes from the npm registry (`npm pack`), once.
# The debootstrap and npm tarballs are cached so a rerun takes seconds.
set -euo pipefail
CACHE_DIR=${BERTH_CACHE_DIR:-/var/cache/berth}
MIRROR=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
NODE_DIR=${BERTH_NODE_DIR:-/opt/berth/node}
DOCKER=${DOCKER:-/usr/bin/docker}
NPM_SPEC=${BERTH_IMAGE_NPM:-npm@11}
COREPACK_SPEC=${BERTH_IMAGE_COREPACK:-corepack@0}
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

# A package's tarball from the npm registry, fetched once per spec into the cache (npm and corepack
# bundle all their dependencies). Prints the cached path; prints nothing when it cannot be had.
pack_once() {
  local spec=$1 fallback=${2:-} tgz pack_dir
  tgz="$CACHE_DIR/$(printf '%s' "$spec" | tr -c 'A-Za-z0-9.-' '_').tgz"
  if [ ! -s "$tgz" ]; then
    echo "base-images: npm pack $spec" >&2
    pack_dir=$(mktemp -d /tmp/berth-npm-pack.XXXXXX)
    if (cd "$pack_dir" && PATH="$NODE_DIR/bin:$PATH" npm pack --silent "$spec" >/dev/null 2>&1); then
      mv "$pack_dir"/*.tgz "$tgz"
    elif [ -n "$fallback" ] && [ -f "$NODE_DIR/lib/node_modules/$fallback/package.json" ]; then
      # No npm registry (air-gapped): the copy installed beside Node, packed the way npm packs it.
      echo "base-images: npm pack failed; using $NODE_DIR/lib/node_modules/$fallback instead" >&2
      tar -czf "$tgz" -C "$NODE_DIR/lib/node_modules" --transform "s,^$fallback,package," "$fallback"
    fi
    rm -rf "$pack_dir"
  fi
  [ -s "$tgz" ] && echo "$tgz"
  return 0
}

npm_tgz=$(pack_once "$NPM_SPEC" npm)
[ -n "$npm_tgz" ] || { echo "base-images: cannot get npm ($NPM_SPEC) for berth/node:24" >&2; exit 1; }
# corepack runs yarn and pnpm projects; without it (offline, first run) those apps fail with a clear message.
corepack_tgz=$(pack_once "$COREPACK_SPEC")

# The label records what went into the image, so a new node binary or npm tarball rebuilds it,
# and so does an image from before npm was added (it has no label). Bump the recipe number
# whenever the Dockerfile below changes, so existing images are rebuilt.
node_stack="recipe 2, node $("$NODE_DIR/bin/node" --version), $NPM_SPEC ($(cksum <"$npm_tgz" | cut -d' ' -f1))"
[ -z "$corepack_tgz" ] || node_stack="$node_stack, $COREPACK_SPEC ($(cksum <"$corepack_tgz" | cut -d' ' -f1))"
if [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "berth.stack"}}' berth/node:24 2>/dev/null)" != "$node_stack" ]; then
  echo "base-images: berth/node:24 from $NODE_DIR with $NPM_SPEC"
  ctx=$(mktemp -d /tmp/berth-node.XXXXXX)
  cp "$NODE_DIR/bin/node" "$ctx/node"
  mkdir "$ctx/npm"
  tar -xzf "$npm_tgz" -C "$ctx/npm" --strip-components=1 --no-same-owner
  mkdir "$ctx/corepack"
  [ -z "$corepack_tgz" ] || tar -xzf "$corepack_tgz" -C "$ctx/corepack" --strip-components=1 --no-same-owner
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM berth/debian:bookworm
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY corepack /usr/local/lib/node_modules/corepack
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && if [ -f /usr/local/lib/node_modules/corepack/package.json ]; then \\
      ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack && corepack --version >/dev/null; \\
    else rm -rf /usr/local/lib/node_modules/corepack; fi \\
 && npm --version >/dev/null
# corepack uses the yarn/pnpm versions it ships pinned hashes for, not "latest" (reproducible builds,
# and corepack 0.x cannot verify the registry's newest signing keys).
ENV NODE_ENV=production NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false COREPACK_DEFAULT_TO_LATEST=0 COREPACK_ENABLE_DOWNLOAD_PROMPT=0
LABEL berth.stack="$node_stack"
CMD ["node"]
DOCKERFILE
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t berth/node:24 "$ctx" >/dev/null
  rm -rf "$ctx"
fi

# Language stacks: Debian packages installed by apt inside `docker build`, from the mirror the
# Debian image was bootstrapped from. The label is the recipe's checksum, so an unchanged recipe
# is never rebuilt. A failure is reported but does not stop the other images: only that
# language's builds need the stack.
apt_stack() {
  local image=$1 packages=$2 recipe label ctx
  recipe="FROM berth/debian:bookworm
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages \\
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*"
  # The base image's id too: a re-imported Debian image rebuilds the stacks on it.
  label="apt: $packages ($(printf '%s %s' "$recipe" "$("$DOCKER" image inspect -f '{{.Id}}' berth/debian:bookworm)" | cksum | cut -d' ' -f1))"
  [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "berth.stack"}}' "$image" 2>/dev/null)" != "$label" ] || return 0
  echo "base-images: $image with apt-get install $packages"
  ctx=$(mktemp -d /tmp/berth-stack.XXXXXX)
  printf '%s\nLABEL berth.stack="%s"\n' "$recipe" "$label" >"$ctx/Dockerfile"
  if ! DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$image" "$ctx" >"$ctx/build.log" 2>&1; then
    tail -20 "$ctx/build.log" >&2
    echo "base-images: WARNING: could not build $image; apps of that language cannot be built until it exists" >&2
    stack_failed="$stack_failed $image"
  fi
  rm -rf "$ctx"
}
stack_failed=""
apt_stack berth/python:3 "python3 python3-venv python3-pip ca-certificates"
apt_stack berth/go:1 "golang-go ca-certificates git"

# Data services (berth addons:create): Debian's server packages, an entrypoint that initialises the data dir
# on the volume mounted at /data and takes its credentials from the environment, and a health check
# (berth-ready, also what Berth runs to know the service accepts connections). /data belongs to the service's
# user in the image, so a new named volume starts out owned by it and the server never runs as root.
service_image() {
  local image=$1 packages=$2 user=$3 scripts=$4 recipe label ctx
  recipe="FROM berth/debian:bookworm
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages \\
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /var/lib/postgresql/*/main /etc/postgresql/*/main \\
 && mkdir -p /data && chown $user:$user /data
COPY entrypoint.sh /usr/local/bin/berth-service
COPY ready.sh /usr/local/bin/berth-ready
USER $user
ENV LANG=C.UTF-8
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s CMD [\"/usr/local/bin/berth-ready\"]
ENTRYPOINT [\"/usr/local/bin/berth-service\"]"
  label="service: $packages ($(printf '%s %s' "$recipe" "$("$DOCKER" image inspect -f '{{.Id}}' berth/debian:bookworm)" \
    | cat - "$here/scripts/service-images/$scripts-entrypoint.sh" "$here/scripts/service-images/$scripts-ready.sh" | cksum | cut -d' ' -f1))"
  [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "berth.stack"}}' "$image" 2>/dev/null)" != "$label" ] || return 0
  echo "base-images: $image with apt-get install $packages"
  ctx=$(mktemp -d /tmp/berth-service.XXXXXX)
  printf '%s\nLABEL berth.stack="%s"\n' "$recipe" "$label" >"$ctx/Dockerfile"
  cp "$here/scripts/service-images/$scripts-entrypoint.sh" "$ctx/entrypoint.sh"
  cp "$here/scripts/service-images/$scripts-ready.sh" "$ctx/ready.sh"
  chmod 755 "$ctx/entrypoint.sh" "$ctx/ready.sh"
  if ! DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$image" "$ctx" >"$ctx/build.log" 2>&1; then
    tail -20 "$ctx/build.log" >&2
    echo "base-images: WARNING: could not build $image; addons:create of that kind fails until it exists" >&2
    stack_failed="$stack_failed $image"
  fi
  rm -rf "$ctx"
}
# Debian 12's versions: PostgreSQL 15, Redis 7.0, MariaDB 10.11.
service_image berth/postgres:15 "postgresql-15" postgres postgres
service_image berth/redis:7 "redis-server" redis redis
service_image berth/mariadb:10 "mariadb-server mariadb-client" mysql mariadb

# The test app changes with the repo, so it is rebuilt every time (cached layers make it ~1 s).
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t berth-test/hello:latest "$here/test/fixtures/hello" >/dev/null
echo "base-images: ready (berth/debian:bookworm, berth/node:24, berth/python:3, berth/go:1, berth/postgres:15, berth/redis:7, berth/mariadb:10, berth-test/hello:latest)${stack_failed:+; missing:$stack_failed}"
