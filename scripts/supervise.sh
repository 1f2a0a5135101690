#!/usr/bin/env bash
# Runs a command and starts it again whenever it exits: what systemd's Restart=always does, for machines
# without systemd (scripts/up.sh starts Caddy under it, so a crash or a stray /stop does not leave every app
# unrouted). SIGTERM or SIGINT stops the command and then this script; down.sh sends SIGTERM.
#
#   supervise.sh command args...
set -u
[ $# -gt 0 ] || { echo "usage: supervise.sh command args..." >&2; exit 2; }

child=""
stopping=""
stop() {
  stopping=1
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap stop TERM INT

delay=1
while [ -z "$stopping" ]; do
  started=$(date +%s)
  "$@" &
  child=$!
  # wait returns early when a trapped signal arrives; wait again for the child to finish stopping.
  wait "$child"
  rc=$?
  [ -n "$stopping" ] && wait "$child" 2>/dev/null
  child=""
  [ -n "$stopping" ] && break
  # One that ran a while starts again after 1 s; one that keeps dying at once, less and less often (up to 30 s).
  (($(date +%s) - started >= 30)) && delay=1
  printf '=== %s supervise: %s exited (status %s); starting it again in %s s\n' "$(date -u +%FT%TZ)" "$1" "$rc" "$delay"
  sleep "$delay" &
  child=$!
  wait "$child"
  child=""
  delay=$((delay * 2 > 30 ? 30 : delay * 2))
done
exit 0
