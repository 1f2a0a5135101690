// Stored logs end to end: a real Berth server collects a real container's output into its log store;
// /logs answers time windows, grep, process and instance filters from it (API and CLI); a killed and
// restarted server continues collecting with no gap and no duplicate; requests through Caddy show up
// as router lines.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy, type TestCaddy } from './support/caddy.ts';
import { startBerth, viaRouter, eventually, sleep, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';

import { CLI_ENTRY as CLI } from './support/cli.ts';
let caddy: TestCaddy;
let berth: BerthServer;
const app = uniqueName('logq');
const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logq-cli-'));
const ports: Record<string, number> = {};

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy);
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 2 }] });
  for (const instance of await berth.ok('GET', `/apps/${app}/ps`)) ports[instance.name] = instance.hostPort;
  assert.deepEqual(Object.keys(ports).sort(), ['web.1', 'web.2']);
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  fs.rmSync(configDir, { recursive: true, force: true });
});

/** A request straight to one instance (not through the router): its log line is "request GET <path>". */
async function hit(instance: string, route: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${ports[instance]}${route}`);
  assert.equal(res.status, 200);
  await res.text();
}

async function query(params: Record<string, string>): Promise<any[]> {
  const res = await berth.api('GET', `/apps/${app}/logs?${new URLSearchParams(params)}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  return text.trim() ? text.trim().split('\n').map((l) => JSON.parse(l)) : [];
}

const paths = (lines: any[]) => lines.map((l) => /request GET (\S+)/.exec(l.line)?.[1]).filter(Boolean);
// Two instances can log in the same millisecond (stored times are ms), so their relative order is open: compare sorted.
const sortedPaths = (lines: any[]) => paths(lines).filter((p) => p !== '/').sort(); // '/' is the health check
function assertTimeOrder(lines: any[]): void {
  for (let i = 1; i < lines.length; i++) assert.ok(lines[i - 1].time <= lines[i].time, `line ${i} is out of time order`);
}

/** Waits until the store has `count` lines matching grep. */
function stored(grep: string, count: number): Promise<any[]> {
  return eventually(`${count} stored lines matching ${grep}`, async () => {
    const lines = await query({ since: '10m', grep });
    return lines.length >= count ? lines : false;
  }, 30_000);
}

test('stored lines answer time windows, grep, process and instance filters', async () => {
  for (let i = 1; i <= 6; i++) await hit(i % 2 ? 'web.1' : 'web.2', `/first-${i}`);
  await stored('GET /first-', 6);
  await sleep(1100);
  const between = new Date().toISOString();
  await sleep(50);
  for (let i = 1; i <= 4; i++) await hit('web.2', `/second-${i}`);
  await stored('GET /second-', 4);

  const all = await query({ since: '10m', grep: 'request GET /' });
  assert.deepEqual(sortedPaths(all).filter((p) => /first|second/.test(p!)),
    ['/first-1', '/first-2', '/first-3', '/first-4', '/first-5', '/first-6', '/second-1', '/second-2', '/second-3', '/second-4']);
  assertTimeOrder(all);
  const line = all.find((l) => l.line === 'request GET /first-2');
  assert.equal(line.process, 'web');
  assert.equal(line.instance, 'web.2');
  assert.equal(line.index, 2);
  assert.equal(line.release, 1);
  assert.equal(line.stream, 'stdout');

  assert.deepEqual(sortedPaths(await query({ since: between, grep: 'GET /' })), ['/second-1', '/second-2', '/second-3', '/second-4']);
  assert.deepEqual(sortedPaths(await query({ since: '10m', until: between, grep: 'GET /' })),
    ['/first-1', '/first-2', '/first-3', '/first-4', '/first-5', '/first-6']);
  assert.deepEqual(paths(await query({ since: '10m', grep: 'GET /first-', instance: 'web.1' })), ['/first-1', '/first-3', '/first-5']);
  assert.equal((await query({ since: '10m', grep: 'GET /first-', process: 'web' })).length, 6);
  assert.equal((await query({ since: '10m', process: 'worker' })).length, 0);
  assert.equal((await query({ since: '10m', grep: 'GET /first-', limit: '2' })).length, 2);
  // The startup line of each instance is stored too.
  assert.equal((await query({ since: '10m', grep: 'listening on' })).length, 2);
});

test('bad parameters are 400 JSON errors', async () => {
  const bad: Array<Record<string, string>> = [{ since: 'yesterday' }, { until: '5x' }, { since: '1h', until: '2h' }, { limit: '0' },
    { since: '1h', instance: 'web 2' }, { until: '1m', follow: '1' }];
  for (const params of bad) {
    const res = await berth.api('GET', `/apps/${app}/logs?${new URLSearchParams(params)}`);
    assert.equal(res.status, 400, `${JSON.stringify(params)} → ${res.status}`);
    assert.equal(res.body.error, 'bad_request');
    assert.ok(res.body.message.length > 0);
  }
});

