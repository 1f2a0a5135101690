// Whether a rule's condition holds right now, from the metrics store and the in-memory signals.
//   cpu/memory: every 10 s point of the window has some instance past the threshold (sustained), and the
//               points cover the window (a rule added a minute ago cannot claim "for 5m");
//   p50/p95/p99, 5xx_rate, 4xx_rate: all requests of the window together (no requests: not breached);
//   log, restarts: counted over the window; host_down: any host reported down.
import { merge, percentile, total, type Histogram } from '../metrics/histogram.ts';
import { STEP_SEC, bucketFromRow, type MetricsStore, type RequestRow } from '../metrics/store.ts';
import { compare, formatValue, type Rule } from './rules.ts';
import type { HostStatus, LogKeywordCounter, RestartTracker } from './signals.ts';

export interface Verdict { breached: boolean; value: number | null; message: string }

export interface Signals { metrics: MetricsStore; logs: LogKeywordCounter; restarts: RestartTracker; hosts: HostStatus }

/** A 10 s point is written when its interval closes, so the newest one is up to two intervals old. */
const WRITE_LAG_SEC = 2 * STEP_SEC;

export function evaluate(target: { id: number; app: string; rule: Rule }, s: Signals, nowMs: number): Verdict {
  const { rule, app } = target;
  switch (rule.kind) {
    case 'host_down': {
      const down = s.hosts.downHosts();
      return { breached: down.length > 0, value: down.length, message: down.length ? `host(s) down: ${down.join(', ')}` : 'all hosts up' };
    }
    case 'log': {
      const n = s.logs.count(target.id, rule.windowMs, nowMs);
      return { breached: compare(n, rule.op, rule.threshold), value: n, message: `${n} log line(s) with "${rule.keyword}" in the window` };
    }
    case 'crash_loop': {
      const n = s.restarts.restartsWithin(app, rule.windowMs, nowMs);
      return { breached: n >= rule.threshold, value: n, message: `${n} restart(s) in the window` };
    }
    case 'metric':
      return rule.metric === 'cpu' || rule.metric === 'memory'
        ? sustained(app, rule, s.metrics, nowMs)
        : overRequests(app, rule, s.metrics, nowMs);
  }
}

type MetricRule = Extract<Rule, { kind: 'metric' }>;

function sustained(app: string, rule: MetricRule, metrics: MetricsStore, nowMs: number): Verdict {
  const now = Math.floor(nowMs / 1000);
  const windowSec = rule.windowMs / 1000;
  const column = rule.metric === 'cpu' ? 'cpu' : 'mem';
  // The worst instance of each 10 s point; "worst" is the max for > and the min for <.
  const worst = rule.op.startsWith('>') ? 'max' : 'min';
  const points = metrics.sqlite.prepare(`SELECT ts, ${worst}(${column}) AS v FROM metric_instance_points
    WHERE app = ? AND res = ${STEP_SEC} AND ts >= ? AND ${column} IS NOT NULL GROUP BY ts ORDER BY ts`)
    .all(app, now - windowSec - WRITE_LAG_SEC) as { ts: number; v: number }[];
  if (points.length === 0) return { breached: false, value: null, message: `no ${rule.metric} data` };
  const latest = points.at(-1)!;
  const covered = points[0].ts <= now - windowSec && latest.ts >= now - WRITE_LAG_SEC - STEP_SEC;
  const allPast = points.every((p) => compare(p.v, rule.op, rule.threshold));
  return {
    breached: covered && allPast, value: latest.v,
    message: `${rule.metric} ${formatValue(rule, latest.v)} (worst instance, latest point)`,
  };
}

function overRequests(app: string, rule: MetricRule, metrics: MetricsStore, nowMs: number): Verdict {
  const since = Math.floor((nowMs - rule.windowMs) / 1000);
  const rows = metrics.sqlite.prepare(`SELECT c2, c3, c4, c5, other, sum_ms, hist FROM metric_request_points
    WHERE app = ? AND res = ${STEP_SEC} AND ts >= ?`).all(app, since) as RequestRow[];
  const hist: Histogram = new Map();
  let c4 = 0;
  let c5 = 0;
  const add = (b: ReturnType<typeof bucketFromRow>) => { merge(hist, b.hist); c4 += b.c4; c5 += b.c5; };
  rows.forEach((row) => add(bucketFromRow(row)));
  for (const [ts, bucket] of metrics.openBuckets(app)) if (ts >= since) add(bucket);
  const count = total(hist);
  if (count === 0) return { breached: false, value: null, message: 'no requests in the window' };
  let value: number;
  if (rule.metric === '5xx_rate') value = (c5 / count) * 100;
  else if (rule.metric === '4xx_rate') value = (c4 / count) * 100;
  else value = percentile(hist, Number(rule.metric.slice(1)) / 100)!;
  return {
    breached: compare(value, rule.op, rule.threshold), value,
    message: `${rule.metric} ${formatValue(rule, value)} over ${count} request(s)`,
  };
}
