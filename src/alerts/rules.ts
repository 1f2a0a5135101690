// Alert rule syntax, Heroku-ish one-liners:
//   cpu > 80% for 5m          memory > 400MB for 5m       (any instance, sustained over the window)
//   p95 > 500ms for 2m        5xx_rate > 1% for 1m        (all requests of the window together)
//   log "ERROR" >= 10 in 1m   restarts >= 3 in 5m (or: crash_loop)      host_down
import { badRequest } from '../shared/errors.ts';
import { formatDuration, parseDurationMs } from '../shared/duration.ts';

export type Comparison = '>' | '>=' | '<' | '<=';
export type MetricName = 'cpu' | 'memory' | 'p50' | 'p95' | 'p99' | '5xx_rate' | '4xx_rate';

export type Rule =
  | { kind: 'metric'; metric: MetricName; op: Comparison; threshold: number; windowMs: number }
  | { kind: 'log'; keyword: string; op: Comparison; threshold: number; windowMs: number }
  | { kind: 'crash_loop'; threshold: number; windowMs: number }
  | { kind: 'host_down' };

const MIN_WINDOW_MS = 10_000;
const MAX_WINDOW_MS = 24 * 3_600_000;
const UNIT_OF: Record<MetricName, 'percent' | 'bytes' | 'ms'> = {
  cpu: 'percent', memory: 'bytes', p50: 'ms', p95: 'ms', p99: 'ms', '5xx_rate': 'percent', '4xx_rate': 'percent',
};
const BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

const invalid = (text: string, why: string) =>
  badRequest('invalid_rule', `Invalid alert rule "${text}": ${why}. Examples: "cpu > 80% for 5m", "p95 > 500ms for 2m", ` +
    `"5xx_rate > 1% for 1m", "memory > 400MB for 5m", 'log "ERROR" >= 10 in 1m', "restarts >= 3 in 5m", "host_down".`);

export function parseRule(input: unknown): Rule {
  if (typeof input !== 'string' || !input.trim()) throw invalid(String(input ?? ''), 'expected a rule as a string');
  const text = input.trim();
  if (text.length > 200) throw invalid(text.slice(0, 40) + '...', 'longer than 200 characters');
  if (/^host[_ ]down$/i.test(text)) return { kind: 'host_down' };
  if (/^crash[_ ]loop$/i.test(text)) return { kind: 'crash_loop', threshold: 3, windowMs: 5 * 60_000 };

  const log = /^log\s+"((?:[^"\\]|\\.)+)"\s*(>=|>)\s*(\d+)\s+in\s+(\S+)$/i.exec(text);
  if (log) {
    const keyword = log[1].replace(/\\(.)/g, '$1');
    return { kind: 'log', keyword, op: log[2] as Comparison, threshold: count(text, log[3]), windowMs: window(text, log[4]) };
  }
  const restarts = /^restarts\s*>=\s*(\d+)\s+in\s+(\S+)$/i.exec(text);
  if (restarts) return { kind: 'crash_loop', threshold: count(text, restarts[1]), windowMs: window(text, restarts[2]) };

  const metric = /^([a-z0-9_]+)\s*(>=|<=|>|<)\s*([\d.]+)\s*([a-z%]*)\s+for\s+(\S+)$/i.exec(text);
  if (!metric) throw invalid(text, 'not understood');
  const name = metric[1].toLowerCase() as MetricName;
  if (!(name in UNIT_OF)) throw invalid(text, `unknown metric "${metric[1]}" (known: ${Object.keys(UNIT_OF).join(', ')}, log, restarts)`);
  const value = Number(metric[3]);
  if (!Number.isFinite(value) || value < 0) throw invalid(text, `"${metric[3]}" is not a number`);
  return {
    kind: 'metric', metric: name, op: metric[2] as Comparison,
    threshold: inBaseUnit(text, name, value, metric[4].toLowerCase()), windowMs: window(text, metric[5]),
  };
}

/** Thresholds are kept in % (cpu of one core, rates), bytes (memory) or ms (latency). */
function inBaseUnit(text: string, name: MetricName, value: number, unit: string): number {
  switch (UNIT_OF[name]) {
    case 'percent':
      if (unit !== '%' && unit !== '') throw invalid(text, `${name} is given in %`);
      return value;
    case 'bytes':
      if (!(unit in BYTES)) throw invalid(text, 'memory needs a unit: B, KB, MB or GB');
      return value * BYTES[unit];
    case 'ms':
      if (unit !== 'ms' && unit !== 's') throw invalid(text, `${name} needs a unit: ms or s`);
      return unit === 's' ? value * 1000 : value;
  }
}

function count(text: string, digits: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n) || n < 1) throw invalid(text, 'the count must be a whole number of at least 1');
  return n;
}

function window(text: string, duration: string): number {
  const ms = parseDurationMs(duration);
  if (ms === null) throw invalid(text, `"${duration}" is not a duration like 30s, 5m or 1h`);
  if (ms < MIN_WINDOW_MS || ms > MAX_WINDOW_MS) throw invalid(text, 'the window must be from 10s to 24h');
  return ms;
}

export function compare(value: number, op: Comparison, threshold: number): boolean {
  switch (op) {
    case '>': return value > threshold;
    case '>=': return value >= threshold;
    case '<': return value < threshold;
    case '<=': return value <= threshold;
  }
}

/** A value in the rule's own unit, for messages: 93.2%, 412MB, 640ms. */
export function formatValue(rule: Rule, value: number): string {
  if (rule.kind !== 'metric') return String(value);
  const unit = UNIT_OF[rule.metric];
  if (unit === 'percent') return `${round(value)}%`;
  if (unit === 'bytes') return `${round(value / BYTES.mb)}MB`;
  return `${round(value)}ms`;
}

export const windowText = (rule: Rule): string => ('windowMs' in rule ? formatDuration(rule.windowMs) : '');

const round = (x: number) => Math.round(x * 10) / 10;
