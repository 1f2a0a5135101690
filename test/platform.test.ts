// The platform core end to end: real dockerd, real Caddy, real Berth server, the hello test image.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCaddy } from './support/caddy.ts';
import { startBerth, viaRouter, eventually, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
const app = uniqueName('core');
const host = `${app}.localhost`;

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy);
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
});

const get = (route = '/') => viaRouter(caddy.httpPort, host, route);

test('a new app is routed at once and answers 503 until its first deploy', async () => {
  const created = await berth.ok('POST', '/apps', { name: app });
  assert.equal(created.name, app);
  assert.equal(created.status, 'new');
  assert.match(created.url, new RegExp(`^http://${app}\\.localhost:${caddy.httpPort}/$`));
  const res = await get();
  assert.equal(res.status, 503);
  assert.match(res.body, /No instance of .* is running/);
});

test('deploy an image: release v1 runs web.1 behind the router', async () => {
  const release = await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  assert.equal(release.version, 1);
  assert.equal(release.status, 'succeeded');
  assert.match(release.imageId, /^sha256:[0-9a-f]{64}$/);
  assert.equal(release.current, true);
  const res = await get();
  assert.equal(res.status, 200);
  assert.match(res.body, /hello from v1 web\.1/);
  const ps = await berth.ok('GET', `/apps/${app}/ps`);
  assert.equal(ps.length, 1);
  assert.equal(ps[0].name, 'web.1');
  assert.equal(ps[0].state, 'running');
  assert.equal(ps[0].host, '127.0.0.1');
  // The app port is published on loopback only, and PORT/DYNO are injected.
  const direct = await fetch(`http://127.0.0.1:${ps[0].hostPort}/`).then((r) => r.text());
  assert.match(direct, /hello from v1 web\.1/);
});

test('config:set makes release v2 with the new value; config:unset makes v3', async () => {
  const set = await berth.ok('PATCH', `/apps/${app}/config`, { GREETING: 'ahoy=there' });
  assert.deepEqual(set.config, { GREETING: 'ahoy=there' });
  assert.equal(set.release.version, 2);
  assert.match((await get()).body, /hello from v2 web\.1 greeting=ahoy=there/);
  const unset = await berth.ok('PATCH', `/apps/${app}/config`, { GREETING: null });
  assert.deepEqual(unset.config, {});
  assert.equal(unset.release.version, 3);
  assert.match((await get()).body, /hello from v3 web\.1 greeting=\n/);
});

test('releases are listed newest first and rollback re-creates an older release as a new one', async () => {
  const list = await berth.ok('GET', `/apps/${app}/releases`);
  assert.deepEqual(list.map((r: any) => r.version), [3, 2, 1]);
  assert.deepEqual(list.map((r: any) => r.current), [true, false, false]);
  const rolled = await berth.ok('POST', `/apps/${app}/rollback`, { version: 'v2' });
  assert.equal(rolled.version, 4);
  assert.equal(rolled.description, 'Rollback to v2');
  assert.equal(rolled.imageId, list[1].imageId);
  assert.match((await get()).body, /hello from v4 web\.1 greeting=ahoy=there/);
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/config`), { GREETING: 'ahoy=there' });
  // v2 itself is unchanged: releases are immutable.
  const v2 = await berth.ok('GET', `/apps/${app}/releases/2`);
  assert.equal(v2.version, 2);
  assert.equal(v2.description, 'Set GREETING config vars');
});

test('a release that fails its health check is marked failed and the old one keeps serving', async () => {
  const res = await berth.api('PATCH', `/apps/${app}/config`, { FAIL_HEALTH: '1' });
  assert.equal(res.status, 422);
  assert.equal(res.body.error, 'release_failed');
  assert.match(res.body.message, /v5 failed: web\.1 failed its health check/);
  const releases = await berth.ok('GET', `/apps/${app}/releases`);
  assert.equal(releases[0].version, 5);
  assert.equal(releases[0].status, 'failed');
  assert.equal(releases[0].current, false);
  assert.equal(releases[1].current, true);
  // Nothing of v5 is left running, config is as before, and v4 answers.
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/config`), { GREETING: 'ahoy=there' });
  const ps = await berth.ok('GET', `/apps/${app}/ps`);
  assert.deepEqual(ps.map((i: any) => `${i.name}@v${i.release}`), ['web.1@v4']);
  assert.match((await get()).body, /hello from v4 web\.1/);
});

test('a crashing release fails fast without touching the running one', async () => {
  const started = Date.now();
  const res = await berth.api('PATCH', `/apps/${app}/config`, { CRASH_ON_START: '1' });
  assert.equal(res.status, 422);
  assert.match(res.body.message, /crashed|exited|gone/);
  assert.ok(Date.now() - started < 15_000, 'a crash is noticed before the health timeout');
  assert.match((await get()).body, /hello from v4 web\.1/);
});

