#!/usr/bin/env bash
# Brings up Berth on this machine from a clone of the repo: builds the one executable, dist/berth (Node 24
# and the npm packages, from the npm registry, only as the build needs them), and runs `dist/berth up`,
# which installs the Debian packages and starts dockerd, the registry, Caddy and the Berth server, then
# prints the API URL and (on the first run only) the admin token. Last, the offline base images. Run it as
# root on Debian 12 or Ubuntu:
#
#   bash scripts/up.sh
#   BERTH_BINARY=/path/to/berth bash scripts/up.sh   # a berth built elsewhere: no Node, no build here
#
# It is idempotent: every step checks first and prints "[ok] ..." when there was nothing to do,
# "[changed] ..." when it did something. A second run changes nothing and says so.
# Server settings come from the environment (see README) and are saved in /etc/berth/berth.env.
# With systemd as PID 1 the services become systemd units; without it (containers, CI) they run
# as daemons with pid files in /run/berth, and scripts/down.sh stops them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root
cd "$BERTH_ROOT"
mkdir -p "$BERTH_LOG_DIR"

# What the build needs: python3, make and a C++ compiler for better-sqlite3 (node-gyp compiles it during
# `npm ci`: its prebuilt download needs the open internet), git for the commit stamp, and an npm to fetch
# Node 24 from the npm registry with. Any existing ones will do.
install_build_packages() {
  local missing=() tool pkg
  for tool in python3 make g++ git curl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  node24_ok || command -v npm >/dev/null || missing+=(nodejs npm)
  # binutils (and the aarch64 one): strip, for smaller executables; qemu's user mode and arm64's C libraries: the
  # bundle test runs dist/berth-linux-arm64 on this x64 machine.
  local packages=(ca-certificates binutils)
  [ "$(uname -m)" = x86_64 ] && packages+=(binutils-aarch64-linux-gnu qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)
  for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' || missing+=("$pkg")
  done
  if [ ${#missing[@]} = 0 ]; then
    ok "build tools installed (python3 make g++ git npm ${packages[*]})"
    return 0
  fi
  echo "      installing ${missing[*]} (apt-get, log in $BERTH_LOG_DIR/apt.log)"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >>"$BERTH_LOG_DIR/apt.log" 2>&1; then
    show_log_tail "$BERTH_LOG_DIR/apt.log"
    fail "apt-get install ${missing[*]} failed"
  fi
  changed "installed ${missing[*]}"
}

# ---------------------------------------------------------------------------------------------
# Node 24 and the build

install_node24() {
  if node24_ok; then
    ok "node $("$BERTH_NODE_DIR/bin/node" --version) in $BERTH_NODE_DIR"
    return 0
  fi
  local arch tmp
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) fail "no Node 24 package for $(uname -m)" ;;
  esac
  # The npm registry carries official Node builds as packages (node-linux-ARCH), which avoids
  # needing nodejs.org: only the registry and Debian's mirror are reachable from some machines.
  tmp=$(mktemp -d /tmp/berth-node.XXXXXX)
  if ! npm install --prefix "$tmp" --no-save --no-audit --no-fund "node-linux-$arch@24" \
      >>"$BERTH_LOG_DIR/node-install.log" 2>&1; then
    show_log_tail "$BERTH_LOG_DIR/node-install.log"
    fail "could not install node-linux-$arch@24 from the npm registry"
  fi
  [ -x "$tmp/node_modules/node-linux-$arch/bin/node" ] || fail "node-linux-$arch@24 has no bin/node"
  mkdir -p "$(dirname "$BERTH_NODE_DIR")"
  rm -rf "$BERTH_NODE_DIR.new"
  cp -a "$tmp/node_modules/node-linux-$arch" "$BERTH_NODE_DIR.new"
  rm -rf "$BERTH_NODE_DIR" "$tmp"
  mv "$BERTH_NODE_DIR.new" "$BERTH_NODE_DIR"
  node24_ok || fail "$BERTH_NODE_DIR/bin/node does not run as v24"
  changed "installed node $("$BERTH_NODE_DIR/bin/node" --version) into $BERTH_NODE_DIR"
}

# npm itself also comes from the registry, installed beside Node 24 as an official Node build
# has it. Other npms are not safe for `npm ci` here: Debian's npm ships a node-gyp patched to link
# native addons against Debian's own libnode, and better-sqlite3 built that way crashes Node 24.
npm11_ok() {
  [ -x "$BERTH_NODE_DIR/bin/npm" ] &&
    [[ "$("$BERTH_NODE_DIR/bin/node" "$BERTH_NODE_DIR/bin/npm" --version 2>/dev/null)" == 11.* ]]
}

install_npm11() {
  if npm11_ok; then
    ok "npm $("$BERTH_NODE_DIR/bin/node" "$BERTH_NODE_DIR/bin/npm" --version) in $BERTH_NODE_DIR"
    return 0
  fi
  # Run under Node 24: an older npm refuses to install an npm whose engines its own Node misses.
  if ! PATH="$BERTH_NODE_DIR/bin:$PATH" npm install --global --prefix "$BERTH_NODE_DIR" \
      --no-audit --no-fund npm@11 >>"$BERTH_LOG_DIR/node-install.log" 2>&1; then
    show_log_tail "$BERTH_LOG_DIR/node-install.log"
    fail "could not install npm@11 from the npm registry into $BERTH_NODE_DIR"
  fi
  npm11_ok || fail "$BERTH_NODE_DIR/bin/npm does not run as npm 11"
  changed "installed npm $("$BERTH_NODE_DIR/bin/node" "$BERTH_NODE_DIR/bin/npm" --version) into $BERTH_NODE_DIR"
}

# node_modules is current when every package of package-lock.json is installed at its locked
# version (npm records what it installed in node_modules/.package-lock.json) and the native
# SQLite addon loads in this Node. Checking beats running `npm ci` each time: that deletes and
# rebuilds node_modules (a minute or more, with a C++ compile).
deps_current() {
  [ -f package-lock.json ] && [ -f node_modules/.package-lock.json ] || return 1
  node -e '
    const fs = require("fs");
    const want = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages ?? {};
    const have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages ?? {};
    for (const [key, pkg] of Object.entries(want)) {
      if (key === "" || !key.startsWith("node_modules/")) continue;
      if (!have[key]) { if (pkg.optional) continue; process.exit(1); }   // other platforms only
      if (have[key].version !== pkg.version) process.exit(1);
    }
    const Database = require("better-sqlite3");
    new Database(":memory:").close();
  ' >/dev/null 2>&1
}

install_deps() {
  if deps_current; then
    ok "node_modules matches package-lock.json"
    return 0
  fi
  local cmd=(npm ci)
  [ -f package-lock.json ] || cmd=(npm install)
  echo "      ${cmd[*]} (log in $BERTH_LOG_DIR/npm.log)"
  # --include=dev: the build needs esbuild even when NODE_ENV=production is set.
  if ! "${cmd[@]}" --include=dev --no-audit --no-fund >>"$BERTH_LOG_DIR/npm.log" 2>&1; then
    show_log_tail "$BERTH_LOG_DIR/npm.log"
    fail "${cmd[*]} failed"
  fi
  deps_current || fail "node_modules still does not load better-sqlite3 after ${cmd[*]} (see $BERTH_LOG_DIR/npm.log)"
  changed "installed node_modules (${cmd[*]})"
}

BUILD_OUTPUTS=(dist/berth-server.mjs dist/berth.mjs dist/better_sqlite3.node dist/berth)

# The bundles are current when all exist and no source, build script, lockfile or native addon
# changed since the oldest of them was written.
build_current() {
  local out oldest
  for out in "${BUILD_OUTPUTS[@]}"; do [ -f "$out" ] || return 1; done
  oldest=$(ls -1tr "${BUILD_OUTPUTS[@]}" | head -n 1)
  [ -z "$(find src installer web scripts/build.mjs scripts/build-executable.mjs scripts/build-web.mjs package.json package-lock.json \
    node_modules/better-sqlite3/package.json \
    -newer "$oldest" -type f -print -quit 2>/dev/null)" ]
}

build() {
  if build_current; then
    ok "dist/ is up to date with src/"
    return 0
  fi
  if ! npm run --silent build >"$BERTH_LOG_DIR/build.log" 2>&1; then
    show_log_tail "$BERTH_LOG_DIR/build.log"
    fail "npm run build failed"
  fi
  changed "built dist/ ($(grep -o 'done in [0-9]* ms' "$BERTH_LOG_DIR/build.log" || echo 'npm run build'))"
}

# ---------------------------------------------------------------------------------------------
# Base images (debootstrap, no registry; after `berth up`, which installs docker.io and debootstrap): see
# scripts/base-images.sh

BASE_IMAGES=(berth/debian:bookworm berth/node:24 berth-test/hello:latest)

image_ids() {
  local image
  for image in "${BASE_IMAGES[@]}"; do
    "$DOCKER" image inspect --format '{{.Id}}' "$image" 2>/dev/null || echo missing
  done
}

ensure_base_images() {
  local before after
  before=$(image_ids)
  [[ "$before" == *missing* ]] && echo "      building base images (first time: debootstrap, a few minutes; log in $BERTH_LOG_DIR/base-images.log)"
  if ! bash scripts/base-images.sh >>"$BERTH_LOG_DIR/base-images.log" 2>&1; then
    show_log_tail "$BERTH_LOG_DIR/base-images.log"
    fail "scripts/base-images.sh failed"
  fi
  after=$(image_ids)
  if [ "$before" = "$after" ]; then
    ok "base images present (${BASE_IMAGES[*]})"
  else
    changed "built base images (${BASE_IMAGES[*]})"
  fi
}

# ---------------------------------------------------------------------------------------------

main() {
  local berth
  if [ -n "${BERTH_BINARY:-}" ]; then
    [ -f "$BERTH_BINARY" ] && [ -x "$BERTH_BINARY" ] || fail "BERTH_BINARY=$BERTH_BINARY is not an executable file"
    berth=$BERTH_BINARY
    ok "using $berth (BERTH_BINARY): nothing to build"
  else
    install_build_packages
    install_node24
    install_npm11
    use_node24
    install_deps
    build
    berth=$BERTH_ROOT/dist/berth
  fi
  # berth up installs itself as /usr/local/bin/berth (the CLI, and what the server's unit runs).
  "$berth" up
  ensure_base_images
}

main "$@"
