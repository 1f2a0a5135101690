#!/bin/sh
# Health check: true once MariaDB accepts the app's credentials over TCP.
MYSQL_PWD="$MYSQL_PASSWORD" exec mariadb-admin --protocol=tcp -h 127.0.0.1 -u "$MYSQL_USER" ping >/dev/null 2>&1
