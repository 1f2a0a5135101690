# Sourced by scripts/up.sh: the long-running services it brings up (registry, Caddy, the Berth server)
# and the CLI wrapper, each an idempotent step that checks, changes if needed, and reports ok/changed.
# shellcheck shell=bash

# ---------------------------------------------------------------------------------------------
# Services: registry, Caddy, Berth server

# Writes /etc/systemd/system/NAME.service from stdin; enables and (re)starts it as needed.
#   ensure_unit NAME [RESTART]   (RESTART non-empty, e.g. "new build": restart it if running)
ensure_unit() {
  local name=$1 force=${2:-} file="/etc/systemd/system/$1.service" unit_changed=""
  if write_if_changed "$file"; then
    systemctl daemon-reload
    unit_changed=1
  fi
  if ! systemctl is-active --quiet "$name"; then
    systemctl enable --now "$name" >/dev/null 2>&1 || true
    changed "started $name (systemd)"
  elif [ -n "$unit_changed$force" ]; then
    systemctl enable "$name" >/dev/null 2>&1 || true
    systemctl restart "$name"
    changed "restarted $name (systemd) for the ${force:-new unit file}"
  else
    ok "$name running (systemd)"
  fi
}

# Without systemd: starts a daemon unless URL already answers. A daemon Berth started (its pid
# file is alive) is restarted when RESTART is non-empty: it names what changed ("new config").
#   ensure_daemon NAME URL PIDFILE WORD RESTART command args...
ensure_daemon() {
  local name=$1 url=$2 pidfile=$3 word=$4 restart=$5; shift 5
  local log="$BERTH_LOG_DIR/$name.log" action="started $name"
  if url_ok "$url"; then
    if [ -z "$restart" ]; then
      ok "$name running ($url answers)"
      return 0
    fi
    if ! pid_alive "$pidfile" "$word"; then
      warn "$name: something Berth did not start answers $url; its new config is not applied"
      return 0
    fi
    terminate_pidfile "$name" "$pidfile" "$word" || true
    action="restarted $name for the $restart"
  elif pid_alive "$pidfile" "$word"; then
    # Started by an earlier run but not answering: give it a moment, then replace it.
    if wait_for_url "$url" 20; then ok "$name running ($url answers)"; return 0; fi
    terminate_pidfile "$name" "$pidfile" "$word" || true
  fi
  start_daemon "$pidfile" "$log" "$@"
  if ! wait_until 120 daemon_settled "$url" "$pidfile" "$word" || ! url_ok "$url"; then
    show_log_tail "$log" 40
    fail "$name did not come up: $url does not answer (log: $log)"
  fi
  changed "$action (pid $(cat "$pidfile"), log $log)"
}

# Done waiting when the URL answers or the process has died (no point waiting for a corpse).
daemon_settled() {
  url_ok "$1" || ! pid_alive "$2" "$3"
}

# Beyond loopback (BERTH_REGISTRY_LISTEN on another address, so other hosts can pull) anyone on that
# network could list, pull and delete every app's images: the registry then requires Berth's credential.
# BERTH_REGISTRY_AUTH=on|off overrides the choice (auto).
registry_needs_auth() {
  case "${BERTH_REGISTRY_AUTH:-auto}" in
    on) return 0 ;;
    off) return 1 ;;
    auto) ;;
    *) fail "BERTH_REGISTRY_AUTH must be auto, on or off, not \"$BERTH_REGISTRY_AUTH\"" ;;
  esac
  local host=${BERTH_REGISTRY_LISTEN:-$REGISTRY_ADDR}
  host=${host%:*}
  host=${host#[}
  host=${host%]}
  case $host in
    127.* | ::1 | localhost) return 1 ;;
    *) return 0 ;;   # a named address, or none at all (":5000": every interface)
  esac
}

