// Autoscaling end to end on the Docker scheduler: real requests through a real Caddy (autocannon, bounded,
// loopback) above the --rps target scale web from 1 up to its max with no failed request, the decisions are
// audited, shown by ps:autoscale and sent to the app's webhook (pinned at max too); once the load stops web
// comes back down to min, one instance at a time (5 s cooldown here). Settings survive a restart, ps:scale of
// an autoscaled type moves its minimum, and apps:destroy drops them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startBerth, eventually, uniqueName, viaRouter, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook.ts';
import { startLoad } from './support/load.ts';
import { cliOutput, runCli, type CliTarget } from './support/cli.ts';
import { launchBrowser, signIn } from './support/browser.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let hook: WebhookReceiver;
let cli: CliTarget;
const app = uniqueName('scale');

const webCount = async () => (await berth.ok('GET', `/apps/${app}/formation`)).find((f: { type: string }) => f.type === 'web').quantity as number;
const running = async () => (await berth.ok('GET', `/apps/${app}/ps`)).filter((i: { type: string; state: string }) => i.type === 'web' && i.state === 'running').length;

before(async () => {
  hook = await startWebhookReceiver();
  caddy = await startCaddy();
  berth = await startBerth(caddy, { BERTH_WEBHOOK_ALLOW: '127.0.0.0/8' }); // the receiver is on loopback
  cli = { url: berth.url, token: berth.token, home: fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-')) };
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  await berth.ok('POST', `/apps/${app}/alerts`, { rule: '5xx_rate > 50% for 1m', webhook: `${hook.url}/hook`, format: 'json' });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  await hook?.close();
});

test('load above the rps target scales web 1 → max with no failed request; pinned at max alerts; no load: back to min', async () => {
  const set = cliOutput(await runCli(cli, ['ps:autoscale', app, 'web', '--min', '1', '--max', '3', '--rps', '20', '--cooldown', '5s']), ['ps:autoscale']);
  assert.match(set, /web: 1-3 instances on 20 req\/s per instance, cooldown 5s; running 1/);
  assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`)).status, 200);

  // 120 req/s on one instance is 6× the target: straight to the max of 3.
  const load = startLoad({ port: caddy.httpPort, host: `${app}.localhost`, rate: 120, maxSec: 90 });
  let scaledAfterMs = 0;
  try {
    await eventually('web to reach 3 running instances', async () => (await running()) === 3, 60_000);
    scaledAfterMs = Date.now() - load.startedAt;
    await eventually('the pinned-at-max alert', async () => hook.received.some((b) => b?.kind === 'pinned'), 30_000);
  } finally {
    const report = await load.stop();
    console.log(`scale-up: 1 → 3 serving ${scaledAfterMs} ms after the load started; ${report.requests} requests, ${report.ok} 2xx`);
    assert.ok(report.requests > 500, `the load ran (${report.requests} requests)`);
    assert.deepEqual({ non2xx: report.non2xx, errors: report.errors, timeouts: report.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 },
      'no failed request during the scale-up');
  }
  assert.ok(scaledAfterMs < 45_000, `scaled within 45 s on this loaded machine (${scaledAfterMs} ms)`);

  const scaled = await eventually('the scale-up delivered to the webhook',
    async () => hook.received.find((b) => b?.event === 'autoscale' && b.kind === 'scaled'), 15_000);
  assert.equal(scaled.app, app);
  assert.equal(scaled.process, 'web');
  assert.equal(scaled.from, 1);
  assert.equal(scaled.to, 3);
  assert.match(scaled.reason, /req\/s per instance over the target 20 req\/s per instance/);

  // No load: down one at a time (5 s cooldown), never below min.
  await eventually('web back at 1', async () => (await webCount()) === 1, 90_000);
  // The formation changes first; its webhook is delivered after, over HTTP: await the delivery, not the count.
  const downs = () => hook.received.filter((b) => b?.kind === 'scaled' && b.to < b.from).map((b) => `${b.from}→${b.to}`);
  await eventually('both scale-downs delivered to the webhook', async () => downs().length >= 2, 15_000)
    .catch(() => assert.fail(`scale-downs delivered: ${JSON.stringify(downs())}`));
  assert.deepEqual(downs(), ['3→2', '2→1']);
  await eventually('one web instance running', async () => (await running()) === 1, 30_000);

  // What it is doing now is the last round's: the round after the scale-down says it holds at the minimum.
  let shown = '';
  await eventually('ps:autoscale says it holds at the minimum', async () => {
    shown = cliOutput(await runCli(cli, ['ps:autoscale', app]), ['ps:autoscale', app]);
    return /^ {2}holding: at the minimum$/m.test(shown);
  }, 15_000).catch(() => assert.fail(`what the autoscaler is doing now:\n${shown}`));
  assert.match(shown, /Recent decisions:/);
  assert.match(shown, /web 1 → 3: /);
  assert.match(shown, /web 2 → 1: /);
  const audit = await berth.ok('GET', `/audit?app=${app}`);
  assert.ok(audit.some((e: { actor: string; action: string; detail: string }) => e.actor === 'berth:autoscaler' && e.action === 'autoscale' && /^web 3 → 2: /.test(e.detail)),
    'each change is in the audit trail with its reason');

  // The console's Overview shows the settings and the decisions with their reasons.
  const { context, page } = await launchBrowser(cli.home!);
  try {
    await signIn(page, berth.url, berth.token);
    await page.goto(`${berth.url}/#/apps/${app}`);
    const card = page.locator('#autoscale');
    await card.locator('tr[data-process="web"]').waitFor();
    assert.match(await card.locator('tr[data-process="web"]').innerText(), /1–3\s+20 req\/s per instance\s+5s\s+1/);
    const decisions = await card.locator('.autoscale-decisions li').allInnerTexts();
    assert.ok(decisions.some((d) => /web 1 → 3: .*over the target 20 req\/s per instance/.test(d)), decisions.join('\n'));
    assert.ok(decisions.some((d) => /web 2 → 1: /.test(d)), decisions.join('\n'));
  } finally {
    await context.close();
  }
});

test('ps:scale of an autoscaled type sets its minimum, says so; settings survive a restart; --off and apps:destroy drop them', async () => {
  const scaled = cliOutput(await runCli(cli, ['ps:scale', app, 'web=2']), ['ps:scale']);
  assert.match(scaled, /web is autoscaled: ps:scale set its minimum, the range is now 2-3/);
  assert.equal(await webCount(), 2);
  const refused = await berth.api('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 0 }] });
  assert.equal(refused.status, 422);
  assert.equal(refused.body.error, 'autoscaled');

  await berth.kill('SIGTERM');
  await berth.start();
  const after = await berth.ok('GET', `/apps/${app}/autoscale`);
  assert.deepEqual(after.settings.map((s: Record<string, unknown>) => [s.process, s.min, s.max, s.signal, s.target, s.cooldownSec]), [['web', 2, 3, 'rps', 20, 5]]);

  cliOutput(await runCli(cli, ['ps:autoscale', app, 'web', '--off']), ['ps:autoscale', '--off']);
  assert.deepEqual((await berth.ok('GET', `/apps/${app}/autoscale`)).settings, []);
  cliOutput(await runCli(cli, ['ps:autoscale', app, 'web', '--max', '2', '--p95', '300ms']), ['ps:autoscale']);
  await berth.ok('DELETE', `/apps/${app}`, { confirm: app });
  await berth.ok('POST', '/apps', { name: app });
  assert.deepEqual((await berth.ok('GET', `/apps/${app}/autoscale`)).settings, [], 'a new app of the same name starts without');
});
