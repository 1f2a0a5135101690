#!/bin/sh
# berth/redis:7: Redis on every address of the container, data (append-only file and snapshots) on the
# volume (/data), the password from REDIS_PASSWORD (written to a config file, not the command line).
set -eu
: "${REDIS_PASSWORD:?}"
conf=/tmp/redis.conf
umask 077
printf 'bind 0.0.0.0\nprotected-mode no\nport 6379\ndir /data\nappendonly yes\nrequirepass %s\n' "$REDIS_PASSWORD" >"$conf"
exec redis-server "$conf"
