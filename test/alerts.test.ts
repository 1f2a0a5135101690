// Alerts: the engine with a real SQLite store and a real webhook receiver on 127.0.0.1 (time is passed in,
// so windows and re-notification are exact), then end to end through a real Berth server: the rules API
// and a crash-looping container.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openDb } from '../src/state/db.ts';
import { AppsStore } from '../src/state/apps-store.ts';
import { openConfigSecrets } from '../src/state/config-secrets.ts';
import { MetricsStore } from '../src/metrics/store.ts';
import { AlertsStore } from '../src/alerts/store.ts';
import { WebhookNotifier } from '../src/alerts/notifier.ts';
import { OutboundPolicy, parseAllowList } from '../src/shared/outbound-address.ts';
import { OutboundGuard } from '../src/shared/outbound-request.ts';
import { AlertEngine } from '../src/alerts/engine.ts';
import { parseRule } from '../src/alerts/rules.ts';
import { startCaddy } from './support/caddy.ts';
import { startBerth, eventually, sleep, uniqueName, type BerthServer } from './support/berth.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook.ts';
import { CRASH_LOOP_DOCKERFILE, buildImage, removeImage } from './support/metrics-images.ts';
import { CLI_ENTRY } from './support/cli.ts';

function engineSetup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-alerts-'));
  const db = openDb(path.join(dir, 'berth.db'));
  const app = new AppsStore(db, openConfigSecrets(db, path.join(dir, 'secrets.key')).box).create('shop');
  const store = new AlertsStore(db.$client);
  const metrics = new MetricsStore(db.$client);
  // The receiver is on loopback: allowed the way an admin allows an internal receiver (BERTH_WEBHOOK_ALLOW).
  const guard = new OutboundGuard(new OutboundPolicy({ allow: parseAllowList('127.0.0.0/8') }));
  const notifier = new WebhookNotifier({ store, log: () => {}, backoffMs: 50, timeoutMs: 2000, guard });
  const engine = new AlertEngine({ store, metrics, notifier, runtime: { list: async () => [] }, log: () => {} });
  const addRule = (expr: string, webhook: string, extra: { format?: 'json' | 'slack'; renotifyMinutes?: number } = {}) => {
    const rule = store.add(app.id, { expr, rule: parseRule(expr), webhook, format: extra.format ?? 'json', renotifyMinutes: extra.renotifyMinutes ?? 60, createdBy: 'test' });
    engine.rulesChanged();
    return rule;
  };
  return { app, store, metrics, notifier, engine, addRule };
}