test('ps:scale web=3 spreads requests round-robin over three instances; scaling down keeps serving', async () => {
  const formation = await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 3 }] });
  assert.equal(formation[0].quantity, 3);
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) seen.add(/web\.\d/.exec((await get()).body)![0]);
  assert.deepEqual([...seen].sort(), ['web.1', 'web.2', 'web.3']);
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 1 }] });
  const ps = await berth.ok('GET', `/apps/${app}/ps`);
  assert.deepEqual(ps.map((i: any) => i.name), ['web.1']);
  for (let i = 0; i < 4; i++) assert.match((await get()).body, /web\.1/);
});

test('ps:resize sets memory and cpu limits on the containers', async () => {
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', memoryMB: 256, cpus: 0.5 }] });
  const ps = await berth.ok('GET', `/apps/${app}/ps`);
  assert.equal(ps.length, 1);
  assert.equal(ps[0].memoryMB, 256);
  assert.equal(ps[0].cpus, 0.5);
  const { execFileSync } = await import('node:child_process');
  const limits = execFileSync('docker', ['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.Init}} {{.HostConfig.RestartPolicy.Name}}', ps[0].containerId]).toString().trim();
  assert.equal(limits, `${256 * 1024 * 1024} 500000000 true unless-stopped`);
  assert.match((await get()).body, /hello from v4 web\.1/);
});

test('a crashed instance comes back on the same port (restart policy)', async () => {
  const before = (await berth.ok('GET', `/apps/${app}/ps`))[0];
  await get('/crash');
  await eventually('the instance to restart', async () => {
    const [now] = await berth.ok('GET', `/apps/${app}/ps`);
    return now.restartCount > before.restartCount && now.state === 'running';
  });
  const after = (await berth.ok('GET', `/apps/${app}/ps`))[0];
  assert.equal(after.hostPort, before.hostPort);
  await eventually('the app to answer again', async () => (await get()).status === 200);
});

test('ps:restart replaces every instance with a fresh one, without downtime', async () => {
  const before = (await berth.ok('GET', `/apps/${app}/ps`))[0];
  await berth.ok('POST', `/apps/${app}/ps/restart`, {});
  const after = await berth.ok('GET', `/apps/${app}/ps`);
  assert.equal(after.length, 1);
  assert.notEqual(after[0].containerId, before.containerId);
  assert.equal((await get()).status, 200);
});

test('custom domains route to the app and are removed again', async () => {
  const custom = `www.${app}.example.com`;
  await berth.ok('POST', `/apps/${app}/domains`, { hostname: custom.toUpperCase() });
  const domains = await berth.ok('GET', `/apps/${app}/domains`);
  assert.deepEqual(domains.map(({ hostname, kind }: { hostname: string; kind: string }) => ({ hostname, kind })),
    [{ hostname: host, kind: 'default' }, { hostname: custom, kind: 'custom' }]);
  assert.equal(domains[0].certificate.state, 'internal'); // *.localhost: Caddy's own CA (ACME: test/https-acme.test.ts)
  assert.match((await viaRouter(caddy.httpPort, custom)).body, /hello from v4/);
  await berth.ok('DELETE', `/apps/${app}/domains/${custom}`);
  const gone = await viaRouter(caddy.httpPort, custom);
  assert.equal(gone.status, 404);
  assert.match(gone.body, /No Berth app/);
});

test('logs: -n gives the last lines with process and instance; -t follows new lines live', async () => {
  await get('/logged-path');
  const tail = await berth.api('GET', `/apps/${app}/logs?tail=5`);
  const lines = String(tail.body).trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.length >= 1 && lines.length <= 5);
  const last = lines.at(-1);
  assert.equal(last.process, 'web');
  assert.equal(last.index, 1);
  assert.match(last.line, /request GET \/logged-path/);
  assert.ok(!Number.isNaN(Date.parse(last.time)));

  const abort = new AbortController();
  const res = await fetch(`${berth.url}/api/v1/apps/${app}/logs?tail=0&follow=1`, {
    headers: { authorization: `Bearer ${berth.token}` }, signal: abort.signal,
  });
  const reader = res.body!.getReader();
  let text = '';
  const marker = `/follow-${Date.now()}`;
  setTimeout(() => { void get(marker); }, 500);
  const deadline = Date.now() + 15_000;
  while (!text.includes(marker) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  abort.abort();
  assert.match(text, new RegExp(`request GET ${marker}`));
});

test('apps list shows status, release and instance count; destroy needs confirmation and removes everything', async () => {
  const list = await berth.ok('GET', '/apps');
  const mine = list.find((a: any) => a.name === app);
  assert.equal(mine.status, 'running');
  assert.equal(mine.currentRelease, 4);
  assert.equal(mine.instances, 1);
  const refused = await berth.api('DELETE', `/apps/${app}`, { confirm: 'nope' });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error, 'confirmation_required');
  await berth.ok('DELETE', `/apps/${app}`, { confirm: app });
  assert.equal((await berth.api('GET', `/apps/${app}`)).status, 404);
  const { execFileSync } = await import('node:child_process');
  const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=berth.app=${app}`]).toString().trim();
  assert.equal(left, '');
  assert.equal((await get()).status, 404);
});
