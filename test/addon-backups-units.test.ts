// Add-on backups without Docker: the schedule's next run (UTC), when it is due, retention's plan, how a dump
// says its kind, the kind check before a restore, and the local store (whole or nothing under a key, small pieces
// written in batches).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { isDue, nextRun, parseAt, parseKeep, retentionPlan, backupId, checkBackupId } from '../src/addons/backups/schedule.ts';
import { checkRestoreKind, dumpKind } from '../src/addons/backups/commands.ts';
import { LocalBackupStore } from '../src/addons/backups/local-store.ts';
import { BerthError } from '../src/shared/errors.ts';

const status = (fn: () => unknown): number | undefined => {
  try { fn(); return undefined; } catch (err) { return (err as BerthError).status; }
};

test('--at is HH:MM (UTC), --keep 1..365; anything else is 422', () => {
  assert.equal(parseAt('2:05'), '02:05');
  assert.equal(parseAt(' 23:59 '), '23:59');
  for (const bad of ['24:00', '12:60', '1200', '', 'now', 5, null, '02:00; rm -rf /']) assert.equal(status(() => parseAt(bad)), 422, String(bad));
  assert.equal(parseKeep(undefined), 7);
  assert.equal(parseKeep('3'), 3);
  assert.equal(parseKeep(30), 30);
  for (const bad of ['0', '366', '-1', '1.5', 'x', 2.5]) assert.equal(status(() => parseKeep(bad)), 422, String(bad));
});

test('the next run is the first HH:MM UTC strictly after; a schedule is due once that has come, one catch-up after downtime', () => {
  const at = (iso: string) => new Date(iso);
  assert.equal(nextRun('02:00', at('2026-03-01T01:59:00Z')).toISOString(), '2026-03-01T02:00:00.000Z');
  assert.equal(nextRun('02:00', at('2026-03-01T02:00:00Z')).toISOString(), '2026-03-02T02:00:00.000Z');
  assert.equal(nextRun('00:00', at('2026-12-31T23:30:00Z')).toISOString(), '2027-01-01T00:00:00.000Z');
  assert.equal(isDue('02:00', at('2026-03-01T01:00:00Z'), at('2026-03-01T01:59:59Z')), false);
  assert.equal(isDue('02:00', at('2026-03-01T01:00:00Z'), at('2026-03-01T02:00:00Z')), true);
  // Set at 03:00 for 02:00: not until tomorrow. Down for three days: due (once: the run moves since on).
  assert.equal(isDue('02:00', at('2026-03-01T03:00:00Z'), at('2026-03-01T23:00:00Z')), false);
  assert.equal(isDue('02:00', at('2026-03-01T03:00:00Z'), at('2026-03-04T12:00:00Z')), true);
  assert.equal(isDue('02:00', at('2026-03-04T12:00:00Z'), at('2026-03-04T12:00:30Z')), false);
});

test('retention deletes the succeeded backups beyond the newest N, never a failed or running one', () => {
  const b = (seq: number, s: string) => ({ id: backupId(seq), status: s, startedAt: `2026-03-${String(seq).padStart(2, '0')}T02:00:00Z` });
  const list = [b(1, 'succeeded'), b(2, 'failed'), b(3, 'succeeded'), b(4, 'succeeded'), b(5, 'running'), b(6, 'succeeded')];
  assert.deepEqual(retentionPlan(list, 2), ['b003', 'b001']);
  assert.deepEqual(retentionPlan(list, 4), []);
  assert.equal(backupId(7), 'b007');
  assert.equal(backupId(1234), 'b1234');
  assert.equal(checkBackupId('b017'), 'b017');
  for (const bad of ['17', 'b1', '../b001', 'b001.dump', 'B001']) assert.equal(status(() => checkBackupId(bad)), 404, bad);
});

