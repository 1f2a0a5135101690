// Metrics: the store on synthetic data (percentiles, rollups, pruning, Prometheus text), then end to end
// with a real Berth server and a real container burning a core.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openDb } from '../src/state/db.ts';
import { MetricsStore } from '../src/metrics/store.ts';
import { queryMetrics } from '../src/metrics/query.ts';
import { MetricsCollector } from '../src/metrics/collector.ts';
import type { InstanceStats } from '../src/runtime/types.ts';
import { startCaddy } from './support/caddy.ts';
import { startBerth, eventually, uniqueName, type BerthServer } from './support/berth.ts';
import { BURN_DOCKERFILE, buildImage, removeImage } from './support/metrics-images.ts';
import { CLI_ENTRY } from './support/cli.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const execFileP = promisify(execFile);

function tempStore(): MetricsStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-metrics-'));
  return new MetricsStore(openDb(path.join(dir, 'berth.db')).$client);
}

/** Checks Prometheus text exposition 0.0.4 line by line; returns the samples. */
function parsePrometheus(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const types = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  for (const line of text.trimEnd().split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) { types.set(type[1], type[2]); continue; }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `not a valid exposition line: ${JSON.stringify(line)}`);
    const value = Number(sample[3] === '+Inf' ? Infinity : sample[3]);
    assert.ok(!Number.isNaN(value), `bad value in ${line}`);
    const base = sample[1].replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(sample[1]) || types.get(base) === 'histogram', `${sample[1]} has no # TYPE before it`);
    const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: sample[1], labels, value });
  }
  return samples;
}

