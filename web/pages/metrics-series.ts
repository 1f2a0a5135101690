// Shapes GET /apps/:app/metrics into what a time-series chart draws: one x axis (every step from `from`
// to `to`) and aligned series, plus the releases that fall inside the range as markers. Pure, so node can test it.
import type { MetricsAnswer, Release, RequestSeriesPoint } from '../../src/wire/types.ts';

export interface ChartSeries { label: string; values: (number | null)[] }
export interface ChartData { x: number[]; series: ChartSeries[] }
export interface ReleaseMarker { version: number; t: number; failed: boolean; title: string }

/** The ranges the picker offers, each back from now (the API's `since`). */
export const RANGES = ['30m', '1h', '6h', '24h', '7d', '30d'] as const;
export type Range = typeof RANGES[number];
export const DEFAULT_RANGE: Range = '1h';

/** The range asked for in the address, if it is one the picker offers. */
export function rangeFrom(text: string | null): Range {
  return RANGES.find((r) => r === text) ?? DEFAULT_RANGE;
}

type Span = Pick<MetricsAnswer, 'from' | 'to' | 'step'>;

/**
 * The x values all charts share: every bucket start from `from`, then `to` itself, so the axis ends now
 * and a release made during the step still filling is inside it.
 */
export function timeGrid(m: Span): number[] {
  const x: number[] = [];
  for (let t = m.from; t <= m.to && x.length < 10_000; t += m.step) x.push(t);
  if (x.at(-1) !== m.to) x.push(m.to);
  return x;
}

/** A series on the grid: `missing` where a bucket has no point, nothing at the closing `to`. */
function onGrid<P extends { t: number }>(m: Span, x: number[], points: P[], pick: (p: P) => number | null, missing: number | null): (number | null)[] {
  const byT = new Map(points.map((p) => [p.t, p]));
  return x.map((t) => {
    const p = byT.get(t);
    if (p) return pick(p);
    return (t - m.from) % m.step === 0 ? missing : null;
  });
}

/** Requests per second by status class. A step the API left out had no requests: 0, not a gap. */
export function requestRates(m: MetricsAnswer): ChartData {
  const x = timeGrid(m);
  const per = (key: keyof Pick<RequestSeriesPoint, 's2xx' | 's3xx' | 's4xx' | 's5xx'>) => onGrid(m, x, m.requests, (p) => p[key] / m.step, 0);
  return { x, series: [{ label: '2xx', values: per('s2xx') }, { label: '3xx', values: per('s3xx') }, { label: '4xx', values: per('s4xx') }, { label: '5xx', values: per('s5xx') }] };
}

/** p50, p95 and p99 in ms; a step without requests has no latency (a gap). */
export function latencies(m: MetricsAnswer): ChartData {
  const x = timeGrid(m);
  return { x, series: (['p50', 'p95', 'p99'] as const).map((key) => ({ label: key, values: onGrid(m, x, m.requests, (p) => p[key], null) })) };
}

/** CPU (% of one core) per instance; a gap where the instance did not run. */
export function cpuSeries(m: MetricsAnswer): ChartData {
  const x = timeGrid(m);
  return { x, series: m.instances.map((i) => ({ label: i.instance, values: onGrid(m, x, i.points, (p) => p.cpu, null) })) };
}

/** Memory in MiB (so the axis ticks are round MiB) per instance; a gap where the instance did not run. */
export function memorySeries(m: MetricsAnswer): ChartData {
  const x = timeGrid(m);
  return { x, series: m.instances.map((i) => ({ label: i.instance, values: onGrid(m, x, i.points, (p) => p.memory / 1048576, null) })) };
}

/**
 * A marker per release inside [from, to]: a release that went live is marked when it did (finishedAt),
 * any other one when it was made.
 */
export function releaseMarkers(releases: Release[], from: number, to: number): ReleaseMarker[] {
  return releases.flatMap((r) => {
    const at = r.status === 'succeeded' && r.finishedAt ? r.finishedAt : r.createdAt;
    const t = Math.floor(Date.parse(at) / 1000);
    if (!(t >= from && t <= to)) return [];
    const failed = r.status === 'failed';
    return [{ version: r.version, t, failed, title: `v${r.version}${failed ? ' (failed)' : ''} · ${r.description} · ${new Date(t * 1000).toLocaleString()}` }];
  }).sort((a, b) => a.t - b.t);
}

/** How many values a chart has to draw: none means "no data in this range". */
export function knownValues(data: ChartData): number {
  return data.series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0);
}
