#!/bin/sh
# berth/postgres:15: initialises the cluster on the volume (/data) once, then runs Postgres on every address
# of the container. Credentials come from POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB.
set -eu
: "${POSTGRES_USER:?}" "${POSTGRES_PASSWORD:?}" "${POSTGRES_DB:?}"
export PGDATA=/data/pgdata
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  /usr/lib/postgresql/15/bin/initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  /usr/lib/postgresql/15/bin/postgres -D "$PGDATA" -c listen_addresses= -k /tmp &
  pid=$!
  until /usr/lib/postgresql/15/bin/pg_isready -q -h /tmp -U "$POSTGRES_USER" -d postgres; do sleep 0.2; done
  if [ "$POSTGRES_DB" != postgres ]; then
    /usr/lib/postgresql/15/bin/createdb -h /tmp -U "$POSTGRES_USER" "$POSTGRES_DB"
  fi
  kill -INT "$pid"; wait "$pid" || true
fi
exec /usr/lib/postgresql/15/bin/postgres -D "$PGDATA" -c listen_addresses='*' -k /tmp
