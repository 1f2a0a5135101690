// Secrets at rest, without a server: the sealing itself, the key file, the startup pass over an
// older installation's plaintext rows, rotation (also interrupted), and a database without its key.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, type Db } from '../src/state/db.ts';
import { AppsStore } from '../src/state/apps-store.ts';
import { ReleasesStore } from '../src/state/releases-store.ts';
import { SecretBox, freshKeyring, newKey, readKeyFile, sealedKeyId, writeKeyFile } from '../src/state/secrets.ts';
import { openConfigSecrets } from '../src/state/config-secrets.ts';
import { BerthError } from '../src/shared/errors.ts';

const SECRET = 'postgres://shop:hunter2-s3cret@db/shop';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-secrets-'));
  dirs.push(dir);
  return dir;
}

function box(): SecretBox {
  return new SecretBox('/nowhere/secrets.key', freshKeyring());
}

/** Every text cell of every table, for "the value is nowhere in the file" checks. */
function allCells(db: Db): string[] {
  const tables = db.$client.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>;
  return tables.flatMap(({ name }) => (db.$client.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[])
    .flatMap((row) => Object.values(row).map(String)));
}

function storesOn(dir: string) {
  const db = openDb(path.join(dir, 'berth.db'));
  const secrets = openConfigSecrets(db, path.join(dir, 'secrets.key'));
  return { db, secrets, apps: new AppsStore(db, secrets.box), releases: new ReleasesStore(db, secrets.box) };
}

function release(appId: number, config: Record<string, string>) {
  return {
    appId, description: 'test', imageRef: null, imageId: 'sha256:1', imageDigest: null, containerPort: null,
    config, formation: [], createdBy: 'test', status: 'succeeded' as const,
  };
}

test('a value seals to different text every time, opens back, and only in its own context', () => {
  const b = box();
  const one = b.seal(SECRET, 'config:1:DATABASE_URL');
  const two = b.seal(SECRET, 'config:1:DATABASE_URL');
  assert.notEqual(one, two, 'each value has its own nonce');
  assert.ok(!one.includes('hunter2'));
  assert.equal(sealedKeyId(one), b.keyId);
  assert.equal(b.open(one, 'config:1:DATABASE_URL'), SECRET);
  assert.equal(b.open(b.seal('', 'c'), 'c'), '');
  assert.equal(b.open(b.seal('ünïcødé ✓', 'c'), 'c'), 'ünïcødé ✓');
  assert.throws(() => b.open(one, 'config:2:DATABASE_URL'), /cannot be decrypted: key .* does not open it/);
});

test('a tampered, truncated or foreign value is a clear error, never garbage', () => {
  const b = box();
  const sealed = b.seal(SECRET, 'c');
  const body = sealed.split(':')[3];
  const flipped = sealed.slice(0, -body.length) + (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
  assert.throws(() => b.open(flipped, 'c'), (err: Error) => err instanceof BerthError && err.code === 'secret_unreadable');
  assert.throws(() => b.open(SECRET, 'c'), /not a sealed value/);
  assert.throws(() => box().open(sealed, 'c'), /sealed with key [0-9a-f]{8}, which \/nowhere\/secrets.key does not hold/);
});

test('the key file is written 0600, atomically, and a file others can read is made private', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'keys', 'secrets.key');
  const ring = freshKeyring();
  writeKeyFile(file, ring);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['secrets.key']);
  assert.deepEqual(readKeyFile(file), ring);
  fs.chmodSync(file, 0o644);
  readKeyFile(file);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(readKeyFile(path.join(dir, 'absent.key')), null);
  fs.writeFileSync(file, '{"format":"berth-secrets-v1","current":"00000000","keys":{"00000000":"c2hvcnQ="}}');
  assert.throws(() => readKeyFile(file), /not valid \(key "00000000" is not 32 bytes/);
});