describe('metrics store', () => {
  test('request samples give percentiles within the histogram error, by status class', () => {
    const store = tempStore();
    const t0 = Date.UTC(2030, 0, 1, 12, 0, 0);
    // 1..1000 ms, one each, spread over 30 s: three 10 s buckets.
    for (let ms = 1; ms <= 1000; ms++) {
      store.recordRequest({ app: 'shop', ts: t0 + (ms % 30) * 1000, status: ms % 100 === 0 ? 503 : ms % 10 === 0 ? 404 : 200, durationMs: ms });
    }
    store.flushRequests(t0 + 60_000);
    const answer = queryMetrics(store, 'shop', 120, 10, t0 + 60_000);
    const totals = answer.requestTotals;
    assert.equal(totals.count, 1000);
    assert.equal(totals.s5xx, 10);
    assert.equal(totals.s4xx, 90);
    assert.equal(totals.s2xx, 900);
    for (const [q, expected] of [[totals.p50, 500], [totals.p95, 950], [totals.p99, 990]] as const) {
      assert.ok(q !== null && Math.abs(q - expected) / expected < 0.05, `percentile ${q} should be within 5% of ${expected}`);
    }
    assert.equal(answer.requests.length, 3);
    assert.equal(answer.requests.reduce((n, r) => n + r.count, 0), 1000);
  });

  test('collector turns two readings into cpu % of one core and byte rates', () => {
    const store = tempStore();
    const collector = new MetricsCollector({ runtime: { stats: async () => [] }, store, log: () => {} });
    const reading = (at: number, cpuNs: number, rx: number): InstanceStats => ({
      id: 'c1', app: 'shop', process: 'web', index: 1, at, cpuNs, memoryBytes: 50 * 1024 * 1024, memoryLimitBytes: 512 * 1024 * 1024,
      rxBytes: rx, txBytes: 0, blockReadBytes: 0, blockWriteBytes: 0,
    });
    assert.equal(collector.toPoints([reading(0, 0, 0)])[0].cpu, null, 'no rate from a first reading');
    const [point] = collector.toPoints([reading(10_000, 7.5e9, 10_000)]);
    assert.equal(point.cpu, 75);
    assert.equal(point.rxBytesPerSec, 1000);
    assert.equal(point.instance, 'web.1');
  });

  test('rollups average and keep maxima and merged histograms; pruning keeps 24 h of 10 s points and 30 days of rollups', () => {
    const store = tempStore();
    const t0 = Date.UTC(2030, 0, 1, 12, 0, 0);
    for (let i = 0; i < 18; i++) { // 3 minutes of 10 s points; cpu alternates 20/80, one spike of 100
      const cpu = i === 7 ? 100 : i % 2 ? 80 : 20;
      store.recordInstances(t0 + i * 10_000, [{
        app: 'shop', instance: 'web.1', cpu, memoryBytes: (100 + i) * 1024 * 1024, memoryLimitBytes: null,
        rxBytesPerSec: 10, txBytesPerSec: 20, blockReadBytesPerSec: 0, blockWriteBytesPerSec: 0,
      }]);
      for (let r = 0; r < 10; r++) store.recordRequest({ app: 'shop', ts: t0 + i * 10_000 + r, status: 200, durationMs: 10 + i * 10 });
    }
    store.flushRequests(t0 + 3 * 60_000);
    const fine = queryMetrics(store, 'shop', 600, 10, t0 + 3 * 60_000 + 30_000);
    const rolled = store.rollup(t0 + 3 * 60_000 + 30_000);
    assert.equal(rolled.to, t0 / 1000 + 180);
    const rows = store.sqlite.prepare('SELECT ts, cpu, cpu_max, mem, mem_max FROM metric_instance_points WHERE res = 60 ORDER BY ts').all() as any[];
    assert.equal(rows.length, 3);
    assert.equal(rows[0].cpu, (20 + 80 + 20 + 80 + 20 + 80) / 6);
    assert.equal(rows[1].cpu_max, 100);
    assert.equal(rows[2].mem_max, 117 * 1024 * 1024);

    // A second rollup redoes only the last minute and changes nothing.
    store.rollup(t0 + 3 * 60_000 + 30_000);
    assert.equal((store.sqlite.prepare('SELECT count(*) AS n FROM metric_instance_points WHERE res = 60').get() as any).n, 3);

    // Percentiles read from the rollups equal those read from the 10 s points (histograms merge exactly).
    const coarse = queryMetrics(store, 'shop', 600, 60, t0 + 3 * 60_000 + 30_000);
    assert.equal(coarse.requestTotals.count, 180);
    assert.equal(coarse.requestTotals.p95, fine.requestTotals.p95);
    assert.equal(coarse.requestTotals.p50, fine.requestTotals.p50);
    assert.equal(coarse.instances[0].points.length, 3);
    assert.equal(coarse.instances[0].points[1].cpuMax, 100);

    // 25 h later the 10 s points are gone, the rollups stay; 31 days later those go too.
    store.prune(t0 + 25 * 3_600_000);
    const count = (res: number) => (store.sqlite.prepare('SELECT (SELECT count(*) FROM metric_instance_points WHERE res = ?) + (SELECT count(*) FROM metric_request_points WHERE res = ?) AS n').get(res, res) as any).n;
    assert.equal(count(10), 0);
    assert.equal(count(60), 6);
    const later = queryMetrics(store, 'shop', 2 * 86_400, 300, t0 + 25 * 3_600_000);
    assert.equal(later.requestTotals.count, 180);
    store.prune(t0 + 31 * 86_400_000);
    assert.equal(count(60), 0);
  });

  test('Prometheus text: counters by status class, cumulative latency histogram, instance gauges', () => {
    const store = tempStore();
    for (const [status, ms] of [[200, 3], [200, 40], [404, 7], [500, 2000], [200, 12_000]]) {
      store.recordRequest({ app: 'shop', ts: Date.now(), status, durationMs: ms });
    }
    store.recordInstances(Date.now(), [{ app: 'shop', instance: 'web.1', cpu: 12.5, memoryBytes: 1000, memoryLimitBytes: 2000,
      rxBytesPerSec: 0, txBytesPerSec: 0, blockReadBytesPerSec: 0, blockWriteBytesPerSec: 0 }]);
    const samples = parsePrometheus(store.totals.render());
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    assert.equal(value('berth_requests_total', { app: 'shop', status: '2xx' }), 3);
    assert.equal(value('berth_requests_total', { app: 'shop', status: '5xx' }), 1);
    assert.equal(value('berth_request_duration_seconds_bucket', { le: '0.005' }), 1);
    assert.equal(value('berth_request_duration_seconds_bucket', { le: '0.05' }), 3);
    assert.equal(value('berth_request_duration_seconds_bucket', { le: '10' }), 4);
    assert.equal(value('berth_request_duration_seconds_bucket', { le: '+Inf' }), 5);
    assert.equal(value('berth_request_duration_seconds_count', { app: 'shop' }), 5);
    assert.equal(value('berth_instance_cpu_percent', { instance: 'web.1' }), 12.5);
    assert.equal(value('berth_instance_memory_limit_bytes', { instance: 'web.1' }), 2000);
  });
});

