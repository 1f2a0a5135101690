// The web console's view of what runs, end to end in Debian's chromium against a real server with Docker and
// Caddy: stored-log search, metrics, alerts (with a real webhook receiver on loopback), the config diff of
// releases and the audit trail. Screenshots land in test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { BrowserContext, Page } from 'playwright-core';
import { startCaddy } from './support/caddy.ts';
import { startBerth, eventually, sleep, uniqueName, viaRouter, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook.ts';
import { launchBrowser, screenshot, signIn } from './support/browser.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let context: BrowserContext;
let page: Page;
let hook: WebhookReceiver;
const app = uniqueName('observe');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-observe-'));
const request = (route: string) => viaRouter(caddy.httpPort, `${app}.localhost`, route);

before(async () => {
  caddy = await startCaddy();
  // The alert webhook receiver is on loopback; rules are evaluated every second instead of every 10 s.
  berth = await startBerth(caddy, { BERTH_WEBHOOK_ALLOW: '127.0.0.0/8', BERTH_ALERTS_TICK_MS: '1000' });
  hook = await startWebhookReceiver();
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  await berth.ok('PATCH', `/apps/${app}/config`, { GREETING: 'first-value' });
  ({ context, page } = await launchBrowser(work));
  await signIn(page, berth.url, berth.token);
});

after(async () => {
  await context?.close();
  await hook?.close();
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

/** Runs the page's log search and answers the lines it shows once the stream has ended. */
async function searchLogs(fields: { since?: string; until?: string; text?: string; process?: string }): Promise<string[]> {
  for (const [label, value] of [['Since', fields.since ?? '10m'], ['Until', fields.until ?? ''], ['Text', fields.text ?? ''], ['Process', fields.process ?? '']]) {
    await page.getByLabel(label, { exact: true }).fill(value);
  }
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#log-results[data-state="done"]').waitFor({ timeout: 10_000 });
  return page.locator('#log-results div').allInnerTexts();
}

test('log search: text and a time window find the matching lines and no others', async () => {
  await page.goto(`${berth.url}/#/apps/${app}/logs`);
  await page.locator('#log-search').waitFor();
  const before = new Date();
  await sleep(50);
  const needle = `/needle-${Date.now()}`;
  for (const route of ['/other-1', needle, '/other-2']) assert.equal((await request(route)).status, 200);

  // The log store takes a moment to have the lines: search again until they are there (bounded).
  const lines = await eventually('the needle is stored', async () => {
    const shown = await searchLogs({ text: needle, process: 'web' });
    return shown.length ? shown : undefined;
  }, 30_000);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0], new RegExp(`web\\.1: request GET ${needle}$`));
  assert.match(await page.locator('#log-search-state').innerText(), /^1 line\.$/);

  // Without the process filter the router's access line for the same request shows up too, and nothing else.
  const both = await searchLogs({ text: needle });
  assert.equal(both.length, 2, both.join('\n'));
  assert.ok(both.some((l) => l.includes(`router: at=info method=GET path="${needle}"`)), both.join('\n'));
  assert.ok(both.every((l) => l.includes(needle)));

  // A window that ends before the requests has none of them.
  assert.deepEqual(await searchLogs({ text: needle, until: before.toISOString() }), []);
  assert.equal(await page.locator('#log-search-state').innerText(), 'No lines match.');
  // A window that is neither a duration nor a time is refused under the form, before asking the server.
  await page.getByLabel('Since', { exact: true }).fill('yesterday-ish');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#log-results[data-state="failed"]').waitFor();
  assert.match(await page.locator('#log-search-state').innerText(), /neither a duration like 2h nor a date and time/);
  await searchLogs({ text: '/other-', process: 'web' });
  await screenshot(page, 'log-search');
});

test('metrics: request counts and percentiles, CPU and memory per instance, as charts with release markers over a picked range', async () => {
  for (let i = 0; i < 20; i++) await request(`/metric-${i}`);
  await page.locator('nav.tabs').getByRole('link', { name: 'Metrics', exact: true }).click();
  await page.locator('#tab-panel[data-tab="metrics"] #metrics').waitFor();
  const metric = (key: string) => page.locator(`#metrics [data-metric="${key}"] dd`).innerText();
  // The collector reads every 10 s and the tab refreshes as often.
  await eventually('the requests are counted', async () => Number(await metric('count').catch(() => '0')) >= 20, 45_000);
  assert.ok(Number(await metric('s2xx')) >= 20);
  for (const p of ['p50', 'p95', 'p99']) assert.match(await metric(p), /^\d+(\.\d)? ms$/, p);
  const row = page.locator('#metrics tr[data-instance="web.1"]');
  await eventually('web.1 has a CPU reading', async () => /^\d+\.\d %$/.test(await row.locator('td.cpu .now').innerText().catch(() => '')), 30_000);
  assert.match(await row.locator('td.cpu .max').innerText(), /^max \d+\.\d %$/);
  assert.match(await row.locator('td.memory .now').innerText(), /^\d+\.\d MiB$/);
  assert.match(await row.locator('td.memory .max').innerText(), /^max \d+\.\d MiB$/);

  // Four time-series charts with data in them, each with a legend naming its series.
  for (const id of ['requests', 'latency', 'cpu', 'memory']) {
    const plot = page.locator(`#chart-${id}`);
    await eventually(`the ${id} chart has values`, async () => Number(await plot.getAttribute('data-values')) > 0, 30_000);
    assert.equal(await plot.locator('canvas').count(), 1, id);
  }
  assert.deepEqual(await page.locator('#chart-latency .u-legend .u-series:not(:first-child) .u-label').allInnerTexts(), ['p50', 'p95', 'p99']);
  assert.deepEqual(await page.locator('#chart-cpu .u-legend .u-series:not(:first-child) .u-label').allInnerTexts(), ['web.1']);

  // A labelled line at each release, placed at the time it went live: v1 (the image) and v2 (the config change).
  const releases = await berth.ok('GET', `/apps/${app}/releases`) as { version: number; finishedAt: string }[];
  const markers = page.locator('#chart-latency .release-marker');
  assert.deepEqual(await markers.locator('.label').allInnerTexts(), releases.map((r) => `v${r.version}`).reverse());
  for (const r of releases) {
    const marker = page.locator(`#chart-latency .release-marker[data-version="${r.version}"]`);
    assert.equal(Number(await marker.getAttribute('data-t')), Math.floor(Date.parse(r.finishedAt) / 1000), `v${r.version}`);
  }
  const lefts = await markers.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().left));
  const plotBox = (await page.locator('#chart-latency .u-over').boundingBox())!;
  assert.ok(lefts.every((x) => x >= plotBox.x && x <= plotBox.x + plotBox.width), `markers inside the plot: ${lefts} in ${JSON.stringify(plotBox)}`);
  assert.ok(lefts[0] <= lefts[1], 'v1 left of v2');
  // Every chart has them, so "did the deploy raise p95?" and "did it raise memory?" read the same way.
  assert.equal(await page.locator('#chart-memory .release-marker').count(), releases.length);
  await screenshot(page, 'app-metrics');

  // The range picker: 6h reads minute points, is kept in the address, and survives a reload.
  await page.getByRole('button', { name: '6h', exact: true }).click();
  await page.locator('#metrics[data-range="6h"][data-step="60"]').waitFor();
  assert.equal(new URL(page.url()).hash, `#/apps/${app}/metrics?since=6h`);
  assert.equal(await page.getByRole('button', { name: '6h', exact: true }).getAttribute('aria-pressed'), 'true');
  await page.reload();
  await page.locator('#metrics[data-range="6h"][data-step="60"]').waitFor({ timeout: 15_000 });
  await page.locator('#chart-latency .release-marker[data-version="2"]').waitFor();
  await page.getByRole('button', { name: '1h', exact: true }).click();
  await page.locator('#metrics[data-range="1h"][data-step="10"]').waitFor();
});

