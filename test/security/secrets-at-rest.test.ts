// Secrets at rest, against a real server: config vars set through the API are nowhere in berth.db
// (nor its WAL) in plaintext, the app still gets them in its environment, `admin:rotate-key`
// re-seals them all, and a database restored without its key file stops the server with a reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openDb } from '../../src/state/db.ts';
import { AppsStore } from '../../src/state/apps-store.ts';
import { openConfigSecrets } from '../../src/state/config-secrets.ts';
import { startCaddy, type TestCaddy } from '../support/caddy.ts';
import { TEST_IMAGE, eventually, startBerth, uniqueName, viaRouter, type BerthServer } from '../support/berth.ts';

import { CLI_ENTRY as CLI } from '../support/cli.ts';
const app = uniqueName('vault');
// Distinct, greppable values; one is also the app's visible GREETING.
const GREETING = `greet-${crypto.randomUUID()}`;
const DATABASE_URL = `postgres://shop:pw-${crypto.randomUUID()}@db/shop`;
const SECRETS = [GREETING, DATABASE_URL];

let caddy: TestCaddy;
let berth: BerthServer;
let member = '';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-secrets-at-rest-'));

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy);
  member = (await berth.ok('POST', '/users', { name: 'mallory', role: 'member' })).token;
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('PATCH', `/apps/${app}/config`, { GREETING, DATABASE_URL });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
  if (berth) fs.rmSync(berth.dataDir, { recursive: true, force: true });
});

/** A backup of the database as an operator would take it: berth.db with its WAL, nothing else. */
function copyDatabase(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  for (const file of ['berth.db', 'berth.db-wal']) {
    const from = path.join(berth.dataDir, file);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(dir, file));
  }
  return path.join(dir, 'berth.db');
}

/** Every cell of every table of the copy, as text. */
function cellsOf(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>;
    assert.ok(tables.some((t) => t.name === 'config_vars') && tables.some((t) => t.name === 'releases'), 'the copy is a real Berth database');
    return tables.flatMap(({ name }) => (db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[])
      .flatMap((row) => Object.values(row).map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v)))));
  } finally {
    db.close();
  }
}

function assertNoSecretIn(cells: string[], where: string): void {
  for (const secret of SECRETS) {
    // Also a distinctive piece of it, in case something stored it reformatted or escaped.
    for (const needle of [secret, secret.slice(-20)]) {
      assert.ok(!cells.some((cell) => cell.includes(needle)), `${where} holds "${needle}"`);
    }
  }
}

test('no config value is in the database, its WAL or its shared memory, in any table or column', async () => {
  const copy = copyDatabase('first');
  const cells = cellsOf(copy);
  assert.ok(cells.some((cell) => cell.includes('DATABASE_URL')), 'key names are kept (the console shows +KEY)');
  assertNoSecretIn(cells, 'a table of berth.db');
  // And the raw bytes of the live files, WAL frames and free pages included.
  for (const file of ['berth.db', 'berth.db-wal', 'berth.db-shm']) {
    const full = path.join(berth.dataDir, file);
    if (!fs.existsSync(full)) continue;
    assertNoSecretIn([fs.readFileSync(full).toString('latin1')], file);
  }
  const keyFile = path.join(berth.dataDir, 'secrets.key');
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600, 'the key file is private to the server');
});

test('the app gets the values in its environment, and the owner can still read them', async () => {
  const reply = await eventually('the app answers with its greeting', async () => {
    const res = await viaRouter(caddy.httpPort, `${app}.localhost`);
    return res.status === 200 && res.body.includes(`greeting=${GREETING}`) && res;
  });
  assert.ok(reply);
  const ps = await berth.ok('GET', `/apps/${app}/ps`);
  const env = execFileSync('docker', ['inspect', '-f', '{{json .Config.Env}}', ps[0].containerId]).toString();
  assert.ok((JSON.parse(env) as string[]).includes(`DATABASE_URL=${DATABASE_URL}`), 'the container got the plaintext value');
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/config`), { DATABASE_URL, GREETING });
});

test('admin:rotate-key re-seals every value under a new key; members may not rotate', async () => {
  const before = cellsOf(copyDatabase('before-rotation')).filter((cell) => cell.includes('enc1:'));
  assert.ok(before.length >= 2, 'config_vars and the release snapshots hold sealed values');

  const refused = await berth.api('POST', '/admin/rotate-key', {}, member);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error, 'forbidden');

  const cli = execFileSync(process.execPath, [CLI, 'admin:rotate-key'], {
    env: { ...process.env, BERTH_API_URL: berth.url, BERTH_TOKEN: berth.token, BERTH_CONFIG_DIR: tmp },
  }).toString();
  const [, oldKey, newKey] = /Key ([0-9a-f]{8}) replaced by ([0-9a-f]{8}); (\d+) value/.exec(cli) ?? [];
  assert.ok(oldKey && newKey && oldKey !== newKey, cli);

  const after = cellsOf(copyDatabase('after-rotation'));
  const sealed = after.filter((cell) => cell.includes('enc1:'));
  assert.equal(sealed.length, before.length);
  assert.ok(sealed.every((cell) => !before.includes(cell)), 'every ciphertext changed');
  assert.ok(sealed.every((cell) => !cell.includes(`enc1:${oldKey}:`) && cell.includes(`enc1:${newKey}:`)), 'nothing left under the old key');
  assertNoSecretIn(after, 'the rotated database');
  const keyFile = JSON.parse(fs.readFileSync(path.join(berth.dataDir, 'secrets.key'), 'utf8'));
  assert.deepEqual(Object.keys(keyFile.keys), [newKey], 'the old key is gone once nothing needs it');

  // Still readable: through the API, and by a new release's containers.
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/config`), { DATABASE_URL, GREETING });
  const { release } = await berth.ok('PATCH', `/apps/${app}/config`, { AFTER_ROTATION: '1' });
  await eventually('the new release answers with the same greeting', async () => {
    const res = await viaRouter(caddy.httpPort, `${app}.localhost`);
    return res.status === 200 && res.body.startsWith(`hello from v${release.version} `) && res.body.includes(`greeting=${GREETING}`);
  });
  const audit = await berth.ok('GET', '/audit?limit=20');
  assert.ok(audit.some((e: { action: string; status: number }) => e.action === 'POST /admin/rotate-key' && e.status === 200), 'rotation is on the audit trail');
});

test('a database restored without its key file stops the server with the reason, and makes no new key', async () => {
  const copy = copyDatabase('restored');
  const dataDir = path.dirname(copy);
  await assert.rejects(startBerth(caddy, { BERTH_DATA_DIR: dataDir }),
    /berth\.db's config values are sealed with key [0-9a-f]{8}, but the key file .*secrets\.key does not exist\. Restore the key file/);
  assert.equal(fs.existsSync(path.join(dataDir, 'secrets.key')), false);
  // With the key file back, the same copy opens and reads.
  fs.copyFileSync(path.join(berth.dataDir, 'secrets.key'), path.join(dataDir, 'secrets.key'));
  const db = openDb(copy);
  try {
    const apps = new AppsStore(db, openConfigSecrets(db, path.join(dataDir, 'secrets.key')).box);
    assert.equal(apps.config(apps.get(app).id).DATABASE_URL, DATABASE_URL);
  } finally {
    db.$client.close();
  }
});
