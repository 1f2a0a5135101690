#!/usr/bin/env bash
# Brings up Berth on this machine: packages, Node 24, the build, Docker, the registry, Caddy and
# the Berth server, then prints the API URL and (on the first run only) the admin token. Run it as root on Debian 12 or
# Ubuntu from a clone of the repo:
#
#   bash scripts/up.sh
#
# It is idempotent: every step checks first and prints "[ok] ..." when there was nothing to do,
# "[changed] ..." when it did something. A second run changes nothing and says so.
# Server settings come from the environment (see README) and are saved in /etc/berth/berth.env.
# With systemd as PID 1 the services become systemd units; without it (containers, CI) they run
# under nohup with pid files in /run/berth, and scripts/down.sh stops them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/up-services.sh"
require_root
cd "$BERTH_ROOT"
mkdir -p "$BERTH_LOG_DIR" "$BERTH_RUN_DIR" "$BERTH_ETC_DIR" "$BERTH_DATA_DIR"
up_started=$(date +%s)

REGISTRY_ADDR=127.0.0.1:5000
# The server reaches the Caddy started here on its admin socket (lib.sh); an address set by hand to another
# Caddy is kept, the old default (TCP port 2019, reachable from every container and app) is not.
case "${BERTH_CADDY_ADMIN:-}" in
  '' | http://127.0.0.1:2019 | http://localhost:2019) export BERTH_CADDY_ADMIN="unix:$CADDY_ADMIN_SOCK" ;;
esac
# The API as reached from this machine: on loopback unless it listens on one address only. Other machines
# reach it through Caddy, over TLS, at API_TLS_URL (BERTH_API_HOST_NAME).
api_host=${BERTH_API_HOST:-127.0.0.1}
case "$api_host" in
  0.0.0.0 | :: | "[::]") API_URL="http://127.0.0.1:$BERTH_API_PORT" ;;
  *:*) API_URL="http://[$(tr -d '[]' <<<"$api_host")]:$BERTH_API_PORT" ;;   # IPv6
  *) API_URL="http://$api_host:$BERTH_API_PORT" ;;
esac
HEALTH_URL="$API_URL/api/v1/health"
API_TLS_URL="https://${BERTH_API_HOST_NAME-berth.${BERTH_DOMAIN:-localhost}}$([ "${BERTH_HTTPS_PORT:-443}" = 443 ] || echo ":$BERTH_HTTPS_PORT")"
APT_PACKAGES=(docker.io caddy docker-registry git debootstrap ca-certificates curl openssh-client chromium dnsmasq-base pebble)  # ssh: hosts:add; chromium: the web console tests; dnsmasq: the app DNS; pebble: the ACME CA the HTTPS tests run (never as a service)

# Set (to the reason) by steps whose change means a running Berth server must be restarted.
server_stale=""

# ---------------------------------------------------------------------------------------------
# Packages

dpkg_installed() {
  dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'
}

# Debian's packages start their services from postinst (caddy on :80 and :2019, docker-registry
# on :5000, with the distribution's configs). Berth runs its own instances with its own configs,
# so while apt installs, a policy-rc.d that says "don't start services" is put in place, unless
# the machine already has one.
apt_install() {
  local held=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# Temporary, from Berth scripts/up.sh: no service starts during apt-get install.\nexit 101\n' \
      >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    held=1
    # Left behind, it would keep every later package install on this machine from starting its
    # service, so it goes even when this script is interrupted.
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT INT TERM
  fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
  } >>"$BERTH_LOG_DIR/apt.log" 2>&1 || rc=$?
  if [ -n "$held" ]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT INT TERM
  fi
  if [ "$rc" != 0 ]; then
    show_log_tail "$BERTH_LOG_DIR/apt.log"
    fail "apt-get install $* failed"
  fi
}