ensure_registry() {
  local config="$BERTH_ETC_DIR/registry.yml" config_changed="" auth=""
  local htpasswd="$BERTH_ETC_DIR/registry.htpasswd"
  mkdir -p "$BERTH_DATA_DIR/registry"
  if registry_needs_auth; then
    # The server's registry-auth makes Berth's credential once (BERTH_DATA_DIR/registry-credential, 0600;
    # the server presents it on pushes, prunes and hosts' pulls) and writes its bcrypt line for the registry.
    local made
    made=$("$BERTH_NODE_DIR/bin/node" "${BERTH_SERVER_ENTRY:-$BERTH_ROOT/dist/berth-server.mjs}" registry-auth "$htpasswd") ||
      fail "could not make the registry's credential"
    if [ "$made" = changed ]; then
      changed "wrote $htpasswd (Berth's registry credential)"
      config_changed="new credential"
    fi
    auth=$'auth:\n  htpasswd:\n    realm: berth-registry\n    path: '"$htpasswd"
  fi
  # CNCF distribution config: images live under the data dir; loopback only unless other hosts pull
  # from it (BERTH_REGISTRY_LISTEN, e.g. the private network's address); deleting lets Berth clean up
  # old releases' images.
  {
    cat <<EOF
# Written by Berth's scripts/up.sh; rewritten on the next run.
version: 0.1
log:
  level: info
  fields:
    service: berth-registry
storage:
  filesystem:
    rootdirectory: $BERTH_DATA_DIR/registry
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: ${BERTH_REGISTRY_LISTEN:-$REGISTRY_ADDR}
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if [ -n "$auth" ]; then printf '%s\n' "$auth"; fi
  } | write_if_changed "$config" && config_changed="new config"
  [ -n "$config_changed" ] && changed "wrote $config"
  local cmd=(/usr/bin/docker-registry serve "$config")
  # "/" answers without credentials (/v2/ wants them once auth is on).
  local probe="http://$REGISTRY_ADDR/"
  if has_systemd; then
    ensure_unit berth-registry "$config_changed" <<EOF
[Unit]
Description=Berth image registry ($REGISTRY_ADDR)
After=network.target

[Service]
ExecStart=${cmd[*]}
Restart=on-failure

[Install]
WantedBy=multi-user.target
EOF
    wait_for_url "$probe" 60 || fail "berth-registry does not answer $probe"
  else
    ensure_daemon registry "$probe" "$BERTH_RUN_DIR/registry.pid" "$REGISTRY_PID_WORD" \
      "$config_changed" "${cmd[@]}"
  fi
}

ensure_caddy() {
  local config="$BERTH_ETC_DIR/caddy.json" config_changed="" caddy_home="$BERTH_DATA_DIR/caddy"
  local listen="unix/$CADDY_ADMIN_SOCK" admin_probe="unix:$CADDY_ADMIN_SOCK:/config/" moved=""
  mkdir -p "$caddy_home/data" "$caddy_home/config"
  # The admin socket's directory is root's alone: whoever can connect to it controls the router.
  mkdir -p "$BERTH_RUN_DIR" && chmod 0700 "$BERTH_RUN_DIR"
  # Only the admin endpoint: the Berth server adds its routes through the admin API. Caddy
  # saves every config it is given (autosave.json under XDG_CONFIG_HOME) and --resume starts
  # from that, so a restarted Caddy keeps serving the apps; this file counts only on first start.
  write_if_changed "$config" <<EOF && config_changed="new config"
{
  "admin": { "listen": "$listen" }
}
EOF
  [ -n "$config_changed" ] && changed "wrote $config"
  # An install from before kept the admin API on 127.0.0.1:2019 in its autosave, which --resume would
  # bring back: move it to the socket there too (routes untouched), and restart Caddy for it below.
  local autosave="$caddy_home/config/caddy/autosave.json"
  if [ -f "$autosave" ] && "$BERTH_NODE_DIR/bin/node" -e '
    const fs = require("fs"); const [file, listen] = process.argv.slice(1);
    const config = JSON.parse(fs.readFileSync(file, "utf8"));
    if (config.admin?.listen === listen) process.exit(1);
    config.admin = { ...config.admin, listen };
    fs.writeFileSync(file, JSON.stringify(config));' "$autosave" "$listen"; then
    moved="admin API moved to $CADDY_ADMIN_SOCK"
    changed "$autosave: $moved"
  fi
  local envs=(XDG_DATA_HOME="$caddy_home/data" XDG_CONFIG_HOME="$caddy_home/config")
  local cmd=(/usr/bin/caddy run --resume --config "$config")
  # The initial config only matters while there is no autosave, so a change to it never
  # justifies restarting a Caddy that is serving apps; moving its admin API does.
  if has_systemd; then
    ensure_unit berth-caddy "$moved" <<EOF
[Unit]
Description=Berth router (Caddy, admin API on $CADDY_ADMIN_SOCK)
After=network.target

[Service]
Environment=${envs[0]} ${envs[1]}
ExecStartPre=/bin/mkdir -p -m 0700 $BERTH_RUN_DIR
ExecStart=${cmd[*]}
Restart=always
RestartSec=1
LimitNOFILE=1048576
AmbientCapabilities=CAP_NET_BIND_SERVICE

[Install]
WantedBy=multi-user.target
EOF
    wait_for_url "$admin_probe" 60 || fail "berth-caddy admin does not answer on $CADDY_ADMIN_SOCK"
  else
    # Under supervise.sh: started again whenever it exits, as systemd's Restart=always would.
    ensure_daemon caddy "$admin_probe" "$BERTH_RUN_DIR/caddy.pid" "$CADDY_PID_WORD" "$moved" \
      "$BERTH_ROOT/scripts/supervise.sh" env "${envs[@]}" "${cmd[@]}"
  fi
}

