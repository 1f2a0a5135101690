// The autoscaler's decision for one process type, as a pure function of what it observed: scale up at once
// on a sustained breach (proportionally for per-instance loads), scale down one instance at a time once the
// cooldown has passed and removing one would still keep the load well under the target, never outside
// [min, max ∧ BERTH_MAX_INSTANCES], never while a release (or another change of the app) is under way.
import { formatDuration } from '../shared/duration.ts';

export type AutoscaleSignal = 'rps' | 'cpu' | 'p95';

export interface AutoscaleRange {
  min: number;
  max: number;
  signal: AutoscaleSignal;
  /** rps: requests/s per instance; cpu: % of one core per instance; p95: ms. */
  target: number;
  cooldownMs: number;
}

/** One observation of the signal: the per-instance load (rps, cpu) or the p95 (ms); null when unknown (no reading, no requests). */
export interface Sample { at: number; value: number | null }

export interface DecisionInput {
  settings: AutoscaleRange;
  /** BERTH_MAX_INSTANCES: the cap above any max. */
  maxInstances: number;
  /** Oldest first. Samples taken before the last change are not looked at (they describe the old count). */
  samples: Sample[];
  current: number;
  lastChangeAt: number | null;
  releaseInProgress: boolean;
  now: number;
}

export interface Decision {
  action: 'up' | 'down' | 'hold';
  to: number;
  reason: string;
  /** A sustained breach while already at the cap: the alert "pinned at max". */
  pinned: boolean;
}

/** How long a breach must hold before scaling up. */
export const SUSTAIN_MS = 5_000;
/** How long the load must stay calm before a scale-down (besides the cooldown). */
export const CALM_MS = 10_000;
/** A scale-down must leave the remaining instances at most this share of the target (no flapping). */
export const DOWN_HEADROOM = 0.8;
/** p95 is not shared out per instance: one fewer is tried only when the p95 is under half the target. */
const P95_CALM_SHARE = 0.5;

/** A load or a target as people read it: "50 req/s per instance", "70% CPU per instance", "p95 300 ms". */
export function describeLoad(signal: AutoscaleSignal, value: number): string {
  return signal === 'rps' ? `${round(value)} req/s per instance` : signal === 'cpu' ? `${round(value)}% CPU per instance` : `p95 ${round(value)} ms`;
}

export function decide(input: DecisionInput): Decision {
  const { settings, current, now } = input;
  const cap = Math.min(settings.max, input.maxInstances);
  const hold = (reason: string, pinned = false): Decision => ({ action: 'hold', to: current, reason, pinned });
  if (input.releaseInProgress) return hold('a release is in progress');
  if (current < settings.min) return { action: 'up', to: Math.min(settings.min, cap), reason: `below the minimum of ${settings.min}`, pinned: false };
  if (current > cap) return { action: 'down', to: cap, reason: `above the maximum of ${cap}`, pinned: false };

  const since = input.lastChangeAt ?? -Infinity;
  const fresh = input.samples.filter((s) => s.at > since && s.at <= now);
  const breach = sustained(fresh, now, SUSTAIN_MS, (v) => v !== null && v > settings.target);
  const latest = fresh.at(-1)?.value ?? null;
  const describe = (v: number | null) => (v === null ? 'no data' : describeLoad(settings.signal, v));
  const target = describeLoad(settings.signal, settings.target);
  const over = `${describe(latest)} over the target ${target} for ${formatDuration(SUSTAIN_MS)}`;

  if (breach) {
    if (current >= cap) return hold(`at the maximum of ${cap}: ${over}`, true);
    // Per-instance loads shrink as instances are added: go straight to the count that brings them to the target.
    const proportional = settings.signal === 'p95' || latest === null ? current + 1 : Math.ceil((current * latest) / settings.target);
    const to = Math.min(cap, Math.max(current + 1, proportional));
    return { action: 'up', to, reason: over, pinned: false };
  }

  if (current <= settings.min) return hold('at the minimum');
  const waited = now - since;
  if (waited < settings.cooldownMs) return hold(`cooling down (${formatDuration(Math.ceil((settings.cooldownMs - waited) / 1000) * 1000)} left)`);
  const calm = sustained(fresh, now, CALM_MS, (v) => isCalm(settings, current, v));
  if (!calm) return hold('load near the target');
  const after = settings.signal === 'p95' ? latest : latest === null ? null : (latest * current) / (current - 1);
  return {
    action: 'down', to: current - 1, pinned: false,
    reason: `${describe(latest)} for ${formatDuration(CALM_MS)} (${after === null ? 'no requests' : `about ${describe(after)} with one fewer`}), ` +
      `target ${target}; cooldown of ${formatDuration(settings.cooldownMs)} passed`,
  };
}

/** Whether one instance fewer would still keep the load comfortably under the target. */
function isCalm(settings: AutoscaleRange, current: number, value: number | null): boolean {
  if (settings.signal === 'p95') return value === null || value <= settings.target * P95_CALM_SHARE;
  if (value === null) return settings.signal === 'rps'; // no requests at all is calm; no CPU reading is not known
  return (value * current) / (current - 1) <= settings.target * DOWN_HEADROOM;
}

/** Every sample of the last `spanMs` passes, and the samples reach back that far (a short history proves nothing). */
function sustained(samples: Sample[], now: number, spanMs: number, passes: (value: number | null) => boolean): boolean {
  if (!samples.length || samples[0].at > now - spanMs) return false;
  return samples.filter((s) => s.at >= now - spanMs).every((s) => passes(s.value)) && passes(samples.at(-1)!.value);
}

function round(v: number): number {
  return v >= 100 ? Math.round(v) : Math.round(v * 10) / 10;
}
