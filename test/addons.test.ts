// Add-ons end to end on the Docker scheduler: a pushed Node app (pg, mysql2 from the npm registry) stores and
// reads rows through the DATABASE_URL Berth set; the data survives a redeploy, ps:restart and a Berth restart;
// Redis and MariaDB accept the URLs given; an app that is not attached cannot reach the database; owned vars,
// bad input, access and destroy behave as documented.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { gitEnv } from './support/git-env.ts';
import { fixtureRepo, gitPush } from './support/git-push.ts';
import { runCli, cliOutput, type CliTarget } from './support/cli.ts';
import { startBerth, viaRouter, eventually, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { DockerRuntime } from '../src/runtime/docker/index.ts';
import { isAddonContainer, serviceContainerName } from '../src/runtime/docker/service-options.ts';

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/addons/db-app');
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let work: string;
let repo: string;
const app = uniqueName('addons');
let other = uniqueName('addons-b');
const pgName = `${app}-postgres`;

const target = (token = berth.token): CliTarget => ({ url: berth.url, token, home: work });
const cli = async (...args: string[]) => cliOutput(await runCli(target(), args), args);
const get = (route: string) => viaRouter(caddy.httpPort, `${app}.localhost`, route);
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8', env: gitEnv() }).trim();

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address, BERTH_STACK_GENERIC: 'berth/node:24' });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-addons-'));
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', '/apps', { name: other });
  await berth.ok('POST', `/apps/${other}/deploys`, { image: TEST_IMAGE });
  repo = fixtureRepo(FIXTURE, path.join(work, 'db-app'), `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`);
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.api('DELETE', `/apps/${other}`, { confirm: other });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

async function push(): Promise<void> {
  const pushed = await gitPush(repo, 'paas', 'main');
  assert.equal(pushed.code, 0, pushed.output);
}

/** The running web container of an app (by its labels). */
async function webContainer(name: string): Promise<string> {
  const [c] = await docker.listContainers({ filters: { label: [`berth.app=${name}`, 'berth.process=web', 'berth.managed=1'] } });
  assert.ok(c, `no running web container of ${name}`);
  return c.Id;
}

/** A TCP connection attempt from inside a container: "connected" or the error's code. */
function probeFrom(container: string, host: string, port: number): string {
  const script = `const s=require('net').connect(${port},'${host}');s.setTimeout(3000,()=>{console.log('timeout');process.exit()});` +
    `s.on('connect',()=>{console.log('connected');process.exit()});s.on('error',(e)=>{console.log(e.code);process.exit()})`;
  return execFileSync('docker', ['exec', container, 'node', '-e', script], { encoding: 'utf8', timeout: 20_000 }).trim();
}

async function revealedUrl(appName: string, addon: string): Promise<URL> {
  return new URL((await berth.ok('GET', `/apps/${appName}/addons/${addon}?reveal=true`)).url);
}

test('postgres: created with the CLI, DATABASE_URL set, rows stored and read through it, kept across redeploy and ps:restart', { timeout: 600_000 }, async () => {
  await push();
  const created = await cli('addons:create', app, 'postgres');
  assert.match(created, /DATABASE_URL set in v\d+/);
  const service = await docker.getContainer(serviceContainerName(pgName)).inspect();
  assert.deepEqual(service.HostConfig.CapDrop, ['ALL']);
  assert.deepEqual(service.HostConfig.SecurityOpt, ['no-new-privileges']);
  assert.ok((service.HostConfig.PidsLimit ?? 0) > 0);
  assert.equal(service.HostConfig.Memory, 512 * 1024 * 1024);
  assert.deepEqual(service.HostConfig.PortBindings ?? {}, {}, 'never published on a host port');
  assert.deepEqual(Object.keys(service.NetworkSettings.Networks).map((n) => n.endsWith(`-${app}`)), [true], 'on the app\'s network only');

  assert.equal((await eventually('the app on the new release', async () => { const r = await get('/pg/write?body=first'); return r.status === 200 && r; }, 60_000)).body, 'stored');
  assert.equal((await get('/pg/read')).body, 'first');

  git('commit', '-q', '--allow-empty', '-m', 'redeploy');
  await push();
  assert.equal((await get('/pg/read')).body, 'first', 'the row survives a redeploy');
  await berth.ok('POST', `/apps/${app}/ps/restart`, {});
  assert.equal((await eventually('the app after ps:restart', async () => { const r = await get('/pg/read'); return r.status === 200 && r; }, 60_000)).body, 'first');

  assert.deepEqual(await berth.ok('GET', `/apps/${app}/config/no-review`), ['DATABASE_URL'], 'review apps cannot reach the service: no copy');
  const listed = await cli('addons', app);
  assert.match(listed, new RegExp(`postgres\\s+${pgName}\\s+(up|starting)\\s+512M\\s+${app}:DATABASE_URL`));
  const info = await cli('addons:info', app, pgName);
  assert.match(info, /postgres:\/\/berth:\*{8}@/);
  assert.doesNotMatch(info, /[0-9a-f]{48}/, 'the password is masked');
  assert.equal((await revealedUrl(app, pgName)).password.length, 48);
  // The converger's and ps's view: instances only.
  const ps = await berth.ok('GET', `/apps/${app}/ps`);
  assert.ok(!JSON.stringify(ps).includes(serviceContainerName(pgName)), 'ps does not list the service');
});