# The server's settings: every variable the server reads that is set now (from the environment
# or the earlier berth.env), one KEY=VALUE a line, as systemd's EnvironmentFile wants them.
# A copy of the file the running server was started with is kept in the run dir, so that a
# change (given to up.sh, or made by hand in berth.env) restarts the server.
SERVER_ENV_STARTED="$BERTH_RUN_DIR/server.env"

write_server_env() {
  local key
  if for key in "${BERTH_SERVER_SETTINGS[@]}"; do
    if [ -n "${!key+set}" ]; then printf '%s=%s\n' "$key" "${!key}"; fi
  done | write_if_changed "$BERTH_ENV_FILE" 0600; then
    changed "wrote $BERTH_ENV_FILE"
  fi
  if [ -f "$SERVER_ENV_STARTED" ] && ! cmp -s "$BERTH_ENV_FILE" "$SERVER_ENV_STARTED"; then
    server_stale="new settings"
  fi
}

ensure_server() {
  # A 1 MB young generation: idle RSS with 50 apps 129 MB instead of 196 MB, for ~10 % of peak log-ingest
  # speed (docs/benchmarks.md, "Idle RSS").
  local cmd=("$BERTH_NODE_DIR/bin/node" --enable-source-maps --max-semi-space-size=1 "$BERTH_ROOT/dist/berth-server.mjs")
  if has_systemd; then
    ensure_unit berth "$server_stale" <<EOF
[Unit]
Description=Berth server (API on port $BERTH_API_PORT)
After=network.target docker.service berth-registry.service berth-caddy.service
Wants=docker.service berth-registry.service berth-caddy.service

[Service]
EnvironmentFile=$BERTH_ENV_FILE
WorkingDirectory=$BERTH_ROOT
ExecStart=${cmd[*]}
Restart=on-failure
RestartSec=2
# The app DNS (dnsmasq) the server starts must outlive a restart of the server, as the apps do.
KillMode=process

[Install]
WantedBy=multi-user.target
EOF
    if ! wait_for_url "$HEALTH_URL" 120; then
      journalctl -u berth -n 40 --no-pager >&2 || true
      fail "the Berth server does not answer $HEALTH_URL"
    fi
  else
    local settings=()
    mapfile -t settings <"$BERTH_ENV_FILE"
    ensure_daemon server "$HEALTH_URL" "$BERTH_RUN_DIR/server.pid" "$SERVER_PID_WORD" "$server_stale" \
      env "${settings[@]}" "${cmd[@]}"
  fi
  install -m 0600 "$BERTH_ENV_FILE" "$SERVER_ENV_STARTED"
}

install_cli_wrapper() {
  if write_if_changed /usr/local/bin/berth 0755 <<EOF; then
#!/bin/sh
# Installed by Berth's scripts/up.sh: the Berth CLI, run by the Node 24 Berth installed.
exec $BERTH_NODE_DIR/bin/node $BERTH_ROOT/dist/berth.mjs "\$@"
EOF
    changed "installed /usr/local/bin/berth"
  else
    ok "/usr/local/bin/berth installed"
  fi
}
