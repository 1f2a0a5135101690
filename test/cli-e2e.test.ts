// The berth CLI against the real server, Docker and Caddy: what a user types, what a user sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { gitEnv } from './support/git-env.ts';
import { startBerth, viaRouter, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';

import { CLI_ENTRY as CLI } from './support/cli.ts';
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let configDir: string;
const app = uniqueName('cli');

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address });
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-'));
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  fs.rmSync(configDir, { recursive: true, force: true });
});

/** The CLI and git see a temp HOME, so `berth login` installs its git credential helper there, not in ~. */
function cliEnv(): NodeJS.ProcessEnv {
  return gitEnv({ HOME: configDir, BERTH_CONFIG_DIR: configDir, BERTH_API_URL: '', BERTH_TOKEN: '' });
}

function berthCli(...args: string[]): { code: number; out: string; err: string } {
  const res = spawnSync(process.execPath, [CLI, ...args], {
    env: cliEnv(),
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
  const created = ok('apps:create', app);
  assert.match(created, new RegExp(`http://127\\.0\\.0\\.1:${berth.port}/git/${app}\\.git`), 'the git remote URL is shown');
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
    env: cliEnv(),
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

test('logs --json prints one JSON object per line', () => {
  const lines = ok('logs', app, '-n', '5', '--json').trim().split('\n');
  assert.ok(lines.length >= 1 && lines.length <= 5, lines.join('\n'));
  for (const line of lines) {
    const record = JSON.parse(line);
    assert.equal(typeof record.time, 'string');
    assert.equal(typeof record.line, 'string');
    assert.equal(record.process, 'web');
  }
});

test('config:set reads KEY=@file, KEY=@- and .env lines from stdin; releases:info shows what changed', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-values-'));
  try {
    fs.writeFileSync(path.join(dir, 'greeting.txt'), 'from a file\n');
    const fromFile = ok('config:set', app, `GREETING=@${path.join(dir, 'greeting.txt')}`);
    const version = Number(/done, v(\d+)/.exec(fromFile)?.[1]);
    assert.match((await get()).body, new RegExp(`hello from v${version} web\\.1 greeting=from a file\\n`));
    const piped = spawnSync(process.execPath, [CLI, 'config:set', app, 'TLS_KEY=@-', 'LITERAL=@@handle'],
      { env: cliEnv(), encoding: 'utf8', input: 'line one\nline two\n', timeout: 120_000 });
    assert.equal(piped.status, 0, piped.stderr);
    assert.match(piped.stdout, /TLS_KEY: +\(2 lines\)/);
    const dotenv = spawnSync(process.execPath, [CLI, 'config:set', app],
      { env: cliEnv(), encoding: 'utf8', input: '# from .env\nexport GREETING="from stdin"\nDATABASE_URL=postgres://db/x?a=b\n', timeout: 120_000 });
    assert.equal(dotenv.status, 0, dotenv.stderr);
    const config = JSON.parse(ok('config', app, '--json'));
    assert.equal(config.TLS_KEY, 'line one\nline two');
    assert.equal(config.LITERAL, '@handle');
    assert.equal(config.GREETING, 'from stdin');
    assert.equal(config.DATABASE_URL, 'postgres://db/x?a=b');
    const missing = berthCli('config:set', app, 'X=@/nonexistent/berth-file');
    assert.equal(missing.code, 2);
    assert.match(missing.err, /cannot read \/nonexistent\/berth-file: no such file/);

    const latest = JSON.parse(ok('releases', app, '--json'))[0].version;
    const info = ok('releases:info', app, `v${latest}`);
    assert.match(info, new RegExp(`^=== Release v${latest} of ${app} \\(current\\)$`, 'm'));
    assert.match(info, /^Status: +succeeded$/m);
    assert.match(info, /^Config change: +added DATABASE_URL; changed GREETING$/m);
    assert.match(info, /^Formation: +web=1/m);
    const json = JSON.parse(ok('releases:info', app, String(latest), '--json'));
    assert.equal(json.version, latest);
    assert.deepEqual(json.configChanges, { added: ['DATABASE_URL'], removed: [], changed: ['GREETING'] });
    const absent = berthCli('releases:info', app, 'v999');
    assert.equal(absent.code, 1);
    assert.match(absent.err, /not found/i);
    ok('config:unset', app, 'TLS_KEY', 'LITERAL', 'DATABASE_URL', 'GREETING');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('help fits in 100 columns', () => {
  const help = ok('help');
  const long = help.split('\n').filter((line) => line.length > 100);
  assert.deepEqual(long, []);
  assert.match(help, /^ {2}releases:info APP vN +show one release/m);
  assert.ok(ok('help', 'logs').split('\n').every((line) => line.length <= 100));
});

test('git:remote adds the remote; git push uses the token through the credential helper berth login installed', async () => {
  const site = `${app}-site`;
  ok('apps:create', site);
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-repo-'));
  try {
    fs.cpSync(path.resolve(import.meta.dirname, 'fixtures/push/static-site'), repo, { recursive: true });
    const git = (...args: string[]) => spawnSync('git', args, { cwd: repo, env: cliEnv(), encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'site');
    const added = spawnSync(process.execPath, [CLI, 'git:remote', site], { cwd: repo, env: cliEnv(), encoding: 'utf8' });
    assert.equal(added.status, 0, added.stderr);
    assert.match(added.stdout, /Git remote paas → http:\/\/127\.0\.0\.1:\d+\/git\/.*\.git/);
    const remote = git('remote', 'get-url', 'paas').stdout.trim();
    assert.doesNotMatch(remote, /berth_/, 'no token in the remote URL');
    assert.doesNotMatch(fs.readFileSync(path.join(repo, '.git/config'), 'utf8'), /berth_/, 'no token in .git/config');
    const pushed = git('push', 'paas', 'main');
    assert.equal(pushed.status, 0, pushed.stderr);
    assert.match(pushed.stderr, /remote: -----> v1 deployed to/);
    assert.match((await viaRouter(caddy.httpPort, `${site}.localhost`)).body, /static site served by Berth/);
    assert.match(ok('builds', site), /succeeded\s+[0-9a-f]{7}\s+static\s+v1/);
  } finally {
    ok('apps:destroy', site, '--confirm', site);
    fs.rmSync(repo, { recursive: true, force: true });
  }
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

test('hosts lists the local engine with its load', () => {
  const out = ok('hosts');
  assert.match(out, /^NAME\s+ADDRESS\s+ROLE\s+STATUS\s+CPU\s+MEMORY\s+DISK\s+INSTANCES\s+CONTAINERS$/m);
  assert.match(out, /^local\s+127\.0\.0\.1\s+docker\s+up\s+(\d+%|-)\s+\d+\.\d\/\d+\.\dG\s+\d+\.\d\/\d+\.\dG\s+\d+\s+\d+$/m);
});