test('addons:connect runs psql inside the service with a TTY, through the console terminal\'s websocket', { timeout: 120_000 }, async () => {
  const res = await runCli(target(), ['addons:connect', app, pgName], { input: 'SELECT 6*7 AS answer;\n\\q\n', timeoutMs: 60_000 });
  assert.equal(res.code, 0, res.err + res.out);
  assert.match(res.out, /answer\s*\r?\n-+\r?\n\s*42/);
  const missing = await runCli(target(), ['addons:connect', app, 'no-such-addon']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /not found/);
});

test('the add-on owns its var: config:set and config:unset of it are refused, naming it', async () => {
  const set = await berth.api('PATCH', `/apps/${app}/config`, { DATABASE_URL: 'postgres://elsewhere/x' });
  assert.equal(set.status, 422);
  assert.match(set.body.message, new RegExp(`owned by add-on "${pgName}"`));
  const unset = await runCli(target(), ['config:unset', app, 'DATABASE_URL']);
  assert.notEqual(unset.code, 0);
  assert.match(unset.err + unset.out, new RegExp(pgName));
});

test('redis and mysql accept connections with the URLs given, from inside the app', { timeout: 300_000 }, async () => {
  await cli('addons:create', app, 'redis', '--size', '256M');
  await cli('addons:create', app, 'mysql', '--name', `${app}-maria`);
  const redis = await eventually('the app with REDIS_URL', async () => { const r = await get('/redis'); return r.status === 200 && r; }, 60_000);
  assert.match(redis.body, /\+OK\s+\+PONG/);
  const maria = await eventually('the app with MYSQL_URL', async () => { const r = await get('/mysql'); return r.status === 200 && r; }, 60_000);
  assert.equal(maria.body, 'answer=42');
});

test('bad input: unknown kind 422 listing kinds, name clash 409, destroy without confirm 400, unknown scheme 422', async () => {
  const kind = await berth.api('POST', `/apps/${app}/addons`, { kind: 'mongodb' });
  assert.equal(kind.status, 422);
  assert.match(kind.body.message, /postgres, redis, mysql/);
  assert.equal((await berth.api('POST', `/apps/${app}/addons`, { kind: 'postgres', name: pgName })).status, 409);
  assert.equal((await berth.api('POST', `/apps/${app}/addons`, { kind: 'redis', name: '../etc' })).status, 422);
  const noConfirm = await runCli(target(), ['addons:destroy', app, pgName]);
  assert.notEqual(noConfirm.code, 0);
  assert.match(noConfirm.err, /confirm/);
  assert.equal((await berth.api('DELETE', `/apps/${app}/addons/${pgName}`, { confirm: 'nope' })).status, 400);
  const scheme = await berth.api('POST', `/apps/${app}/addons/attach`, { url: 'ftp://u:p@db.example/x', as: 'OTHER_URL' });
  assert.equal(scheme.status, 422);
  assert.equal(scheme.body.error, 'unknown_scheme');
  const outside = await berth.ok('POST', `/apps/${app}/addons/attach`, { url: 'postgres://u:s3cret@db.example:5432/x', as: 'ANALYTICS_URL' });
  assert.equal(outside.var, 'ANALYTICS_URL');
  assert.equal((await berth.ok('GET', `/apps/${app}/config`)).ANALYTICS_URL, 'postgres://u:s3cret@db.example:5432/x');
  assert.equal((await berth.api('PATCH', `/apps/${app}/config`, { ANALYTICS_URL: null })).status, 422);
  const audit = JSON.stringify(await berth.ok('GET', `/audit?app=${app}`));
  assert.match(audit, /attached an outside postgres service as ANALYTICS_URL/);
  assert.doesNotMatch(audit, /s3cret/, 'no secret in the audit trail');
  await cli('addons:detach', app, 'ANALYTICS_URL');
  assert.equal((await berth.ok('GET', `/apps/${app}/config`)).ANALYTICS_URL, undefined);
});

