// Per kind, the commands a backup and a restore run inside the service (through ServiceRuntime.exec, so they
// work on any scheduler), and how a dump file says what kind it is. Pure: no Docker.
// Every command runs with the service's own environment (its credentials) and reads no member input.
import { BerthError } from '../../shared/errors.ts';
import type { AddonKind } from '../kinds.ts';

const sh = (script: string): string[] => ['/bin/sh', '-c', script];

/** How long a Redis BGSAVE or a restore's sync may take inside the service (in 0.1 s polls). */
const REDIS_WAIT_POLLS = 36_000;

const REDIS_CLI = 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p 6379';
const MARIADB_AUTH = 'MYSQL_PWD="$MYSQL_PASSWORD"';

/** Writes the dump to stdout; a non-zero exit is a failed backup. */
export function dumpCommand(kind: AddonKind): string[] {
  switch (kind) {
    case 'postgres':
      return sh('exec pg_dump -Fc -h /tmp -U "$POSTGRES_USER" "$POSTGRES_DB"');
    case 'mysql':
      return sh(`${MARIADB_AUTH} exec mariadb-dump --protocol=tcp -h 127.0.0.1 -u "$MYSQL_USER" --single-transaction --routines --triggers "$MYSQL_DATABASE"`);
    case 'redis':
      // BGSAVE writes dump.rdb beside the append-only files and renames it into place when done: once LASTSAVE
      // moves on and no save is running, the file opened is that snapshot, whole, whatever saves follow.
      return sh(`set -eu
before=$(${REDIS_CLI} LASTSAVE)
# LASTSAVE counts seconds: a save in the second of the last one would not move it.
while [ "$(date +%s)" -le "$before" ]; do sleep 0.1; done
${REDIS_CLI} BGSAVE SCHEDULE >/dev/null
i=0
while :; do
  info=$(${REDIS_CLI} INFO persistence)
  now=$(${REDIS_CLI} LASTSAVE)
  if [ "$now" != "$before" ] && printf '%s' "$info" | grep -q 'rdb_bgsave_in_progress:0'; then break; fi
  i=$((i + 1)); [ "$i" -lt ${REDIS_WAIT_POLLS} ] || { echo "BGSAVE did not finish" >&2; exit 1; }
  sleep 0.1
done
printf '%s' "$info" | grep -q 'rdb_last_bgsave_status:ok' || { echo "BGSAVE failed (see the service's log)" >&2; exit 1; }
exec cat "$(${REDIS_CLI} CONFIG GET dir | sed -n 2p)/$(${REDIS_CLI} CONFIG GET dbfilename | sed -n 2p)"`);
  }
}

/** Reads a dump on stdin and replaces the service's data with it; a non-zero exit is a failed restore. */
export function restoreCommand(kind: AddonKind): string[] {
  switch (kind) {
    case 'postgres':
      // One transaction: the restore applies whole or not at all.
      return sh('exec pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error -h /tmp -U "$POSTGRES_USER" -d "$POSTGRES_DB"');
    case 'mysql':
      return sh(`${MARIADB_AUTH} exec mariadb --protocol=tcp -h 127.0.0.1 -u "$MYSQL_USER" "$MYSQL_DATABASE"`);
    case 'redis':
      // Redis loads an RDB only at startup, and a restart would race the scheduler's restart policy. So the RDB
      // is checked, loaded by a second redis-server inside the service (loopback only, on the volume for room),
      // and the service copies it by replication (it flushes its own data first), then stands alone again and
      // rewrites its append-only file from the restored data.
      return sh(`set -eu
dir=$(mktemp -d /data/berth-restore.XXXXXX)
cleanup() { redis-cli -h 127.0.0.1 -p 6390 SHUTDOWN NOSAVE >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
cat >"$dir/dump.rdb"
redis-check-rdb "$dir/dump.rdb" >"$dir/check.log" 2>&1 || { tail -5 "$dir/check.log" >&2; exit 1; }
redis-server --port 6390 --bind 127.0.0.1 --protected-mode no --dir "$dir" --dbfilename dump.rdb --appendonly no \\
  --save '' --daemonize yes --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
i=0
until [ "$(redis-cli -h 127.0.0.1 -p 6390 PING 2>/dev/null)" = PONG ]; do
  i=$((i + 1)); [ "$i" -lt ${REDIS_WAIT_POLLS} ] || { echo "the backup did not load" >&2; exit 1; }
  sleep 0.1
done
${REDIS_CLI} REPLICAOF 127.0.0.1 6390 >/dev/null
i=0
until ${REDIS_CLI} INFO replication | grep -q 'master_link_status:up'; do
  i=$((i + 1)); [ "$i" -lt ${REDIS_WAIT_POLLS} ] || { ${REDIS_CLI} REPLICAOF NO ONE >/dev/null; echo "the service did not take the backup" >&2; exit 1; }
  sleep 0.1
done
${REDIS_CLI} REPLICAOF NO ONE >/dev/null`);
  }
}

/** The first bytes of each kind's dump: pg_dump's custom format, an RDB file, mariadb-dump/mysqldump's SQL. */
const SIGNATURES: Array<{ kind: AddonKind; starts: string[] }> = [
  { kind: 'postgres', starts: ['PGDMP'] },
  { kind: 'redis', starts: ['REDIS'] },
  { kind: 'mysql', starts: ['-- MariaDB dump', '-- MySQL dump'] },
];

/** How many leading bytes dumpKind needs. */
export const SIGNATURE_BYTES = 16;

/** The kind a dump is, from its first bytes; null: none Berth knows. */
export function dumpKind(head: Buffer): AddonKind | null {
  const text = head.subarray(0, SIGNATURE_BYTES).toString('latin1');
  return SIGNATURES.find((s) => s.starts.some((start) => text.startsWith(start)))?.kind ?? null;
}

/** A backup of one kind never goes into a service of another (restoring a Redis RDB into Postgres: 422). */
export function checkRestoreKind(backupKind: AddonKind | null, serviceKind: AddonKind, service: string): void {
  if (backupKind === serviceKind) return;
  throw new BerthError(422, 'wrong_kind', backupKind
    ? `This is a ${backupKind} backup; "${service}" is ${serviceKind}: restore it into a ${backupKind} add-on.`
    : `This file is not a backup Berth knows (a pg_dump -Fc archive, a mysqldump/mariadb-dump file or a Redis RDB file): "${service}" was not touched.`);
}
