// The S3 backup store against a real S3-protocol server (s3rver on loopback): a large dump streamed in and out
// in parts with its SHA-256, keys under the prefix, 404 for what is not there, and a put that fails — its source
// or the bucket — leaves nothing under the key and aborts its multipart upload. BERTH_BACKUP_S3_*'s parsing. And a
// Berth server configured with the bucket: a Postgres add-on's backup lands there, restores and downloads intact,
// and goes with the add-on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3BackupStore } from '../src/addons/backups/s3-store.ts';
import { s3BackupSettingsFrom } from '../src/addons/backups/s3-settings.ts';
import { BerthError } from '../src/shared/errors.ts';
import { BACKUP_SHA256_HEADER, type Backup } from '../src/wire/types.ts';
import { serviceContainerName } from '../src/runtime/docker/service-options.ts';
import { startS3, type TestS3 } from './support/s3.ts';
import { startCaddy, type TestCaddy } from './support/caddy.ts';
import { startBerth, uniqueName, type BerthServer } from './support/berth.ts';

let s3: TestS3;
let store: S3BackupStore;
let caddy: TestCaddy | undefined;
let berth: BerthServer | undefined;
const app = uniqueName('s3bk');
before(async () => {
  s3 = await startS3();
  store = new S3BackupStore(s3BackupSettingsFrom(s3.env('berth/backups'))!);
});
after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  await s3?.stop();
});

const MiB = 1024 * 1024;

/** `total` bytes of a repeatable pattern (differs per chunk), made as read: nothing held whole in memory. */
function dump(total: number, failAfter?: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (failAfter !== undefined && sent >= failAfter) return this.destroy(new Error('pg_dump: connection lost'));
      if (sent >= total) return this.push(null);
      const size = Math.min(MiB, total - sent);
      const chunk = Buffer.alloc(size, `chunk ${sent / MiB} `);
      sent += size;
      this.push(chunk);
    },
  });
}

async function sha256Of(stream: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(stream, async function* (source) { for await (const chunk of source) { hash.update(chunk); size += chunk.length; } yield* []; });
  return { size, sha256: hash.digest('hex') };
}

test('a 40 MiB dump streams in as a multipart upload with its SHA-256, is stored under the prefix and streams back the same', async () => {
  const expected = await sha256Of(dump(40 * MiB));
  const stored = await store.put('shop-db/b001.dump', dump(40 * MiB));
  assert.deepEqual(stored, expected);
  assert.ok(s3.requests.some((r) => r.method === 'POST' && r.query.includes('uploads')), 'a multipart upload was used');
  assert.ok(s3.requests.filter((r) => r.method === 'PUT' && r.query.includes('partNumber')).length >= 5, 'in several parts');
  assert.deepEqual(await s3.storedKeys(), ['berth/backups/shop-db/b001.dump']);
  assert.deepEqual(await sha256Of(await store.get('shop-db/b001.dump')), expected);
});

test('a small dump is one plain put; delete removes it; get of a missing key is a 404 and delete of one is fine', async () => {
  const stored = await store.put('shop-db/b002.dump', Readable.from([Buffer.from('PGDMP tiny')]));
  assert.equal(stored.size, 10);
  assert.equal(stored.sha256, createHash('sha256').update('PGDMP tiny').digest('hex'));
  assert.ok((await s3.storedKeys()).includes('berth/backups/shop-db/b002.dump'));
  await store.delete('shop-db/b002.dump');
  assert.ok(!(await s3.storedKeys()).includes('berth/backups/shop-db/b002.dump'));
  await store.delete('shop-db/b002.dump');
  await assert.rejects(store.get('shop-db/b002.dump'), (err: unknown) => err instanceof BerthError && err.status === 404);
});

test('a dump that fails after 20 MiB: the put rejects with the dump\'s error, nothing is under the key, the upload is aborted', async () => {
  const before = s3.requests.length;
  await assert.rejects(store.put('shop-db/b003.dump', dump(60 * MiB, 20 * MiB)), /pg_dump: connection lost/);
  const seen = s3.requests.slice(before);
  assert.ok(seen.some((r) => r.method === 'PUT' && r.query.includes('partNumber')), 'parts had been uploaded');
  const aborts = seen.filter((r) => r.method === 'DELETE' && r.query.includes('uploadId'));
  assert.equal(aborts.length, 1, 'the multipart upload was aborted once');
  assert.ok(!(await s3.storedKeys()).includes('berth/backups/shop-db/b003.dump'));
  await assert.rejects(store.get('shop-db/b003.dump'), (err: unknown) => err instanceof BerthError && err.status === 404);
});