test('an app without the attach cannot reach the database; attached, it can; a member cannot attach another team\'s add-on', { timeout: 300_000 }, async () => {
  const pg = await revealedUrl(app, pgName);
  const outsider = await webContainer(other);
  const refused = probeFrom(outsider, pg.hostname, 5432);
  assert.notEqual(refused, 'connected', `${other} reached ${pgName} without being attached`);

  const bob = (await berth.ok('POST', '/users', { name: uniqueName('bob'), role: 'member' }));
  await berth.ok('POST', `/apps/${other}/access`, { user: bob.name });
  const denied = await berth.api('POST', `/apps/${other}/addons/attach`, { name: pgName }, bob.token);
  assert.equal(denied.status, 404, 'a member without access to the add-on\'s app');

  await cli('addons:attach', other, pgName, '--as', 'SHOP_DATABASE_URL');
  const shared = new URL((await berth.ok('GET', `/apps/${other}/config`)).SHOP_DATABASE_URL);
  const attached = await webContainer(other);
  assert.equal(probeFrom(attached, shared.hostname, 5432), 'connected');
  assert.match(await cli('addons', app), new RegExp(`${other}:SHOP_DATABASE_URL`));

  // apps:rename puts the app on a network of its new name: the service follows it there.
  const renamed = `${other}-r`;
  await cli('apps:rename', other, renamed);
  other = renamed;
  const moved = await eventually('SHOP_DATABASE_URL on the renamed app\'s network', async () => {
    const url = new URL((await berth.ok('GET', `/apps/${other}/config`)).SHOP_DATABASE_URL);
    return url.hostname !== shared.hostname && url;
  }, 60_000);
  assert.equal(await eventually('the renamed app reaching the database', async () =>
    probeFrom(await webContainer(other), moved.hostname, 5432) === 'connected' && 'connected', 60_000), 'connected');

  await cli('addons:detach', other, pgName);
  assert.equal((await berth.ok('GET', `/apps/${other}/config`)).SHOP_DATABASE_URL, undefined);
  assert.notEqual(probeFrom(await webContainer(other), moved.hostname, 5432), 'connected');
});

test('reconcile leaves the services alone across a Berth restart; the data is still there', { timeout: 300_000 }, async () => {
  const before = await docker.getContainer(serviceContainerName(pgName)).inspect();
  await berth.kill('SIGKILL');
  await berth.start();
  await eventually('reconcile done', async () => berth.output.includes('reconciled:'), 60_000);
  const after = await docker.getContainer(serviceContainerName(pgName)).inspect();
  assert.equal(after.Id, before.Id);
  assert.equal(after.State.StartedAt, before.State.StartedAt, 'never restarted');
  assert.equal((await eventually('the app after the restart', async () => { const r = await get('/pg/read'); return r.status === 200 && r; }, 60_000)).body, 'first');
});

test('a service whose container was removed comes back at the next start, with the data its volume kept', { timeout: 300_000 }, async () => {
  const before = await docker.getContainer(serviceContainerName(pgName)).inspect();
  await berth.kill('SIGKILL');
  await docker.getContainer(serviceContainerName(pgName)).remove({ force: true });
  await berth.start();
  await eventually('the service started again', async () => berth.output.includes(`add-on ${pgName}: its service was missing and is back`), 120_000);
  const after = await docker.getContainer(serviceContainerName(pgName)).inspect();
  assert.notEqual(after.Id, before.Id, 'a new container');
  assert.equal((await eventually('the app reads its rows again', async () => { const r = await get('/pg/read'); return r.status === 200 && r; }, 60_000)).body, 'first');
});

test('the runtime never lists an add-on\'s container as an instance, even one labelled berth.managed', async () => {
  const owner = `addons-exempt-${Date.now().toString(36)}`;
  assert.equal(isAddonContainer({ 'berth.addon': 'x' }), true);
  assert.equal(isAddonContainer({ 'berth.managed': '1' }), false);
  const name = `berth-addon-exempt-${Date.now().toString(36)}`;
  const container = await docker.createContainer({
    name, Image: TEST_IMAGE, Labels: { 'berth.managed': '1', 'berth.owner': owner, 'berth.app': 'exempt', 'berth.addon': 'exempt-db' },
  });
  try {
    const runtime = new DockerRuntime({ socketPath: '/var/run/docker.sock', owner });
    assert.deepEqual(await runtime.list(), []);
  } finally {
    await container.remove({ force: true });
  }
});

test('addons:destroy with --confirm removes the service and its volume and unsets the var; apps:destroy takes the rest', { timeout: 300_000 }, async () => {
  await cli('addons:destroy', app, `${app}-maria`, '--confirm', `${app}-maria`);
  await assert.rejects(docker.getContainer(serviceContainerName(`${app}-maria`)).inspect());
  assert.equal((await berth.ok('GET', `/apps/${app}/config`)).MYSQL_URL, undefined);
  const volumes = (await docker.listVolumes()).Volumes.map((v) => v.Name);
  assert.ok(!volumes.some((v) => v.endsWith(`-${app}-maria`)), 'the volume went with it');

  await berth.ok('DELETE', `/apps/${app}`, { confirm: app });
  for (const name of [pgName, `${app}-redis`]) await assert.rejects(docker.getContainer(serviceContainerName(name)).inspect());
  const left = (await docker.listVolumes()).Volumes.map((v) => v.Name).filter((v) => v.includes(`-${app}-`));
  assert.deepEqual(left, []);
});
