// A canary as the API shows it (src/wire/canary.ts).
import { DEFAULT_WARMUP_SEC, type CanaryPlan } from './plan.ts';
import type { Canary } from './store.ts';
import type { CanaryView } from '../wire/canary.ts';

export function planView(plan: CanaryPlan): Omit<CanaryView, 'state' | 'comparison' | 'reason' | 'startedAt' | 'finishedAt'> {
  return {
    weight: plan.weight, steps: plan.steps, everySec: plan.everySec,
    header: plan.header && `${plan.header.name}=${plan.header.value}`,
    cookie: plan.cookie && `${plan.cookie.name}=${plan.cookie.value}`,
    sticky: plan.sticky,
    thresholds: { max5xxDelta: plan.max5xxDelta, maxP95Ratio: plan.maxP95Ratio, minRequests: plan.minRequests, warmupSec: plan.warmupSec ?? DEFAULT_WARMUP_SEC },
  };
}

/** The canary of release `version`, when the app's latest canary is that release's. */
export function canaryView(canary: Canary | undefined, version: number): CanaryView | null {
  if (!canary || canary.version !== version) return null;
  const c = canary.comparison;
  return {
    ...planView(canary.plan), weight: canary.weight, state: canary.state,
    comparison: c && { stable: c.stable, canary: c.canary, windowStart: new Date(c.windowStart).toISOString() },
    reason: canary.reason, startedAt: canary.startedAt, finishedAt: canary.finishedAt,
  };
}