describe('metrics end to end', () => {
  let caddy: Awaited<ReturnType<typeof startCaddy>>;
  let berth: BerthServer;
  const app = uniqueName('burn');
  const image = `berth-test/burn-${process.pid}:latest`;

  before(async () => {
    await buildImage(image, BURN_DOCKERFILE);
    caddy = await startCaddy();
    berth = await startBerth(caddy, { BERTH_METRICS_TOKEN: 'scrape-secret-123' });
  });

  after(async () => {
    await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
    await berth?.kill('SIGTERM');
    await caddy?.stop();
    await removeImage(image);
  });

  test('a container burning a core shows cpu > 50 % and its memory in the metrics API', async () => {
    await berth.ok('POST', '/apps', { name: app });
    await berth.ok('POST', `/apps/${app}/deploys`, { image });
    await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', memoryMB: 256 }] });
    const point = await eventually('a cpu point above 50 %', async () => {
      const m = await berth.ok('GET', `/apps/${app}/metrics?since=5m&step=10s`);
      const web = m.instances.find((i: any) => i.instance === 'web.1');
      return web?.points.find((p: any) => p.cpu !== null && p.cpu > 50 && p.memoryLimit !== null);
    }, 60_000);
    assert.ok(point.memory > 1024 * 1024, `memory ${point.memory} present`);
    assert.equal(point.memoryLimit, 256 * 1024 * 1024);
    assert.ok(point.cpu < 110, `one busy loop uses about one core, got ${point.cpu}`);
  });

  test('bad since/step answer 400 as JSON; unknown apps 404', async () => {
    const bad = await berth.api('GET', `/apps/${app}/metrics?since=yesterday`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'bad_request');
    const fine = await berth.api('GET', `/apps/${app}/metrics?since=2d&step=10s`);
    assert.equal(fine.status, 400);
    assert.match(fine.body.message, /24h/);
    assert.equal((await berth.api('GET', '/apps/no-such-app/metrics')).status, 404);
  });

  test('GET /metrics is Prometheus text for an admin token or BERTH_METRICS_TOKEN, 401 otherwise', async () => {
    const scrape = (token?: string) => fetch(`${berth.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    assert.equal((await scrape()).status, 401);
    assert.equal((await scrape('wrong')).status, 401);
    const viaSecret = await scrape('scrape-secret-123');
    assert.equal(viaSecret.status, 200);
    assert.match(viaSecret.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const res = await scrape(berth.token);
    const samples = parsePrometheus(await res.text());
    const cpu = samples.find((s) => s.name === 'berth_instance_cpu_percent' && s.labels.app === app);
    assert.ok(cpu && cpu.value > 50, `cpu gauge of ${app}: ${cpu?.value}`);
  });

  test('berth metrics prints a per-process summary', async () => {
    const { stdout } = await execFileP(process.execPath, [CLI_ENTRY, 'metrics', '-a', app, '--since', '10m'], {
      env: { ...process.env, BERTH_API_URL: berth.url, BERTH_TOKEN: berth.token, BERTH_CONFIG_DIR: berth.dataDir },
    });
    assert.match(stdout, /PROCESS\s+INSTANCES\s+CPU AVG\s+CPU MAX\s+MEM AVG/);
    const row = stdout.split('\n').find((line) => line.startsWith('web '));
    assert.ok(row, stdout);
    const [, instances, , cpuMax, memAvg, , limit] = row.trim().split(/\s{2,}/);
    assert.equal(instances, '1');
    assert.ok(Number(cpuMax.replace('%', '')) > 50, row);
    assert.match(memAvg, /^\d+\.\d MB$/);
    assert.equal(limit, '256 MB');
    assert.match(stdout, /No requests in this span\./);
  });
});
