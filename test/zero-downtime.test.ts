// A client hammering the app through Caddy during five consecutive releases sees no failed request, and
// Caddy's config is never written: the app is routed by its DNS name (src/router/dnsmasq), and a release only
// changes the addresses behind it, so Caddy never reloads and never drops a connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startCaddy } from './support/caddy.ts';
import { startBerth, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { underTraffic } from './support/traffic.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
const app = uniqueName('zdt');

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy);
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 2 }] });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
});

/** Config changes Caddy received: its admin API logs every request (writes are anything but GET). */
function caddyConfigWrites(): string[] {
  return fs.readFileSync(caddy.logFile, 'utf8').split('\n').filter((line) => line.includes('"logger":"admin.api"'))
    .map((line) => JSON.parse(line) as { msg: string; method?: string; uri?: string })
    .filter((entry) => entry.msg === 'received request' && entry.method !== 'GET').map((e) => `${e.method} ${e.uri}`);
}

test('five consecutive releases under continuous traffic: zero failed requests, zero Caddy config writes', async () => {
  const writesBefore = caddyConfigWrites().length;
  let writes: string[] = [];
  const traffic = await underTraffic({
    port: caddy.httpPort, host: `${app}.localhost`, servedBy: (body) => /hello from (v\d+)/.exec(body)?.[1] ?? '?',
  }, async () => {
    for (let i = 1; i <= 5; i++) {
      const res = await berth.ok('PATCH', `/apps/${app}/config`, { ROUND: String(i) });
      assert.equal(res.release.status, 'succeeded');
    }
    writes = caddyConfigWrites().slice(writesBefore);
  });
  console.log(`zero-downtime: ${traffic.total} requests, ${traffic.failures.length} failed, ${traffic.retried} retried after a keep-alive close, served by ${[...traffic.servedBy].sort().join(' ')}`);
  assert.deepEqual(traffic.failures, []);
  assert.deepEqual(writes, [], 'no Caddy config write during the releases');
  assert.equal(traffic.retried, 0, 'without reloads Caddy never drops a connection');
  assert.ok(traffic.total > 100, `enough traffic was sent (${traffic.total})`);
  for (const v of ['v2', 'v3', 'v4', 'v5', 'v6']) assert.ok(traffic.servedBy.has(v), `${v} served requests`);
});
