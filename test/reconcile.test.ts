// SIGKILL the server in the middle of a deploy: apps keep serving while it is down, and on start Berth
// rolls the interrupted release back, removes what it left behind, and removes orphans.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startBerth, viaRouter, eventually, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
const app = uniqueName('rec');
const host = `${app}.localhost`;
const docker = (...args: string[]) => execFileSync('docker', args).toString().trim();

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy);
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  for (const id of docker('ps', '-aq', '--filter', 'label=berth.app=orphan-app').split('\n').filter(Boolean)) docker('rm', '-f', id);
});

test('killed mid-deploy: the app keeps serving, and restart rolls the interrupted release back', async () => {
  // v2 starts slowly, so the kill lands while its instance is starting and before the route switch.
  const deploying = berth.api('PATCH', `/apps/${app}/config`, { START_DELAY_MS: '15000' }).catch(() => null);
  await eventually('v2 instance to be started', async () =>
    docker('ps', '-q', '--filter', `label=berth.app=${app}`, '--filter', 'label=berth.release=2') !== '');
  await berth.kill('SIGKILL');
  void deploying;

  // Berth is down: the app still answers through Caddy, from v1.
  for (let i = 0; i < 5; i++) assert.match((await viaRouter(caddy.httpPort, host)).body, /hello from v1 web\.1/);

  // An orphan: a Berth-labelled container of an app the database does not know.
  const owner = readFileSync(join(berth.dataDir, 'installation-id'), 'utf8').trim();
  docker('run', '-d', '--label', 'berth.managed=1', '--label', `berth.owner=${owner}`, '--label', 'berth.app=orphan-app', '--label', 'berth.release=1',
    '--label', 'berth.process=web', '--label', 'berth.index=1', '--label', 'berth.generation=0',
    '--name', `berth-orphan-${Date.now()}`, TEST_IMAGE);
  // A container of another Berth installation sharing this engine: not ours to remove.
  docker('run', '-d', '--label', 'berth.managed=1', '--label', 'berth.owner=someone-else', '--label', 'berth.app=orphan-app',
    '--name', `berth-foreign-${Date.now()}`, TEST_IMAGE);

  await berth.start();
  const releases = await berth.ok('GET', `/apps/${app}/releases`);
  assert.equal(releases[0].version, 2);
  assert.equal(releases[0].status, 'failed');
  assert.match(releases[0].failureReason, /interrupted/);
  assert.equal(releases[1].current, true);
  const ps = await berth.ok('GET', `/apps/${app}/ps`);
  assert.deepEqual(ps.map((i: any) => `${i.name}@v${i.release}`), ['web.1@v1']);
  assert.equal(docker('ps', '-aq', '--filter', 'label=berth.app=orphan-app', '--filter', `label=berth.owner=${owner}`), '');
  assert.notEqual(docker('ps', '-q', '--filter', 'label=berth.owner=someone-else'), '', 'the other installation keeps its container');
  assert.match((await viaRouter(caddy.httpPort, host)).body, /hello from v1 web\.1/);
  // Config is what v1 ran with (the interrupted change was never written), and the next deploy works normally
  // without picking up the value nothing ever ran with.
  assert.equal((await berth.ok('GET', `/apps/${app}/config`)).START_DELAY_MS, undefined);
  const next = await berth.ok('PATCH', `/apps/${app}/config`, { GREETING: 'after-restart' });
  assert.equal(next.release.version, 3);
  assert.equal(next.release.status, 'succeeded');
  assert.ok(!next.release.configKeys.includes('START_DELAY_MS'), `v3 ran with ${next.release.configKeys}`);
});

test('a container removed while Berth was down is re-created on start; a stray route is restored', async () => {
  const [before] = await berth.ok("GET", `/apps/${app}/ps`);
  await berth.kill('SIGKILL');
  docker('rm', '-f', before.containerId);
  await berth.start();
  const [after] = await berth.ok('GET', `/apps/${app}/ps`);
  assert.notEqual(after.containerId, before.containerId);
  assert.equal(after.state, 'running');
  await eventually('the app to answer through the router', async () =>
    /hello from v3 web\.1 greeting=after-restart/.test((await viaRouter(caddy.httpPort, host)).body));
});
