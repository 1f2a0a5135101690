// ps:autoscale's settings as the API takes them: {min, max, rps | cpu | p95, cooldown?}, every field checked
// (members are untrusted), the range against BERTH_MAX_INSTANCES.
import { badRequest } from '../shared/errors.ts';
import { formatDuration, requireDurationMs } from '../shared/duration.ts';
import type { AutoscaleRange, AutoscaleSignal } from './decide.ts';

export const DEFAULT_COOLDOWN_MS = 5 * 60_000;
const MIN_COOLDOWN_MS = 5_000;
const MAX_COOLDOWN_MS = 24 * 3_600_000;
const SIGNALS: AutoscaleSignal[] = ['rps', 'cpu', 'p95'];
/** The largest sensible target of each signal: req/s per instance, % of one core, ms. */
const TARGET_LIMITS: Record<AutoscaleSignal, number> = { rps: 1_000_000, cpu: 10_000, p95: 600_000 };

const invalid = (message: string) => badRequest('invalid_autoscale', message);

export function parseAutoscaleBody(body: Record<string, unknown>, maxInstances: number): AutoscaleRange {
  const min = count('min', body.min, maxInstances);
  const max = count('max', body.max, maxInstances);
  if (min < 1) throw invalid('min must be at least 1 (autoscaling needs an instance to measure).');
  if (max < min) throw invalid(`max (${max}) must not be below min (${min}).`);
  const given = SIGNALS.filter((s) => body[s] !== undefined && body[s] !== null);
  if (given.length !== 1) throw invalid('Give exactly one signal: rps (requests/s per instance), cpu (% per instance) or p95 (ms).');
  const signal = given[0];
  const target = body[signal];
  if (typeof target !== 'number' || !Number.isFinite(target) || target <= 0 || target > TARGET_LIMITS[signal]) {
    throw invalid(`${signal} must be a number above 0 and at most ${TARGET_LIMITS[signal]}.`);
  }
  return { min, max, signal, target, cooldownMs: cooldown(body.cooldown) };
}

function count(name: string, value: unknown, maxInstances: number): number {
  if (!Number.isInteger(value) || (value as number) < 0) throw invalid(`${name} must be a whole number ≥ 0.`);
  if ((value as number) > maxInstances) throw invalid(`${name} is ${value}, above the ${maxInstances} instances per process type this server allows.`);
  return value as number;
}

function cooldown(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_COOLDOWN_MS;
  if (typeof value !== 'string' || value.length > 20) throw invalid('cooldown must be a duration like 30s or 5m.');
  const ms = requireDurationMs('cooldown', value);
  if (ms < MIN_COOLDOWN_MS || ms > MAX_COOLDOWN_MS) {
    throw invalid(`cooldown must be from ${formatDuration(MIN_COOLDOWN_MS)} to ${formatDuration(MAX_COOLDOWN_MS)}.`);
  }
  return ms;
}
