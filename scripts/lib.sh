# Shared helpers for scripts/up.sh, scripts/down.sh and scripts/test.sh. Source it; don't run it.
# Every step reports one line: "[ok] ..." when nothing had to be done, "[changed] ..." when the
# step changed the machine, so a second run of up.sh shows at a glance that it did nothing.

BERTH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTH_ETC_DIR=${BERTH_ETC_DIR:-/etc/berth}
BERTH_ENV_FILE=$BERTH_ETC_DIR/berth.env

# The server's settings from an earlier `up.sh` run live in berth.env (systemd reads the same
# file). A variable given in the environment now wins over the file; the file wins over the
# defaults below. So `BERTH_DOMAIN=example.com bash scripts/up.sh` sticks for later runs.
load_saved_settings() {
  local key value
  [ -r "$BERTH_ENV_FILE" ] || return 0
  while IFS='=' read -r key value; do
    [[ "$key" =~ ^BERTH_[A-Z_]+$ ]] || continue
    [ -n "${!key+set}" ] && continue
    export "$key=$value"
  done <"$BERTH_ENV_FILE"
}
load_saved_settings

BERTH_NODE_DIR=${BERTH_NODE_DIR:-/opt/berth/node}
BERTH_DATA_DIR=${BERTH_DATA_DIR:-/var/lib/berth}
BERTH_LOG_DIR=${BERTH_LOG_DIR:-/var/log/berth}
BERTH_RUN_DIR=${BERTH_RUN_DIR:-/run/berth}
# Caddy's admin API: a unix socket in the run dir (mode 0700), so no app, container or webhook reaches it.
CADDY_ADMIN_SOCK=$BERTH_RUN_DIR/caddy-admin.sock
BERTH_API_PORT=${BERTH_API_PORT:-7070}
# docker.io's client. /usr/local/bin/docker may be a different (newer) client; any works, but
# scripts/base-images.sh uses this one, so the scripts agree on which.
DOCKER=${DOCKER:-/usr/bin/docker}
export BERTH_DATA_DIR BERTH_API_PORT DOCKER

CHANGES=0

# What each daemon's command line contains, to tell it from an unrelated process that reuses a
# stale pid (another Caddy, say: the tests start their own).
SERVER_PID_WORD="berth server"   # the installed executable's "/usr/local/bin/berth server" (src/appliance)
CADDY_PID_WORD=$BERTH_ETC_DIR/caddy.json
REGISTRY_PID_WORD=$BERTH_ETC_DIR/registry.yml
DOCKERD_PID_WORD=dockerd

ok()      { printf '[ok] %s\n' "$*"; }
changed() { printf '[changed] %s\n' "$*"; CHANGES=$((CHANGES + 1)); }
warn()    { printf '[warn] %s\n' "$*" >&2; }
fail()    { printf '[fail] %s\n' "$*" >&2; exit 1; }

# Shows the end of a log, indented, after a failure, so the cause is on screen without digging.
show_log_tail() {
  local file=$1 lines=${2:-30}
  [ -f "$file" ] || { echo "    ($file does not exist)" >&2; return 0; }
  echo "    --- last $lines lines of $file ---" >&2
  tail -n "$lines" "$file" | sed 's/^/    /' >&2
}

require_root() {
  [ "$(id -u)" = 0 ] || fail "run this as root (it installs packages and starts system services)"
}

# systemd's own test (sd_booted): PID 1 is systemd exactly when this directory exists.
has_systemd() { [ -d /run/systemd/system ]; }

# Puts Node 24 first on PATH and points node-gyp at its headers (the machine's npm config may
# point nodedir at another Node, and a native addon built against it would not load).
use_node24() {
  export PATH="$BERTH_NODE_DIR/bin:$PATH"
  export npm_config_nodedir="$BERTH_NODE_DIR"
}

node24_ok() {
  [ -x "$BERTH_NODE_DIR/bin/node" ] && [[ "$("$BERTH_NODE_DIR/bin/node" --version 2>/dev/null)" == v24.* ]]
}

# True when URL answers with a 2xx status within 2 seconds. "unix:SOCKET:PATH" asks over a unix socket, with
# the empty Host header Caddy's admin API wants there.
url_ok() {
  case $1 in
    unix:*)
      local rest=${1#unix:}
      curl -fsS -o /dev/null --max-time 2 --unix-socket "${rest%%:*}" -H 'Host: ' "http://localhost${rest#*:}" 2>/dev/null
      ;;
    *) curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null ;;
  esac
}

# Polls a check command a bounded number of times, half a second apart; never waits forever.
#   wait_until TRIES command args...
wait_until() {
  local tries=$1 i; shift
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep 0.5
  done
  return 1
}

# Polls URL until it answers 2xx; TRIES defaults to 60 (30 s).
wait_for_url() {
  wait_until "${2:-60}" url_ok "$1"
}

# True when PIDFILE names a live process whose command line contains WORD; the word check keeps a
# stale pid file from matching an unrelated process that happens to reuse the pid.
pid_alive() {
  local pidfile=$1 word=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  ! pid_gone "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$word"
}

