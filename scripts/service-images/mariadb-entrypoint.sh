#!/bin/sh
# berth/mariadb:10: initialises the data dir on the volume (/data) once, then runs MariaDB on every address
# of the container. MYSQL_USER / MYSQL_PASSWORD / MYSQL_DATABASE are (re)applied at each start.
set -eu
: "${MYSQL_USER:?}" "${MYSQL_PASSWORD:?}" "${MYSQL_DATABASE:?}"
if [ ! -d /data/mysql ]; then
  mariadb-install-db --datadir=/data --auth-root-authentication-method=socket --skip-test-db >/dev/null
fi
umask 077
init=/tmp/berth-init.sql
sql_quote() { printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; }
user=$(sql_quote "$MYSQL_USER"); password=$(sql_quote "$MYSQL_PASSWORD"); db=$(printf '%s' "$MYSQL_DATABASE" | tr -cd 'A-Za-z0-9_')
cat >"$init" <<SQL
CREATE DATABASE IF NOT EXISTS \`$db\`;
CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$password';
ALTER USER '$user'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'%';
FLUSH PRIVILEGES;
SQL
exec mariadbd --datadir=/data --bind-address=0.0.0.0 --port=3306 --socket=/tmp/mysqld.sock \
  --pid-file=/tmp/mysqld.pid --skip-name-resolve --init-file="$init"