describe('alert engine', () => {
  let hook: WebhookReceiver;
  before(async () => { hook = await startWebhookReceiver(); });
  after(async () => { await hook.close(); });

  test('a rule fires once, is re-notified only after renotifyMinutes, and resolves once', async () => {
    hook.received.length = 0;
    const { metrics, engine, notifier, store, app, addRule } = engineSetup();
    addRule('p95 > 500ms for 1m', hook.url, { renotifyMinutes: 30 });
    let now = Date.UTC(2030, 0, 1, 12, 0, 0);
    const traffic = (ms: number) => {
      for (let i = 0; i < 20; i++) metrics.recordRequest({ app: 'shop', ts: now - i * 100, status: 200, durationMs: ms });
      metrics.flushRequests(now);
    };
    traffic(50);
    await engine.evaluateAll(now);
    for (let i = 0; i < 6; i++) { // slow for a minute, evaluated every 10 s
      now += 10_000;
      traffic(900);
      await engine.evaluateAll(now);
    }
    await notifier.idle();
    assert.deepEqual(hook.received.map((b) => b.event), ['firing'], 'one notification while firing');
    assert.equal(hook.received[0].app, 'shop');
    assert.equal(hook.received[0].rule, 'p95 > 500ms for 1m');
    assert.ok(hook.received[0].value > 500);

    now += 31 * 60_000; // still slow half an hour later: one reminder
    traffic(900);
    await engine.evaluateAll(now);
    now += 10_000;
    traffic(900);
    await engine.evaluateAll(now);
    await notifier.idle();
    assert.deepEqual(hook.received.map((b) => b.event), ['firing', 'still_firing']);

    for (let i = 0; i < 8; i++) { // fast again: the slow requests leave the 1 min window
      now += 10_000;
      traffic(20);
      await engine.evaluateAll(now);
    }
    await notifier.idle();
    assert.deepEqual(hook.received.map((b) => b.event), ['firing', 'still_firing', 'resolved']);
    assert.equal(hook.received[2].state, 'resolved');
    const events = store.events(app.id, 10);
    assert.deepEqual(events.map((e) => e.kind), ['resolved', 'still_firing', 'firing']);
    assert.ok(events.every((e) => e.deliveries.length === 1 && e.deliveries[0].status === 200));
  });

  test('a webhook answering 500 is retried with backoff until it answers 200; every attempt is logged', async () => {
    hook.received.length = 0;
    hook.statuses.push(500, 500);
    const { engine, notifier, store, app, addRule } = engineSetup();
    addRule('log "ERROR" >= 3 in 1m', hook.url, { format: 'slack' });
    const now = Date.now();
    engine.recordLogLine('shop', 'ERROR: disk full', now - 3000);
    engine.recordLogLine('shop', 'all fine', now - 2000);
    engine.recordLogLine('other-app', 'ERROR elsewhere', now - 2000);
    engine.recordLogLine('shop', 'an ERROR again', now - 1000);
    await engine.evaluateAll(now);
    await notifier.idle();
    assert.equal(hook.received.length, 0, 'two matching lines are below the threshold');
    engine.recordLogLine('shop', 'third ERROR', now);
    await engine.evaluateAll(now + 1000);
    await notifier.idle();
    assert.equal(hook.received.length, 3, 'two failed attempts and one that got through');
    assert.match(hook.received[2].text, /\[shop\] FIRING: `log "ERROR" >= 3 in 1m` \(3 log line/);
    const [event] = store.events(app.id, 1);
    assert.deepEqual(event.deliveries.map((d) => d.status), [500, 500, 200]);
    assert.deepEqual(event.deliveries.map((d) => d.attempt), [1, 2, 3]);
  });

  test('retries are bounded: a webhook that always fails gets maxAttempts tries', async () => {
    hook.received.length = 0;
    hook.statuses.push(...Array(10).fill(503));
    const { engine, notifier, store, app, addRule } = engineSetup();
    addRule('host_down', hook.url);
    engine.hostDown('worker-2');
    await engine.evaluateAll(Date.now());
    await notifier.idle();
    assert.equal(hook.received.length, 5);
    assert.equal(store.events(app.id, 1)[0].deliveries.at(-1)!.status, 503);
    hook.statuses.length = 0;
    engine.hostUp('worker-2');
    await engine.evaluateAll(Date.now());
    await notifier.idle();
    assert.equal(hook.received.at(-1).event, 'resolved');
  });
});

describe('alerts end to end', () => {
  let caddy: Awaited<ReturnType<typeof startCaddy>>;
  let berth: BerthServer;
  let hook: WebhookReceiver;
  const app = uniqueName('alerts');
  const image = `berth-test/crashloop-${process.pid}:latest`;

  before(async () => {
    await buildImage(image, CRASH_LOOP_DOCKERFILE);
    hook = await startWebhookReceiver();
    caddy = await startCaddy();
    // The receiver is on loopback; rules are evaluated every second instead of every 10 s.
    berth = await startBerth(caddy, { BERTH_WEBHOOK_ALLOW: '127.0.0.0/8', BERTH_ALERTS_TICK_MS: '1000' });
    await berth.ok('POST', '/apps', { name: app });
  });

  after(async () => {
    await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
    await berth?.kill('SIGTERM');
    await caddy?.stop();
    await hook?.close();
    await removeImage(image);
  });

  test('rules are added, listed and removed; bad rules, webhooks and formats answer 400', async () => {
    for (const [body, code] of [
      [{ rule: 'cpu > lots for 5m', webhook: hook.url }, 'invalid_rule'],
      [{ rule: 'latency > 5 for 1m', webhook: hook.url }, 'invalid_rule'],
      [{ rule: 'memory > 400 for 5m', webhook: hook.url }, 'invalid_rule'],
      [{ rule: 'p95 > 500ms for 1s', webhook: hook.url }, 'invalid_rule'],
      [{ rule: 42, webhook: hook.url }, 'invalid_rule'],
      [{ rule: 'cpu > 80% for 5m', webhook: 'ftp://x' }, 'invalid_webhook'],
      [{ rule: 'cpu > 80% for 5m', webhook: hook.url, format: 'xml' }, 'invalid_format'],
    ] as const) {
      const res = await berth.api('POST', `/apps/${app}/alerts`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error, code);
      assert.equal(typeof res.body.message, 'string');
    }
    const added = await berth.ok('POST', `/apps/${app}/alerts`, { rule: 'memory > 400MB for 5m', webhook: hook.url, format: 'slack' });
    assert.equal(added.kind, 'metric');
    assert.equal(added.state, 'ok');
    assert.deepEqual((await berth.ok('GET', `/apps/${app}/alerts`)).map((r: any) => r.rule), ['memory > 400MB for 5m']);
    assert.deepEqual(await berth.ok('DELETE', `/apps/${app}/alerts/${added.id}`), { deleted: added.id });
    assert.equal((await berth.api('DELETE', `/apps/${app}/alerts/${added.id}`)).status, 404);
    assert.deepEqual(await berth.ok('GET', `/apps/${app}/alerts`), []);
  });

  test('berth alerts:add, alerts and alerts:remove', async () => {
    const cli = async (...args: string[]) => (await promisify(execFile)(process.execPath, [CLI_ENTRY, ...args], {
      env: { ...process.env, BERTH_API_URL: berth.url, BERTH_TOKEN: berth.token, BERTH_CONFIG_DIR: berth.dataDir },
    })).stdout;
    assert.match(await cli('alerts:add', '-a', app, '5xx_rate > 1% for 1m', '--webhook', hook.url, '--slack'), /done, id \d+/);
    const listed = await berth.ok('GET', `/apps/${app}/alerts`);
    assert.equal(listed[0].format, 'slack');
    assert.match(await cli('alerts', '-a', app), /5xx_rate > 1% for 1m\s+ok\s+slack/);
    await cli('alerts:remove', '-a', app, String(listed[0].id));
    assert.deepEqual(await berth.ok('GET', `/apps/${app}/alerts`), []);
  });

  test('a container that exits at once after a crash fires the crash-loop rule', async () => {
    await berth.ok('POST', `/apps/${app}/deploys`, { image });
    const rule = await berth.ok('POST', `/apps/${app}/alerts`, { rule: 'restarts >= 3 in 5m', webhook: hook.url });
    await sleep(2_500); // an evaluation (every second) records the restart counts before the crash
    const [web] = await berth.ok('GET', `/apps/${app}/ps`);
    await fetch(`http://127.0.0.1:${web.hostPort}/crash`).catch(() => {});
    const fired = await eventually('the crash-loop notification', async () =>
      hook.received.find((b) => b.ruleId === rule.id && b.event === 'firing'), 60_000);
    assert.ok(fired.value >= 3, `restarts: ${fired.value}`);
    const [listed] = await berth.ok('GET', `/apps/${app}/alerts`);
    assert.equal(listed.state, 'firing');
    const events = await berth.ok('GET', `/apps/${app}/alerts/events`);
    assert.equal(events[0].kind, 'firing');
    assert.equal(events[0].deliveries[0].status, 200);
    assert.equal(hook.received.filter((b) => b.ruleId === rule.id).length, 1, 'notified once');
  });
});
