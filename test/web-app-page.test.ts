// The console app page's pure parts, in node: tab addresses (what a link, a reload or back/forward lands on)
// and how GET /apps/:app/metrics becomes chart series and release markers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appTabHref, parseAppRoute } from '../web/pages/app-route.ts';
import {
  cpuSeries, latencies, memorySeries, rangeFrom, releaseMarkers, requestRates, timeGrid, knownValues,
} from '../web/pages/metrics-series.ts';
import type { MetricsAnswer, Release } from '../src/wire/types.ts';

test('tab addresses: the Overview is the app itself, other tabs a path each, their settings after ?', () => {
  assert.deepEqual(parseAppRoute('/apps/shop'), { app: 'shop', tab: 'overview', query: new URLSearchParams() });
  assert.equal(parseAppRoute('/apps/shop/metrics')?.tab, 'metrics');
  assert.equal(parseAppRoute('/apps/shop/metrics/')?.tab, 'metrics');
  assert.equal(parseAppRoute('/apps/shop/metrics?since=6h')?.query.get('since'), '6h');
  assert.equal(parseAppRoute('/apps/shop?x=1')?.tab, 'overview');
  for (const tab of ['resources', 'activity', 'logs', 'settings', 'overview'] as const) assert.equal(parseAppRoute(`/apps/shop/${tab}`)?.tab, tab);
  // Not an app tab: the terminal has a route of its own, and unknown tabs are no app page.
  assert.equal(parseAppRoute('/apps/shop/terminal/web.1'), null);
  assert.equal(parseAppRoute('/apps/shop/addons'), null);
  assert.equal(parseAppRoute('/hosts'), null);

  assert.equal(appTabHref('shop', 'overview'), '#/apps/shop');
  assert.equal(appTabHref('shop', 'metrics', new URLSearchParams({ since: '6h' })), '#/apps/shop/metrics?since=6h');
  assert.equal(appTabHref('shop', 'logs', new URLSearchParams()), '#/apps/shop/logs');
  for (const tab of ['overview', 'resources', 'activity', 'logs', 'metrics', 'settings'] as const) {
    assert.equal(parseAppRoute(decodeURIComponent(appTabHref('shop', tab).slice(1)))?.tab, tab, 'a link parses back to its tab');
  }
});

test('the range in the address is taken only if the picker offers it', () => {
  assert.equal(rangeFrom('6h'), '6h');
  assert.equal(rangeFrom('30d'), '30d');
  assert.equal(rangeFrom(null), '1h');
  assert.equal(rangeFrom('90d'), '1h');
  assert.equal(rangeFrom('1h;drop'), '1h');
});

const answer = (over: Partial<MetricsAnswer> = {}): MetricsAnswer => ({
  app: 'shop', from: 1000, to: 1045, step: 10, instances: [], requests: [],
  requestTotals: { count: 0, rate: 0, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0, avgMs: null, p50: null, p95: null, p99: null },
  ...over,
});
const req = (t: number, s2xx: number, s5xx: number, p95: number | null) =>
  ({ t, count: s2xx + s5xx, rate: (s2xx + s5xx) / 10, s2xx, s3xx: 0, s4xx: 0, s5xx, avgMs: p95, p50: p95, p95, p99: p95 });
const point = (t: number, cpu: number | null, memory: number) =>
  ({ t, cpu, cpuMax: cpu, memory, memoryMax: memory, memoryLimit: null, rx: null, tx: null, blockRead: null, blockWrite: null });

test('series: one x axis from `from` to now; quiet steps are 0 requests but gaps in latency and per instance', () => {
  assert.deepEqual(timeGrid(answer()), [1000, 1010, 1020, 1030, 1040, 1045]);
  assert.deepEqual(timeGrid(answer({ to: 1040 })), [1000, 1010, 1020, 1030, 1040]);

  const m = answer({ requests: [req(1010, 20, 0, 12.5), req(1030, 5, 5, 300)] });
  const rates = requestRates(m);
  assert.deepEqual(rates.series.map((s) => s.label), ['2xx', '3xx', '4xx', '5xx']);
  assert.deepEqual(rates.series[0].values, [0, 2, 0, 0.5, 0, null], 'per second over the 10 s step; nothing yet at "now"');
  assert.deepEqual(rates.series[3].values, [0, 0, 0, 0.5, 0, null]);
  const p = latencies(m);
  assert.deepEqual(p.series.map((s) => s.label), ['p50', 'p95', 'p99']);
  assert.deepEqual(p.series[1].values, [null, 12.5, null, 300, null, null]);
  assert.equal(knownValues(p), 6);

  const withInstances = answer({ instances: [
    { instance: 'web.1', process: 'web', points: [point(1000, 1.5, 40 * 1048576), point(1010, null, 41 * 1048576)] },
    { instance: 'web.2', process: 'web', points: [point(1030, 3, 50 * 1048576)] },
  ] });
  assert.deepEqual(cpuSeries(withInstances).series, [
    { label: 'web.1', values: [1.5, null, null, null, null, null] },
    { label: 'web.2', values: [null, null, null, 3, null, null] },
  ]);
  assert.deepEqual(memorySeries(withInstances).series[0].values, [40, 41, null, null, null, null], 'in MiB');
  assert.deepEqual(cpuSeries(answer()).series, [], 'no instance, no series');
});

const release = (version: number, status: Release['status'], createdAt: string, finishedAt: string | null): Release => ({
  version, status, description: `Deploy ${version}`, image: null, imageId: null, imageDigest: null, port: 5000, configKeys: [],
  configChanges: { added: [], removed: [], changed: [] }, formation: [], createdBy: 'admin', createdAt, finishedAt, failureReason: null, current: false,
});

test('release markers: when each release went live (a failed one when it was made), inside the range, oldest first', () => {
  const at = (s: number) => new Date(s * 1000).toISOString();
  const releases = [
    release(4, 'failed', at(1_000_300), at(1_000_320)),
    release(3, 'succeeded', at(1_000_100), at(1_000_130)),
    release(2, 'succeeded', at(999_000), at(999_010)),          // before the range
    release(5, 'deploying', at(1_000_400), null),
  ];
  const markers = releaseMarkers(releases, 1_000_000, 1_000_500);
  assert.deepEqual(markers.map((m) => [m.version, m.t, m.failed]), [[3, 1_000_130, false], [4, 1_000_300, true], [5, 1_000_400, false]]);
  assert.match(markers[1].title, /^v4 \(failed\) · Deploy 4 · /);
  assert.deepEqual(releaseMarkers(releases, 1_000_500, 1_000_900), []);
});