test('a bucket that refuses the upload (unknown key) fails the put, stops reading the dump and stores nothing', async () => {
  // s3rver checks the access key id (not v4 signatures): an unknown one is refused as S3 would refuse a wrong secret.
  const wrong = new S3BackupStore(s3BackupSettingsFrom({
    ...s3.env('berth/backups'), BERTH_BACKUP_S3_ACCESS_KEY_ID: 'NOT-A-KEY', BERTH_BACKUP_S3_SECRET_ACCESS_KEY: 'not-the-secret',
  })!);
  const source = dump(200 * MiB);
  await assert.rejects(wrong.put('shop-db/b004.dump', source), (err: Error) => {
    assert.doesNotMatch(err.message, /not-the-secret/);
    return err.name === 'InvalidAccessKeyId';
  });
  assert.ok(source.destroyed, 'the dump is not left waiting to be read');
  assert.ok(!(await s3.storedKeys()).includes('berth/backups/shop-db/b004.dump'));
});

test('keys other than backupKey\'s shape are refused before any request', async () => {
  const before = s3.requests.length;
  for (const key of ['../etc/passwd', 'shop-db/../../x', '/abs/key', 'Shop/b1.dump', 'shop-db/b1.dump/extra']) {
    await assert.rejects(store.get(key), /Not a backup key/);
  }
  assert.equal(s3.requests.length, before);
});

test('BERTH_BACKUP_S3_*: unset is local, bucket needed, both keys or neither, endpoint and prefix checked, secret never echoed', () => {
  assert.equal(s3BackupSettingsFrom({}), null);
  assert.deepEqual(s3BackupSettingsFrom({ BERTH_BACKUP_S3_BUCKET: 'team-backups', BERTH_BACKUP_S3_PREFIX: '/berth' }), {
    endpoint: null, bucket: 'team-backups', region: 'us-east-1', credentials: null, prefix: 'berth/',
  });
  assert.throws(() => s3BackupSettingsFrom({ BERTH_BACKUP_S3_ENDPOINT: 'http://127.0.0.1:9000' }), /BERTH_BACKUP_S3_BUCKET/);
  assert.throws(() => s3BackupSettingsFrom({ BERTH_BACKUP_S3_BUCKET: 'b-1', BERTH_BACKUP_S3_SECRET_ACCESS_KEY: 'hunter22' }),
    (err: Error) => /set together/.test(err.message) && !err.message.includes('hunter22'));
  for (const endpoint of ['ftp://x', 'http://u:p@host', 'http://host/path', 'not a url']) {
    assert.throws(() => s3BackupSettingsFrom({ BERTH_BACKUP_S3_BUCKET: 'b-1', BERTH_BACKUP_S3_ENDPOINT: endpoint }), /ENDPOINT/);
  }
  for (const prefix of ['a/../b', 'a b', 'x/./y']) {
    assert.throws(() => s3BackupSettingsFrom({ BERTH_BACKUP_S3_BUCKET: 'b-1', BERTH_BACKUP_S3_PREFIX: prefix }), /PREFIX/);
  }
  assert.throws(() => s3BackupSettingsFrom({ BERTH_BACKUP_S3_BUCKET: 'No_Such' }), /bucket name/);
});

test('through Berth: a Postgres add-on\'s backup goes to the bucket, restores the rows, downloads intact, and goes with the add-on', { timeout: 300_000 }, async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy, s3.env('team/'));
  const pg = `${app}-pg`;
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/addons`, { kind: 'postgres', name: pg });
  const psql = (sql: string) => execFileSync('docker', ['exec', serviceContainerName(pg), 'sh', '-c',
    `psql -h /tmp -U "$POSTGRES_USER" "$POSTGRES_DB" -v ON_ERROR_STOP=1 -At -c "${sql}"`], { encoding: 'utf8', timeout: 60_000 }).trim();
  const fingerprint = () => psql("SELECT count(*) || ' ' || md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM t");
  psql('CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g');
  const before = fingerprint();

  const backup = await berth.ok<Backup>('POST', `/addons/${pg}/backups`);
  assert.equal(backup.status, 'succeeded');
  assert.equal(backup.store, 's3');
  const key = `team/${pg}/${backup.id}.dump`;
  assert.ok((await s3.storedKeys()).includes(key), `${key} in the bucket`);
  const inBucket = await sha256Of(await new S3BackupStore(s3BackupSettingsFrom(s3.env('team'))!).get(`${pg}/${backup.id}.dump`));
  assert.deepEqual(inBucket, { size: backup.size, sha256: backup.sha256 });

  psql('DELETE FROM t WHERE id % 2 = 0');
  assert.notEqual(fingerprint(), before);
  await berth.ok('POST', `/addons/${pg}/backups/${backup.id}/restore`, { confirm: pg });
  assert.equal(fingerprint(), before, 'the same rows after the restore');

  const download = await fetch(`${berth.url}/api/v1/addons/${pg}/backups/${backup.id}/download`, { headers: { authorization: `Bearer ${berth.token}` } });
  assert.equal(download.status, 200);
  assert.equal(download.headers.get(BACKUP_SHA256_HEADER), backup.sha256);
  assert.deepEqual(await sha256Of(Readable.fromWeb(download.body as import('node:stream/web').ReadableStream)), inBucket);

  await berth.ok('DELETE', `/apps/${app}/addons/${pg}`, { confirm: pg });
  assert.ok(!(await s3.storedKeys()).includes(key), 'the backup went with the add-on');
});
