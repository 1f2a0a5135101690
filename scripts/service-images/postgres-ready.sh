#!/bin/sh
# Health check: true once Postgres accepts connections on its network address (not just the socket).
exec /usr/lib/postgresql/15/bin/pg_isready -q -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"
