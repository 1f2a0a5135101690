// The berth CLI against the real server, Docker and Caddy: what a user types, what a user sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startBerth, viaRouter, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';

const CLI = path.resolve(import.meta.dirname, '../src/cli/main.ts');
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let configDir: string;
const app = uniqueName('cli');

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy);
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-'));
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  fs.rmSync(configDir, { recursive: true, force: true });
});

function berthCli(...args: string[]): { code: number; out: string; err: string } {
  const res = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, BERTH_CONFIG_DIR: configDir, BERTH_API_URL: '', BERTH_TOKEN: '' },
    encoding: 'utf8', timeout: 120_000,
  });
  return { code: res.status ?? -1, out: res.stdout, err: res.stderr };
}

function ok(...args: string[]): string {
  const res = berthCli(...args);
  assert.equal(res.code, 0, `berth ${args.join(' ')} failed:\n${res.err}${res.out}`);
  return res.out;
}

const get = () => viaRouter(caddy.httpPort, `${app}.localhost`);

test('login stores the token; a wrong one is refused', () => {
  const bad = berthCli('login', '--api', berth.url, '--token', 'berth_wrong');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^berth: .*[Ii]nvalid API token/);
  ok('login', '--api', berth.url, '--token', berth.token);
  const stored = fs.statSync(path.join(configDir, 'credentials.json'));
  assert.equal(stored.mode & 0o777, 0o600);
});

test('apps:create, deploy, and the app answers through the router', async () => {
  assert.match(ok('apps:create', app), new RegExp(app));
  assert.match(ok('deploy', app, '--image', TEST_IMAGE), /v1/);
  assert.match((await get()).body, /hello from v1 web\.1/);
  const apps = ok('apps');
  assert.match(apps, new RegExp(`${app}\\s.*running`));
});

test('config:set / config / config:unset, each a release', async () => {
  ok('config:set', app, 'GREETING=hi=there', 'OTHER=1');
  assert.match(ok('config', app), /GREETING:\s+hi=there/);
  assert.match((await get()).body, /hello from v2 web\.1 greeting=hi=there/);
  ok('config:unset', app, 'OTHER');
  assert.doesNotMatch(ok('config', app), /OTHER/);
  const json = JSON.parse(ok('config', app, '--json'));
  assert.deepEqual(json, { GREETING: 'hi=there' });
});

test('releases and rollback', async () => {
  const releases = ok('releases', app);
  assert.match(releases, /v3/);
  assert.match(releases, /v1/);
  ok('rollback', app, 'v1');
  assert.match((await get()).body, /hello from v4 web\.1 greeting=\n/);
  const list = JSON.parse(ok('releases', app, '--json'));
  assert.equal(list[0].description, 'Rollback to v1');
});

test('ps:scale with a size, ps, ps:restart', async () => {
  ok('ps:scale', app, 'web=2:256M');
  const ps = JSON.parse(ok('ps', app, '--json'));
  assert.deepEqual(ps.map((i: any) => [i.name, i.memoryMB]), [['web.1', 256], ['web.2', 256]]);
  assert.match(ok('ps', app), /web\.2/);
  ok('ps:restart', app);
  assert.equal((await get()).status, 200);
  ok('ps:scale', app, 'web=1');
});

test('domains:add routes a custom hostname', async () => {
  ok('domains:add', app, `api.${app}.example.org`);
  assert.match(ok('domains', app), new RegExp(`api\\.${app}\\.example\\.org`));
  assert.match((await viaRouter(caddy.httpPort, `api.${app}.example.org`)).body, /hello from v4/);
});

test('logs -n prints Heroku-style lines; logs -t follows live', async () => {
  await get();
  const lines = ok('logs', app, '-n', '3').trim().split('\n');
  assert.ok(lines.length >= 1 && lines.length <= 3);
  assert.match(lines.at(-1)!, /^\d{4}-\d\d-\d\dT[\d:.]+Z app\[web\.1\]: request GET \//);

  const child = spawn(process.execPath, [CLI, 'logs', app, '-t', '-n', '0'], {
    env: { ...process.env, BERTH_CONFIG_DIR: configDir, BERTH_API_URL: '', BERTH_TOKEN: '' },
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const marker = `/tail-${Date.now()}`;
  await new Promise((r) => setTimeout(r, 1000));
  await viaRouter(caddy.httpPort, `${app}.localhost`, marker);
  const deadline = Date.now() + 10_000;
  while (!out.includes(marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGINT');
  assert.match(out, new RegExp(`app\\[web\\.1\\]: request GET ${marker}`));
});

test('errors are one clear line and a non-zero exit', () => {
  const missing = berthCli('releases', 'no-such-app');
  assert.equal(missing.code, 1);
  assert.equal(missing.err.trim().split('\n').length, 1);
  assert.match(missing.err, /not found/);
  const bad = berthCli('apps:create', 'Bad_Name');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /Invalid app name/);
  const usage = berthCli('ps:scale', app, 'web=lots');
  assert.equal(usage.code, 2);
  const noConfirm = berthCli('apps:destroy', app);
  assert.notEqual(noConfirm.code, 0);
});

test('apps:destroy --confirm removes the app', async () => {
  ok('apps:destroy', app, '--confirm', app);
  assert.equal((await get()).status, 404);
  assert.doesNotMatch(ok('apps'), new RegExp(app));
});