test('config vars and release snapshots are stored sealed and read back as plaintext', () => {
  const dir = tmpDir();
  const { db, apps, releases, secrets } = storesOn(dir);
  assert.equal(fs.statSync(path.join(dir, 'secrets.key')).mode & 0o777, 0o600);
  const app = apps.create('shop');
  apps.replaceConfig(app.id, { DATABASE_URL: SECRET, EMPTY: '' });
  const created = releases.create(release(app.id, { DATABASE_URL: SECRET }));
  assert.deepEqual(apps.config(app.id), { DATABASE_URL: SECRET, EMPTY: '' });
  assert.deepEqual(created.config, { DATABASE_URL: SECRET });
  assert.deepEqual(releases.get(app.id, created.version).config, { DATABASE_URL: SECRET });
  assert.deepEqual({ ...releases.list(app.id)[0] }.config, { DATABASE_URL: SECRET }, 'spreading a row gives the plaintext');
  assert.deepEqual(releases.finish(created.id, 'succeeded').config, { DATABASE_URL: SECRET });
  assert.ok(!allCells(db).some((cell) => cell.includes('hunter2')), 'no table holds the value');
  const stored = JSON.parse((db.$client.prepare('SELECT config FROM releases').get() as { config: string }).config);
  assert.equal(sealedKeyId(stored.DATABASE_URL), secrets.box.keyId, 'key names stay readable, values are sealed');
  db.$client.close();
});

test('an older installation\'s plaintext rows are sealed at the first start, once', () => {
  const dir = tmpDir();
  const legacy = openDb(path.join(dir, 'berth.db'));
  // What a server from before sealing left behind: plaintext values, no key file.
  legacy.$client.prepare(`INSERT INTO apps (name, created_at) VALUES ('old', 'x')`).run();
  legacy.$client.prepare(`INSERT INTO config_vars (app_id, key, value) VALUES (1, 'TOKEN', ?)`).run(SECRET);
  legacy.$client.prepare(`INSERT INTO releases (app_id, version, status, description, config, formation, created_by, created_at)
    VALUES (1, 1, 'succeeded', 'v1', ?, '[]', 'x', 'x')`).run(JSON.stringify({ TOKEN: SECRET }));
  legacy.$client.close();

  const first = storesOn(dir);
  assert.ok(!allCells(first.db).some((cell) => cell.includes('hunter2')));
  assert.deepEqual(first.apps.config(1), { TOKEN: SECRET });
  assert.deepEqual(first.releases.get(1, 1).config, { TOKEN: SECRET });
  const sealedOnce = allCells(first.db).filter((cell) => cell.includes('enc1:')).sort();
  first.db.$client.close();

  const second = storesOn(dir);
  assert.deepEqual(allCells(second.db).filter((cell) => cell.includes('enc1:')).sort(), sealedOnce, 'nothing sealed twice');
  assert.deepEqual(second.apps.config(1), { TOKEN: SECRET });
  second.db.$client.close();
});

test('rotation re-seals everything under a new key, keeps it readable, and drops the old key', () => {
  const dir = tmpDir();
  const { db, apps, releases, secrets } = storesOn(dir);
  const app = apps.create('shop');
  apps.replaceConfig(app.id, { A: SECRET, B: 'two' });
  releases.create(release(app.id, { A: SECRET }));
  const before = allCells(db).filter((cell) => cell.includes('enc1:'));
  const oldKey = secrets.box.keyId;

  const rotation = secrets.rotate();
  assert.equal(rotation.previousKeyId, oldKey);
  assert.notEqual(rotation.keyId, oldKey);
  assert.equal(rotation.values, 3);
  const after = allCells(db).filter((cell) => cell.includes('enc1:'));
  assert.equal(after.length, before.length);
  assert.ok(after.every((cell) => !before.includes(cell)), 'every ciphertext changed');
  assert.ok(!after.some((cell) => cell.includes(`enc1:${oldKey}:`)), 'nothing left under the old key');
  assert.deepEqual(apps.config(app.id), { A: SECRET, B: 'two' });
  assert.deepEqual(releases.list(app.id)[0].config, { A: SECRET });
  assert.deepEqual(Object.keys(readKeyFile(path.join(dir, 'secrets.key'))!.keys), [rotation.keyId]);
  db.$client.close();

  const reopened = storesOn(dir);
  assert.deepEqual(reopened.apps.config(app.id), { A: SECRET, B: 'two' });
  reopened.db.$client.close();
});