test('the CLI passes --since/--until/--grep/--instance and prints Heroku-style lines', () => {
  const res = spawnSync(process.execPath, [CLI, 'logs', '-a', app, '--since', '10m', '--grep', 'GET /first-', '--instance', 'web.1'], {
    env: { ...process.env, HOME: configDir, BERTH_CONFIG_DIR: configDir, BERTH_API_URL: berth.url, BERTH_TOKEN: berth.token },
    encoding: 'utf8', timeout: 60_000,
  });
  assert.equal(res.status, 0, res.stderr);
  const lines = res.stdout.trim().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z app\[web\.1\]: request GET \/first-1$/);
  assert.match(lines[2], /app\[web\.1\]: request GET \/first-5$/);
});

test('follow after a stored read continues with new lines', async () => {
  const abort = new AbortController();
  const res = await fetch(`${berth.url}/api/v1/apps/${app}/logs?since=10m&grep=GET%20/first-&follow=1`, {
    headers: { authorization: `Bearer ${berth.token}` }, signal: abort.signal,
  });
  const reader = res.body!.getReader();
  let text = '';
  setTimeout(() => { void hit('web.1', '/first-live'); }, 300);
  const giveUp = setTimeout(() => abort.abort(), 20_000);
  try {
    while (!text.includes('/first-live')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
  } catch { /* gave up: the assertion below says what arrived */ }
  clearTimeout(giveUp);
  abort.abort();
  const got = paths(text.trim().split('\n').map((l) => JSON.parse(l)));
  assert.deepEqual(got.slice(0, 6).sort(), ['/first-1', '/first-2', '/first-3', '/first-4', '/first-5', '/first-6']);
  assert.deepEqual(got.slice(6), ['/first-live']);
});

test('a killed and restarted server collects on with no gap and no duplicate', async () => {
  for (let i = 1; i <= 10; i++) await hit(i % 2 ? 'web.1' : 'web.2', `/gap-${i}`);
  await stored('GET /gap-', 10);
  for (let i = 11; i <= 20; i++) await hit(i % 2 ? 'web.1' : 'web.2', `/gap-${i}`); // some may not be flushed yet
  await berth.kill('SIGKILL');
  for (let i = 21; i <= 40; i++) await hit(i % 2 ? 'web.1' : 'web.2', `/gap-${i}`); // while no Berth runs
  await berth.start();
  for (let i = 41; i <= 50; i++) await hit(i % 2 ? 'web.1' : 'web.2', `/gap-${i}`);
  const lines = await stored('GET /gap-', 50);
  await sleep(1500); // a duplicate would arrive late: give it the chance
  const again = await query({ since: '10m', grep: 'GET /gap-' });
  assert.equal(again.length, 50, `expected each line once, got ${again.length}`);
  const numbers = paths(again).map((p) => Number(p!.slice('/gap-'.length))).sort((a, b) => a - b);
  assert.deepEqual(numbers, Array.from({ length: 50 }, (_, i) => i + 1));
  assert.ok(lines.length >= 50);
  // The earlier lines were not collected a second time either.
  assert.equal((await query({ since: '10m', grep: 'GET /first-' })).length, 7);
});

test('requests through the router are stored as router lines of their app', async () => {
  const marker = `/via-router-${Date.now()}`;
  const res = await viaRouter(caddy.httpPort, `${app}.localhost`, marker);
  assert.equal(res.status, 200);
  const lines = await eventually('the router line', async () => {
    const found = await query({ since: '10m', grep: `path="${marker}"` });
    return found.length ? found : false;
  }, 20_000);
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.equal(line.process, 'router');
  assert.equal(line.stream, 'router');
  assert.match(line.line, new RegExp(`^at=info method=GET path="${marker}" host=${app}\\.localhost fwd="127\\.0\\.0\\.1" status=200 duration=\\d+ms bytes=\\d+$`));
  // The app's own line for the same request is there too.
  assert.equal((await query({ since: '10m', grep: `request GET ${marker}` })).length, 1);
  assert.equal((await query({ since: '10m', process: 'router', grep: marker })).length, 1);
});

test('a newly started instance is collected at once (start events, not the 30 s safety listing)', async () => {
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 3 }] });
  const scaled = Date.now();
  await eventually('the startup line of web.3', async () => {
    const found = await query({ since: '10m', instance: 'web.3', grep: 'listening on' });
    return found.length === 1;
  }, 20_000);
  const waitedMs = Date.now() - scaled;
  assert.ok(waitedMs < 10_000, `web.3's first line was stored ${waitedMs} ms after it started`);
});