install_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg_installed "$pkg" || missing+=("$pkg")
  done
  # better-sqlite3 is compiled by node-gyp during `npm ci` (its prebuilt download needs the open
  # internet), which needs python3, make and a C++ compiler. Any existing ones will do.
  command -v python3 >/dev/null || missing+=(python3)
  command -v make >/dev/null || missing+=(make)
  command -v g++ >/dev/null || missing+=(g++)
  # npm only bootstraps: it fetches Node 24 from the npm registry in the next step.
  command -v npm >/dev/null || missing+=(nodejs npm)

  if [ ${#missing[@]} = 0 ]; then
    ok "packages installed (${APT_PACKAGES[*]})"
    return 0
  fi
  echo "      installing ${missing[*]} (apt-get, log in $BERTH_LOG_DIR/apt.log)"
  apt_install "${missing[@]}"
  changed "installed ${missing[*]}"
}

# With systemd, the distribution's own caddy and docker-registry units would take the ports
# Berth's units need (and serve the wrong config), so they are switched off.
disable_distro_units() {
  has_systemd || return 0
  local unit
  for unit in caddy.service docker-registry.service; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
      systemctl disable --now "$unit" >/dev/null 2>&1 || true
      changed "disabled the distribution's $unit (Berth runs its own)"
    fi
  done
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
  [ -z "$(find src scripts/build.mjs scripts/build-executable.mjs scripts/build-web.mjs package.json package-lock.json \
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
  server_stale="new build"
  changed "built dist/ ($(grep -o 'done in [0-9]* ms' "$BERTH_LOG_DIR/build.log" || echo 'npm run build'))"
}

# ---------------------------------------------------------------------------------------------
# Docker

# Berth pushes release images to its registry on 127.0.0.1:5000 over plain HTTP. dockerd allows
# that for 127.0.0.0/8 without configuration; this only acts on an engine set up otherwise.
check_insecure_registry() {
  local cidrs
  cidrs=$("$DOCKER" info --format '{{json .RegistryConfig.InsecureRegistryCIDRs}}' 2>/dev/null || true)
  if [[ "$cidrs" == *'"127.0.0.0/8"'* ]]; then
    ok "dockerd accepts the plain-HTTP registry $REGISTRY_ADDR (127.0.0.0/8 is insecure by default)"
    return 0
  fi
  node -e '
    const fs = require("fs"), f = "/etc/docker/daemon.json";
    const conf = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8")) : {};
    conf["insecure-registries"] = [...new Set([...(conf["insecure-registries"] ?? []), process.argv[1]])];
    fs.mkdirSync("/etc/docker", { recursive: true });
    fs.writeFileSync(f, JSON.stringify(conf, null, 2) + "\n");
  ' "$REGISTRY_ADDR"
  changed "added $REGISTRY_ADDR to insecure-registries in /etc/docker/daemon.json"
  # Restarting dockerd would stop every running app, so that is left to the operator.
  warn "restart dockerd when convenient so it reads /etc/docker/daemon.json"
}

# ---------------------------------------------------------------------------------------------
# Base images (debootstrap, no registry): see scripts/base-images.sh

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

# The admin token is printed here, once: the server keeps only its hash, never writes it to a file or
# its log. `issue-admin-token --if-none` opens the database directly (root only) and prints a new admin
# token only while the admin has none; later runs say how to get another.
issue_admin_token() {
  ADMIN_TOKEN=$("$BERTH_NODE_DIR/bin/node" "$BERTH_ROOT/dist/berth-server.mjs" issue-admin-token --if-none) \
    || fail "could not issue the admin token (berth-server.mjs issue-admin-token)"
  if [ -n "$ADMIN_TOKEN" ]; then
    changed "issued the admin token (printed below, once)"
  else
    ok "the admin already has a token"
  fi
}

print_next_steps() {
  local token="$ADMIN_TOKEN" new_token_cmd="BERTH_DATA_DIR=$BERTH_DATA_DIR $BERTH_NODE_DIR/bin/node $BERTH_ROOT/dist/berth-server.mjs issue-admin-token"
  cat <<EOF

Berth is up.
  API:   $API_URL   (health: $HEALTH_URL; on this machine only)
  TLS:   $API_TLS_URL   (the API, console and git through Caddy, for other machines)
  Keys:  back up $BERTH_DATA_DIR/secrets.key with berth.db: config values cannot be read without it
  Token: ${token:-"(issued on the first run; a new one: sudo $new_token_cmd)"}
  Logs:  $( has_systemd && echo "journalctl -u berth" || echo "$BERTH_LOG_DIR/server.log" )

Next:
  berth login --api $API_URL --token ${token:-TOKEN}
  berth apps:create hello
  berth deploy hello --image berth-test/hello:latest
EOF
  [ -z "$token" ] || echo "The token is shown only now: Berth keeps no copy. Revoke it with: berth tokens:revoke ID (see berth tokens)."
}

main() {
  install_packages
  disable_distro_units
  install_node24
  install_npm11
  use_node24
  install_deps
  build
  ensure_dockerd
  check_insecure_registry
  ensure_registry
  ensure_caddy
  write_server_env
  ensure_server
  install_cli_wrapper
  ensure_base_images
  issue_admin_token

  local took=$(( $(date +%s) - up_started ))
  if [ "$CHANGES" = 0 ]; then
    echo "[ok] nothing changed: Berth was already up (${took}s)"
  else
    echo "[done] $CHANGES step(s) changed something (${took}s)"
  fi
  print_next_steps
}

main "$@"