test('a rotation that cannot re-seal a value changes nothing', () => {
  const dir = tmpDir();
  const { db, apps, secrets } = storesOn(dir);
  const app = apps.create('shop');
  apps.replaceConfig(app.id, { A: SECRET, B: 'two' });
  // A value moved by hand to another key name no longer opens (its context is bound in).
  db.$client.prepare(`UPDATE config_vars SET value = (SELECT value FROM config_vars WHERE key = 'A') WHERE key = 'B'`).run();
  const cells = allCells(db);
  const keyFile = fs.readFileSync(path.join(dir, 'secrets.key'), 'utf8');
  const keyBefore = secrets.box.keyId;
  assert.throws(() => secrets.rotate(), /config:\d+:B\) cannot be decrypted/);
  assert.deepEqual(allCells(db), cells);
  assert.equal(fs.readFileSync(path.join(dir, 'secrets.key'), 'utf8'), keyFile);
  assert.equal(secrets.box.keyId, keyBefore, 'the old key is still the one');
  assert.throws(() => apps.config(app.id), /config:\d+:B\) cannot be decrypted/);
  db.$client.close();
});

test('a rotation interrupted after the new key was written is finished by the next start', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'secrets.key');
  const first = storesOn(dir);
  const app = first.apps.create('shop');
  first.apps.replaceConfig(app.id, { A: SECRET });
  const old = readKeyFile(file)!;
  first.db.$client.close();
  // The first step of a rotation: the new key is current, the old one kept; then the process died.
  writeKeyFile(file, { current: 'abcdef01', keys: { ...old.keys, abcdef01: newKey() } });

  const next = storesOn(dir);
  assert.equal(next.secrets.box.keyId, 'abcdef01');
  assert.deepEqual(next.apps.config(app.id), { A: SECRET });
  assert.ok(allCells(next.db).filter((cell) => cell.startsWith('enc1:')).every((cell) => cell.startsWith('enc1:abcdef01:')));
  assert.deepEqual(Object.keys(readKeyFile(file)!.keys), ['abcdef01']);
  next.db.$client.close();
});

test('a database restored without its key file, or with another one, does not open', () => {
  const dir = tmpDir();
  const { db, apps } = storesOn(dir);
  apps.replaceConfig(apps.create('shop').id, { A: SECRET });
  db.$client.close();
  const restored = tmpDir();
  fs.copyFileSync(path.join(dir, 'berth.db'), path.join(restored, 'berth.db'));
  const copy = openDb(path.join(restored, 'berth.db'));
  assert.throws(() => openConfigSecrets(copy, path.join(restored, 'secrets.key')),
    (err: Error) => err instanceof BerthError && err.code === 'secrets_key_missing' && /Restore the key file/.test(err.message));
  assert.equal(fs.existsSync(path.join(restored, 'secrets.key')), false, 'no new key was made in its place');
  writeKeyFile(path.join(restored, 'secrets.key'), freshKeyring());
  assert.throws(() => openConfigSecrets(copy, path.join(restored, 'secrets.key')),
    (err: Error) => err instanceof BerthError && err.code === 'secrets_key_mismatch');
  fs.copyFileSync(path.join(dir, 'secrets.key'), path.join(restored, 'secrets.key'));
  assert.deepEqual(new AppsStore(copy, openConfigSecrets(copy, path.join(restored, 'secrets.key')).box).config(1), { A: SECRET });
  copy.$client.close();
});
