// Reading series back at a chosen step: 10 s points for steps under a minute (last 24 h only), 1 min
// rollups for longer steps, with the newest not-yet-rolled minutes taken from the 10 s points.
import { badRequest } from '../shared/errors.ts';
import { percentile, total } from './histogram.ts';
import {
  FINE_KEEP_SEC, ROLLUP_KEEP_SEC, ROLLUP_SEC, STEP_SEC, bucketFromRow, bucketStart, emptyBucket, mergeBuckets,
  type MetricsStore, type RequestBucket, type RequestRow,
} from './store.ts';
import type { InstanceSeriesPoint, MetricsAnswer, RequestSeriesPoint } from '../wire/types.ts';

const STEPS = [10, 60, 300, 900, 3600, 21600];
const DEFAULT_POINTS = 360;
const MAX_POINTS = 5000;

/** The step for a range: the given one checked, or the finest that keeps the answer near 360 points. */
export function chooseStep(sinceSec: number, stepSec: number | null): number {
  if (sinceSec > ROLLUP_KEEP_SEC) throw badRequest('bad_request', 'since can go back at most 30d.');
  if (stepSec === null) {
    return STEPS.find((s) => sinceSec / s <= DEFAULT_POINTS && (s >= ROLLUP_SEC || sinceSec <= FINE_KEEP_SEC)) ?? STEPS.at(-1)!;
  }
  if (stepSec < ROLLUP_SEC ? stepSec % STEP_SEC !== 0 : stepSec % ROLLUP_SEC !== 0) {
    throw badRequest('bad_request', 'step must be a multiple of 10s (under a minute) or of 1m.');
  }
  if (stepSec < ROLLUP_SEC && sinceSec > FINE_KEEP_SEC) throw badRequest('bad_request', '10 s points are kept 24h: use step=1m or more for longer ranges.');
  if (sinceSec / stepSec > MAX_POINTS) throw badRequest('bad_request', `That is more than ${MAX_POINTS} points: use a larger step.`);
  return stepSec;
}

interface InstanceRow {
  res: number; ts: number; instance: string; cpu: number | null; cpu_max: number | null; mem: number; mem_max: number;
  mem_limit: number | null; rx: number | null; tx: number | null; blk_r: number | null; blk_w: number | null;
}

export function queryMetrics(store: MetricsStore, app: string, sinceSec: number, stepSec: number, nowMs = Date.now()): MetricsAnswer {
  const to = Math.floor(nowMs / 1000);
  const from = bucketStart((to - sinceSec) * 1000, stepSec);
  // Which resolution covers which part of the range: rollups up to the last rolled minute, then 10 s points.
  const fineFrom = stepSec < ROLLUP_SEC ? from : Math.max(from, (store.lastRollup() ?? from - ROLLUP_SEC) + ROLLUP_SEC);
  const rows = store.sqlite.prepare(`SELECT res, ts, instance, cpu, cpu_max, mem, mem_max, mem_limit, rx, tx, blk_r, blk_w
    FROM metric_instance_points WHERE app = ? AND ((res = ${ROLLUP_SEC} AND ts >= ? AND ts < ?) OR (res = ${STEP_SEC} AND ts >= ?))
    ORDER BY ts`).all(app, from, fineFrom, fineFrom) as InstanceRow[];
  const requestRows = store.sqlite.prepare(`SELECT res, ts, c2, c3, c4, c5, other, sum_ms, hist
    FROM metric_request_points WHERE app = ? AND ((res = ${ROLLUP_SEC} AND ts >= ? AND ts < ?) OR (res = ${STEP_SEC} AND ts >= ?))
    ORDER BY ts`).all(app, from, fineFrom, fineFrom) as (RequestRow & { ts: number })[];

  const requestBuckets = new Map<number, RequestBucket>();
  const all = emptyBucket();
  const add = (ts: number, bucket: RequestBucket) => {
    const t = bucketStart(ts * 1000, stepSec);
    const into = requestBuckets.get(t) ?? emptyBucket();
    mergeBuckets(into, bucket);
    requestBuckets.set(t, into);
    mergeBuckets(all, bucket);
  };
  for (const row of requestRows) add(row.ts, bucketFromRow(row));
  for (const [ts, bucket] of store.openBuckets(app)) if (ts >= from) add(ts, bucket);

  return {
    app, from, to, step: stepSec,
    instances: instanceSeries(rows, stepSec),
    requests: [...requestBuckets].sort(([a], [b]) => a - b).map(([t, b]) => ({ t, ...requestSummary(b, stepSec) })),
    requestTotals: requestSummary(all, Math.max(1, to - from)),
  };
}

export function requestSummary(b: RequestBucket, seconds: number): Omit<RequestSeriesPoint, 't'> {
  const count = total(b.hist);
  const round = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return {
    count, rate: count / seconds, s2xx: b.c2, s3xx: b.c3, s4xx: b.c4, s5xx: b.c5,
    avgMs: count ? round(b.sumMs / count) : null,
    p50: round(percentile(b.hist, 0.5)), p95: round(percentile(b.hist, 0.95)), p99: round(percentile(b.hist, 0.99)),
  };
}

/** Rows of one instance in one step combine weighted by how many 10 s intervals each stands for. */
function instanceSeries(rows: InstanceRow[], stepSec: number): MetricsAnswer['instances'] {
  const byInstance = new Map<string, Map<number, InstanceRow[]>>();
  for (const row of rows) {
    const steps = byInstance.get(row.instance) ?? new Map<number, InstanceRow[]>();
    const t = bucketStart(row.ts * 1000, stepSec);
    steps.set(t, [...(steps.get(t) ?? []), row]);
    byInstance.set(row.instance, steps);
  }
  return [...byInstance].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([instance, steps]) => ({
    instance,
    process: instance.replace(/\.\d+$/, ''),
    points: [...steps].map(([t, group]) => combine(t, group)),
  }));
}

function combine(t: number, group: InstanceRow[]): InstanceSeriesPoint {
  const weightOf = (r: InstanceRow) => r.res / STEP_SEC;
  const avg = (pick: (r: InstanceRow) => number | null): number | null => {
    let sum = 0;
    let weight = 0;
    for (const r of group) {
      const v = pick(r);
      if (v === null) continue;
      sum += v * weightOf(r);
      weight += weightOf(r);
    }
    return weight ? sum / weight : null;
  };
  const max = (pick: (r: InstanceRow) => number | null): number | null => {
    const values = group.map(pick).filter((v) => v !== null);
    return values.length ? Math.max(...values) : null;
  };
  const r2 = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100);
  return {
    t,
    cpu: r2(avg((r) => r.cpu)), cpuMax: r2(max((r) => r.cpu_max)),
    memory: Math.round(avg((r) => r.mem) ?? 0), memoryMax: max((r) => r.mem_max) ?? 0,
    memoryLimit: max((r) => r.mem_limit),
    rx: r2(avg((r) => r.rx)), tx: r2(avg((r) => r.tx)),
    blockRead: r2(avg((r) => r.blk_r)), blockWrite: r2(avg((r) => r.blk_w)),
  };
}
