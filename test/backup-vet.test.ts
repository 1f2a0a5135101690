// What a restore refuses on the staged copy, before it changes anything: a database carrying a trigger or a
// view (SQL of the archive's choosing), a schema newer than this Berth's, an installation that has apps, and
// config values no key at hand opens; and which key it takes when several are offered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { vetStagedBackup, type RestoreTarget } from '../src/backup/restore.ts';
import { BACKUP_FORMAT, type BackupManifest } from '../src/backup/layout.ts';
import { openDb } from '../src/state/db.ts';
import { migrations } from '../src/state/migrations.ts';
import { openConfigSecrets } from '../src/state/config-secrets.ts';
import { SecretBox, freshKeyring, readKeyFile } from '../src/state/secrets.ts';
import { BerthError } from '../src/shared/errors.ts';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-backup-vet-'));
test.after(() => fs.rmSync(work, { recursive: true, force: true }));

/** A staged backup whose database is a real Berth database (sealed with its own key file), changed by `edit`. */
function staged(name: string, edit: (sqlite: ReturnType<typeof openDb>['$client']) => void = () => {}) {
  const filesDir = path.join(work, name, 'files');
  fs.mkdirSync(path.join(filesDir, 'db'), { recursive: true });
  const keyFile = path.join(work, name, 'secrets.key');
  const db = openDb(path.join(filesDir, 'db', 'berth.db'));
  openConfigSecrets(db, keyFile);
  edit(db.$client);
  db.$client.close();
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT, berthVersion: '0.1.0', schemaVersion: migrations.length, createdAt: new Date().toISOString(),
    registry: '127.0.0.1:5000', keyId: null, includesKey: false, apps: [], images: [], entries: {},
  };
  return { staged: { manifest, filesDir }, ring: readKeyFile(keyFile)! };
}

function target(overrides: Partial<RestoreTarget> = {}): RestoreTarget {
  return {
    schemaVersion: migrations.length, appCount: () => 0, box: new SecretBox(path.join(work, 'installation.key'), freshKeyring()),
    ...overrides,
  } as RestoreTarget;
}

const refusal = (fn: () => unknown): BerthError => {
  try { fn(); } catch (err) { if (err instanceof BerthError) return err; throw err; }
  throw new Error('expected a refusal');
};

test('a database with a trigger or a view is refused before any migration runs on it', () => {
  const trigger = staged('trigger', (sqlite) => sqlite.exec('CREATE TRIGGER evil AFTER UPDATE ON tokens BEGIN DELETE FROM users; END'));
  const err = refusal(() => vetStagedBackup(target(), trigger.staged, trigger.ring));
  assert.equal(err.code, 'backup_invalid');
  assert.match(err.message, /has a trigger \(evil\), which Berth never makes/);
  const view = staged('view', (sqlite) => sqlite.exec('CREATE VIEW v AS SELECT * FROM users'));
  assert.match(refusal(() => vetStagedBackup(target(), view.staged, view.ring)).message, /has a view/);
});

test('a newer schema, or an installation with apps, is refused', () => {
  const plain = staged('plain');
  const newer = { ...plain.staged, manifest: { ...plain.staged.manifest, schemaVersion: migrations.length + 1 } };
  assert.equal(refusal(() => vetStagedBackup(target(), newer, plain.ring)).code, 'backup_too_new');
  assert.equal(refusal(() => vetStagedBackup(target({ appCount: () => 1 }), plain.staged, plain.ring)).code, 'installation_not_empty');
});

test('the key: refused when nothing at hand opens the values; the supplied key or the installation\'s when it does', () => {
  const plain = staged('keys');
  const err = refusal(() => vetStagedBackup(target(), plain.staged, null));
  assert.equal(err.code, 'secrets_key_needed');
  assert.match(err.message, /--key-file/);
  assert.equal(refusal(() => vetStagedBackup(target(), plain.staged, freshKeyring())).code, 'secrets_key_needed');
  assert.equal(vetStagedBackup(target(), plain.staged, plain.ring).keyFrom, 'supplied');
  const installation = target({ box: new SecretBox(path.join(work, 'same.key'), plain.ring) });
  assert.equal(vetStagedBackup(installation, plain.staged, null).keyFrom, 'installation');
});

test('staging folders an interrupted backup or restore left are removed at start, nothing else', async () => {
  const { removeLeftovers } = await import('../src/backup/wiring.ts');
  const dataDir = fs.mkdtempSync(path.join(work, 'data-'));
  for (const dir of ['.restore-abc', '.backup-def', 'repos', 'logs']) fs.mkdirSync(path.join(dataDir, dir, 'x'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'berth.db'), '');
  const said: string[] = [];
  removeLeftovers(dataDir, (line) => said.push(line));
  assert.deepEqual(fs.readdirSync(dataDir).sort(), ['berth.db', 'logs', 'repos']);
  assert.equal(said.length, 2);
});
