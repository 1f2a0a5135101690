#!/usr/bin/env bash
# Stops what scripts/up.sh (or scripts/test.sh) started, newest first: the Berth server, Caddy,
# the registry, the server's app DNS and, if one of them started it without systemd, dockerd. What they found already
# running is left alone. Data (/var/lib/berth), configs (/etc/berth) and images stay; up.sh starts
# it all again.
#
#   bash scripts/down.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root

if has_systemd; then
  # docker.service belongs to the machine (other software may use it), so only Berth's own
  # units are stopped.
  for unit in berth berth-caddy berth-registry; do
    if systemctl is-active --quiet "$unit"; then
      systemctl stop "$unit"
      changed "stopped $unit (systemd)"
    else
      ok "$unit not running"
    fi
  done
else
  # Without systemd up.sh leaves pid files. The server gets time to finish its requests; dockerd
  # gets longer, since it stops every container first.
  stop_daemon "Berth server" "$BERTH_RUN_DIR/server.pid" "$SERVER_PID_WORD" 40
  stop_daemon caddy "$BERTH_RUN_DIR/caddy.pid" "$CADDY_PID_WORD" 20
  stop_daemon registry "$BERTH_RUN_DIR/registry.pid" "$REGISTRY_PID_WORD" 20
  stop_daemon dockerd "$BERTH_RUN_DIR/dockerd.pid" "$DOCKERD_PID_WORD" 120
fi
# The app DNS (dnsmasq) is the server's own and outlives it, so apps keep resolving while it restarts;
# down.sh takes it down with everything else.
for pid_file in /run/berth-dns-*/dnsmasq.pid; do
  [ -f "$pid_file" ] || continue
  stop_daemon "app DNS" "$pid_file" dnsmasq 10
done
rm -f "$BERTH_RUN_DIR/server.env"   # up.sh's record of the settings the running server got

if [ "$CHANGES" = 0 ]; then
  echo "[ok] nothing to stop"
fi