test('a dump says its kind by its first bytes; a backup of another kind (or none) is refused with 422 before anything runs', () => {
  assert.equal(dumpKind(Buffer.from('PGDMP\x01\x0e\x00\x04\x08\x01\x01')), 'postgres');
  assert.equal(dumpKind(Buffer.from('REDIS0010\xfa\tredis-ver')), 'redis');
  assert.equal(dumpKind(Buffer.from('-- MariaDB dump 10.19  Distrib 10.11.6')), 'mysql');
  assert.equal(dumpKind(Buffer.from('-- MySQL dump 10.13')), 'mysql');
  assert.equal(dumpKind(Buffer.from('PK\x03\x04')), null);
  assert.equal(dumpKind(Buffer.alloc(0)), null);
  assert.doesNotThrow(() => checkRestoreKind('postgres', 'postgres', 'db'));
  assert.equal(status(() => checkRestoreKind('redis', 'postgres', 'db')), 422);
  assert.equal(status(() => checkRestoreKind(null, 'mysql', 'db')), 422);
});

test('local store: a put is hashed and whole under its key; a failed body leaves nothing; bad keys are refused', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-backup-store-'));
  try {
    const store = new LocalBackupStore(root);
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 7, 'x');
    const stored = await store.put('shop-db/b001.dump', Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
    assert.deepEqual(stored, { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    const back: Buffer[] = [];
    for await (const chunk of await store.get('shop-db/b001.dump')) back.push(chunk as Buffer);
    assert.ok(Buffer.concat(back).equals(bytes));
    assert.equal(fs.statSync(path.join(root, 'shop-db/b001.dump')).mode & 0o777, 0o600);
    // A dump in pieces of a few KiB, as the engine hands them on: written in batches, whole and in order.
    const pieces = Array.from({ length: 700 }, (_, i) => randomBytes(1 + ((i * 7919) % 6000)));
    const whole = Buffer.concat(pieces);
    const batched = await store.put('shop-db/b009.dump', Readable.from(pieces));
    assert.deepEqual(batched, { size: whole.length, sha256: createHash('sha256').update(whole).digest('hex') });
    assert.ok(fs.readFileSync(path.join(root, 'shop-db/b009.dump')).equals(whole));
    // A restore's checksum pass: the same SHA-256 as the put's, another one once a byte changed on disk.
    assert.equal(await store.sha256('shop-db/b009.dump'), batched.sha256);
    const fd = fs.openSync(path.join(root, 'shop-db/b009.dump'), 'r+');
    fs.writeSync(fd, Buffer.from([whole[1_500_000]! ^ 1]), 0, 1, 1_500_000);
    fs.closeSync(fd);
    assert.notEqual(await store.sha256('shop-db/b009.dump'), batched.sha256);
    await assert.rejects(store.sha256('shop-db/b404.dump'), (err: BerthError) => err.status === 404);
    await store.delete('shop-db/b009.dump');

    const failing = new Readable({ read() { this.push(Buffer.alloc(64 * 1024)); this.destroy(new Error('disk full')); } });
    await assert.rejects(store.put('shop-db/b002.dump', failing), /disk full/);
    assert.deepEqual(fs.readdirSync(path.join(root, 'shop-db')), ['b001.dump'], 'no partial file, nothing under the key');
    await assert.rejects(store.get('shop-db/b002.dump'), (err: BerthError) => err.status === 404);

    fs.writeFileSync(path.join(root, 'shop-db/.partial-abc-b003.dump'), 'left by a crash');
    assert.equal(await store.sweepPartials(), 1);
    await store.delete('shop-db/b001.dump');
    await store.delete('shop-db/b001.dump'); // missing is fine
    assert.deepEqual(fs.readdirSync(path.join(root, 'shop-db')), []);
    for (const bad of ['../etc/passwd', '/abs/b001.dump', 'shop-db/../../x', 'a/b/c']) await assert.rejects(store.put(bad, Readable.from(['x'])), /Not a backup key/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
