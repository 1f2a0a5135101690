// The pieces of "see what runs" fed by each other in one real server: requests through Caddy become
// the app's request metrics (and Prometheus counters), lines an instance prints feed a log-keyword
// alert, and destroying an app leaves no logs or metrics for a new app of the same name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCaddy } from './support/caddy.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook.ts';
import { startBerth, viaRouter, eventually, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let hook: WebhookReceiver;
const app = uniqueName('obs');

before(async () => {
  caddy = await startCaddy();
  // The alert webhook receiver is on loopback; rules are evaluated every second instead of every 10 s.
  berth = await startBerth(caddy, { BERTH_WEBHOOK_ALLOW: '127.0.0.0/8', BERTH_ALERTS_TICK_MS: '1000' });
  hook = await startWebhookReceiver();
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
});

after(async () => {
  await hook?.close();
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
});

test('requests through the router show up as the app\'s request metrics and Prometheus counters', async () => {
  for (let i = 0; i < 30; i++) assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`, `/r${i}`)).status, 200);
  for (let i = 0; i < 5; i++) await viaRouter(caddy.httpPort, `${app}.localhost`, '/more');
  const totals = await eventually('30+ requests in the metrics', async () => {
    const m = await berth.ok('GET', `/apps/${app}/metrics?since=10m`);
    return m.requestTotals.count >= 35 && m.requestTotals;
  }, 30_000);
  assert.ok(totals.s2xx >= 35, JSON.stringify(totals));
  assert.ok(totals.p50 !== null && totals.p99 !== null && totals.p50 <= totals.p99, JSON.stringify(totals));
  const prom = await fetch(`${berth.url}/metrics`, { headers: { authorization: `Bearer ${berth.token}` } });
  const text = await prom.text();
  assert.match(text, new RegExp(`app="${app}"`), text.slice(0, 500));
});

test('a log-keyword alert fires from what the instances really print', async () => {
  await berth.ok('POST', `/apps/${app}/alerts`, { rule: 'log "request GET /boom" >= 5 in 1m', webhook: hook.url });
  for (let i = 0; i < 6; i++) await viaRouter(caddy.httpPort, `${app}.localhost`, '/boom');
  const notice = await eventually('the log alert', async () => hook.bodies.find((n) => n.includes('/boom')), 40_000);
  const body = JSON.parse(notice);
  assert.equal(body.state ?? body.status, 'firing', notice);
});

test('a destroyed app leaves no stored logs or metrics to a new app of the same name', async () => {
  await berth.ok('DELETE', `/apps/${app}`, { confirm: app });
  await berth.ok('POST', '/apps', { name: app });
  const logs = await berth.api('GET', `/apps/${app}/logs?since=1h`);
  assert.equal(logs.status, 200);
  assert.equal(String(logs.body).trim(), '', 'no old lines');
  const m = await berth.ok('GET', `/apps/${app}/metrics?since=10m`);
  assert.equal(m.requestTotals.count, 0, JSON.stringify(m.requestTotals));
});