# Starts a long-running program in the background, detached from this script's session (setsid)
# so that neither the end of the script nor a Ctrl-C in this terminal takes it down, appending
# its output to LOG and its pid to PIDFILE.
#   start_daemon PIDFILE LOG command args...
start_daemon() {
  local pidfile=$1 log=$2; shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$log")"
  printf '\n=== %s starting: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$log"
  nohup setsid "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# True when PID no longer runs. A zombie counts as gone: daemons started by start_daemon are
# reparented to PID 1, which in a container is not always an init that reaps its children.
pid_gone() {
  [ -r "/proc/$1/stat" ] || return 0
  [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# Ends the pidfile's process: SIGTERM, up to TRIES half-seconds to exit, then SIGKILL. Removes
# the pid file. Returns 1 when there was no live process to end.
#   terminate_pidfile NAME PIDFILE WORD [TRIES]
terminate_pidfile() {
  local name=$1 pidfile=$2 word=$3 tries=${4:-40} pid
  if ! pid_alive "$pidfile" "$word"; then
    rm -f "$pidfile"
    return 1
  fi
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until "$tries" pid_gone "$pid"; then
    warn "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# Stops a daemon started by start_daemon and reports what it did.
#   stop_daemon NAME PIDFILE WORD [TRIES]
stop_daemon() {
  local name=$1 pidfile=$2 word=$3 tries=${4:-40} pid
  if [ ! -e "$pidfile" ]; then
    ok "$name: not started by these scripts, nothing to stop"
    return 0
  fi
  pid=$(cat "$pidfile")
  if terminate_pidfile "$name" "$pidfile" "$word" "$tries"; then
    changed "stopped $name (pid $pid)"
  else
    ok "$name already stopped"
  fi
}

# Writes stdin to FILE only when the content differs; returns 0 when it wrote, 1 when the file
# already had exactly that content. Lets callers say [ok] or [changed] and restart only on change.
write_if_changed() {
  local file=$1 mode=${2:-0644} tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return 1
  fi
  mkdir -p "$(dirname "$file")"
  install -m "$mode" "$tmp" "$file"
  rm -f "$tmp"
  return 0
}

docker_ok() { "$DOCKER" info >/dev/null 2>&1; }

# Makes sure a Docker engine answers. With systemd the distribution's docker.service does the
# job; without it (containers, CI) dockerd runs under nohup and its pid goes to a pid file so
# that down.sh stops it again.
ensure_dockerd() {
  if docker_ok; then
    ok "dockerd running"
    return 0
  fi
  [ -x "$DOCKER" ] || fail "$DOCKER not found: run scripts/up.sh first (it installs docker.io)"
  require_root
  if has_systemd; then
    systemctl enable --now docker >/dev/null 2>&1 || true
  else
    # A dockerd killed hard leaves its pid file behind and refuses to start while it exists.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
      rm -f /var/run/docker.pid
    fi
    start_daemon "$BERTH_RUN_DIR/dockerd.pid" "$BERTH_LOG_DIR/dockerd.log" dockerd
  fi
  # dockerd needs a few seconds on first start (it sets up iptables and its containerd).
  if ! wait_until 120 docker_ok; then
    if has_systemd; then
      journalctl -u docker -n 30 --no-pager >&2 || true
    else
      show_log_tail "$BERTH_LOG_DIR/dockerd.log"
    fi
    fail "dockerd did not answer within 60 s"
  fi
  changed "started dockerd"
}

# Stops dockerd the way an engine upgrade or a host reboot would (SIGTERM: it stops the containers) and starts
# it again as ensure_dockerd does. Only the dockerd-restart test calls it (BERTH_TEST_RESTART_DOCKERD=1).
restart_dockerd() {
  if has_systemd; then
    systemctl restart docker
  else
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    [ -n "$pid" ] || fail "no /var/run/docker.pid: is dockerd running?"
    kill -TERM "$pid"
    wait_until 120 pid_gone "$pid" || fail "dockerd (pid $pid) did not stop within 60 s"
    rm -f "$BERTH_RUN_DIR/dockerd.pid"
  fi
  ensure_dockerd
}

# The environment variables the server reads (src/config.ts's, BERTH_PUBLIC_URL, BERTH_SQLITE_BINDING), in
# their one home: SERVER_SETTINGS in src/appliance/settings.ts, the list `berth up` saves in berth.env. test.sh
# clears them so that tests never inherit the installed server's data dir or ports.
mapfile -t BERTH_SERVER_SETTINGS < <(sed -n '/^export const SERVER_SETTINGS = \[/,/^\] as const;/p' \
  "$BERTH_ROOT/src/appliance/settings.ts" | grep -o "'[A-Z0-9_]*'" | tr -d "'")
[ "${#BERTH_SERVER_SETTINGS[@]}" -gt 10 ] || fail "could not read SERVER_SETTINGS from src/appliance/settings.ts"

# The one-node Kubernetes cluster kit the k3s scheduler's tests run against (its README: shared/k8s):
# BERTH_K8S_KIT, else shared/k8s beside this clone, as CI lays them out. Prints its folder; fails if absent.
k8s_kit_dir() {
  local dir=${BERTH_K8S_KIT:-$BERTH_ROOT/../shared/k8s}
  [ -x "$dir/start.sh" ] && [ -x "$dir/stop.sh" ] && (cd "$dir" && pwd)
}

# True when the kit's API server already runs (its pid file, as the kit's README documents).
k8s_kit_running() {
  local pidfile=${K8S_STATE_DIR:-/var/tmp/berth-k8s}/run/kube-apiserver.pid
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}
