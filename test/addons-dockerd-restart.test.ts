// An app and its Postgres add-on come back after dockerd restarts (an engine upgrade, a reboot of the engine):
// rows written before are read after, through the same DATABASE_URL, and new rows can be written. It restarts
// the machine's shared dockerd, so it runs only when BERTH_TEST_RESTART_DOCKERD=1 (.ci/run sets it; on a
// machine others are testing on, run it alone: BERTH_TEST_RESTART_DOCKERD=1 bash scripts/test.sh test/addons-dockerd-restart.test.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { fixtureRepo, gitPush } from './support/git-push.ts';
import { startBerth, viaRouter, eventually, uniqueName, type BerthServer } from './support/berth.ts';

const ENABLED = process.env.BERTH_TEST_RESTART_DOCKERD === '1';
const ROOT = path.resolve(import.meta.dirname, '..');
const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/addons/db-app');
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let work = '';
const app = uniqueName('restart');
const db = `${app}-postgres`;
const get = (route: string) => viaRouter(caddy.httpPort, `${app}.localhost`, route);

before(async () => {
  if (!ENABLED) return;
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address, BERTH_STACK_GENERIC: 'berth/node:24' });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dockerd-restart-'));
  await berth.ok('POST', '/apps', { name: app });
  const repo = fixtureRepo(FIXTURE, path.join(work, 'db-app'), `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`);
  const pushed = await gitPush(repo, 'paas', 'main');
  assert.equal(pushed.code, 0, pushed.output);
  await berth.ok('POST', `/apps/${app}/addons`, { kind: 'postgres', name: db });
});

after(async () => {
  if (!ENABLED) return;
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('after dockerd restarts, the app answers again and reads the rows it wrote before; the add-on is up and takes new rows',
  { skip: ENABLED ? false : 'restarts the shared dockerd: set BERTH_TEST_RESTART_DOCKERD=1', timeout: 600_000 }, async () => {
    const wrote = await eventually('the app on the release with DATABASE_URL', async () => { const r = await get('/pg/write?body=before'); return r.status === 200 && r; }, 90_000);
    assert.equal(wrote.body, 'stored');
    assert.equal((await get('/pg/read')).body, 'before');

    const restarted = Date.now();
    execFileSync('bash', ['-c', 'source scripts/lib.sh && restart_dockerd'], { cwd: ROOT, stdio: 'inherit', timeout: 240_000 });
    const back = await eventually('the app reading its rows after the restart', async () => {
      const r = await get('/pg/read').catch(() => null);
      return r?.status === 200 && r;
    }, 180_000);
    console.log(`# dockerd restart: the app read its rows again ${((Date.now() - restarted) / 1000).toFixed(1)} s after the restart began`);
    assert.equal(back.body, 'before', 'the rows written before the restart are there');

    await eventually('the add-on up again', async () => (await berth.ok('GET', `/apps/${app}/addons`))[0]?.status === 'up', 60_000);
    assert.equal((await get('/pg/write?body=after')).body, 'stored');
    assert.equal((await get('/pg/read')).body, 'before,after');
    const ps = await berth.ok('GET', `/apps/${app}/ps`);
    assert.ok(ps.some((i: { name: string; state: string }) => i.name === 'web.1' && i.state === 'running'), JSON.stringify(ps));
  });