test('alerts: add a rule with a webhook, trigger it, see it firing in the page and the header', async () => {
  const hookUrl = hook.url;
  const rule = 'log "request GET /boom" >= 3 in 1m';
  await page.getByLabel('Alert rule', { exact: true }).fill(rule);
  await page.getByLabel('Webhook URL', { exact: true }).fill(hookUrl);
  await page.getByLabel('Format', { exact: true }).selectOption('json');
  await page.getByRole('button', { name: 'Add alert' }).click();
  const row = page.locator('#alerts tr[data-rule]', { hasText: rule });
  await row.waitFor();
  assert.equal(await row.getAttribute('data-state'), 'ok');
  assert.match(await row.innerText(), new RegExp(`json: ${hookUrl}`));

  await page.getByLabel('Alert rule', { exact: true }).fill('cpu > lots');
  await page.getByRole('button', { name: 'Add alert' }).click();
  await page.locator('#alerts .notice.error').waitFor();

  for (let i = 0; i < 4; i++) await request('/boom');
  await page.locator('#alerts li[data-kind="firing"]', { hasText: rule }).waitFor({ timeout: 45_000 });
  await page.locator('#alerts tr[data-state="firing"]').waitFor({ timeout: 15_000 });
  assert.match(await page.locator('.app-head [data-alerts="firing"]').innerText({ timeout: 15_000 }), /^1 alert firing$/);
  const delivered = await eventually('the webhook was called', async () => hook.bodies.find((b) => b.includes('/boom')), 15_000);
  assert.equal(JSON.parse(delivered).state, 'firing');
  await screenshot(page, 'app-observe');

  await page.getByRole('button', { name: `Remove alert rule ${rule}` }).click();
  await row.waitFor({ state: 'detached' });
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/alerts`), []);
});

test('releases: changing a value shows ~KEY, adding one +KEY; the API gives keys only', async () => {
  await page.locator('nav.tabs').getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByLabel('Key', { exact: true }).fill('GREETING');
  await page.getByLabel('Value', { exact: true }).fill('second-value');
  await page.getByRole('button', { name: 'Set', exact: true }).click();
  // The form empties once the PATCH has answered; then v3 is live in the Activity tab.
  await eventually('the form is free again', async () => (await page.getByLabel('Key', { exact: true }).inputValue()) === '', 30_000);
  await page.locator('nav.tabs').getByRole('link', { name: 'Activity', exact: true }).click();
  const v3 = page.locator('#releases tr[data-version="3"].current');
  await v3.locator('[data-status="succeeded"]').waitFor({ timeout: 30_000 });
  assert.match(await v3.innerText(), /~GREETING/);
  assert.match(await page.locator('#releases tr[data-version="2"]').innerText(), /\+GREETING/);

  const releases = await berth.ok('GET', `/apps/${app}/releases`) as { version: number; configChanges: unknown }[];
  assert.deepEqual(releases.find((r) => r.version === 3)!.configChanges, { added: [], removed: [], changed: ['GREETING'] });
  assert.deepEqual(releases.find((r) => r.version === 2)!.configChanges, { added: ['GREETING'], removed: [], changed: [] });
  assert.deepEqual(releases.find((r) => r.version === 1)!.configChanges, { added: [], removed: [], changed: [] });
  assert.ok(!JSON.stringify(releases).includes('second-value'), 'no config value in the releases');
  assert.deepEqual((await berth.ok('GET', `/apps/${app}/releases/3`)).configChanges.changed, ['GREETING']);
});

test('audit page: newest first, filtered by app and user, paged with before', async () => {
  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
  await page.getByLabel('App', { exact: true }).fill(app);
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  const changes = page.locator('table.audit tbody tr', { hasText: 'PATCH /apps/:app/config' });
  await changes.first().waitFor();
  assert.equal(await changes.count(), 2, 'the change from the API and the one from the page');
  assert.match(await changes.first().innerText(), /admin/);
  await screenshot(page, 'audit');

  await page.getByLabel('User', { exact: true }).fill('nobody-at-all');
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await page.getByText('No events match.').waitFor();

  // Pages of 5: "Older" adds the next ones, older than the last one shown, as the API lists them.
  const expected = (await berth.ok('GET', `/audit?app=${app}&limit=10`) as { id: number }[]).map((e) => e.id);
  assert.ok(expected.length > 5, `${expected.length} events of ${app}`);
  await page.goto(`${berth.url}/#/audit?app=${app}&limit=5`);
  const ids = () => page.locator('table.audit tbody tr').evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset.audit)));
  await eventually('the first page', async () => (await ids()).length === 5);
  assert.deepEqual(await ids(), expected.slice(0, 5));
  await page.getByRole('button', { name: 'Older' }).click();
  await eventually('the second page', async () => (await ids()).length === expected.length);
  assert.deepEqual(await ids(), expected, 'newest first, no event twice');
});

test('measured: the JS the console loads', async () => {
  const index = await (await fetch(`${berth.url}/`)).text();
  const script = /src="(\/assets\/main-[^"]+\.js)"/.exec(index)![1];
  const js = Buffer.from(await (await fetch(`${berth.url}${script}`)).arrayBuffer());
  const gzip = zlib.gzipSync(js).length;
  console.log(`# web console main JS (apps, app with logs/metrics/alerts, hosts, audit): ${(js.length / 1024).toFixed(1)} KiB (${(gzip / 1024).toFixed(1)} KiB gzip)`);
  assert.ok(js.length < 200 * 1024, `${js.length} bytes`);
});
