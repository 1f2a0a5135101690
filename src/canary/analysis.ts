// The canary analysis decision (pure): compare the canary's requests with the stable release's over the same
// window (which starts after the canary's warm-up), and say whether to abort, step up, promote or wait.
import { DEFAULT_WARMUP_SEC, type CanaryPlan } from './plan.ts';

/** One side's requests over the window. */
export interface TrackSummary { requests: number; errors5xx: number; p95Ms: number | null }

export interface Comparison {
  stable: TrackSummary & { errorRate: number };
  canary: TrackSummary & { errorRate: number };
  /** Since when (epoch ms) both sides were counted. */
  windowStart: number;
}

export type Verdict =
  | { action: 'wait'; why: string }
  | { action: 'abort'; why: string }
  | { action: 'step'; weight: number; why: string }
  | { action: 'promote'; why: string };

/**
 * The canary is judged slower only when its p95 is also this much above the stable one's: on a busy machine 18 ms
 * turning into 31 ms is scheduling noise (or a fresh process warming up), not a slower release, and a ratio of
 * such small numbers would abort healthy canaries.
 */
export const P95_MARGIN_MS = 25;

const rate = (s: TrackSummary) => (s.requests ? s.errors5xx / s.requests : 0);
const percent = (x: number) => `${(x * 100).toFixed(1)} %`;

export function compare(stable: TrackSummary, canary: TrackSummary, windowStart: number): Comparison {
  return { stable: { ...stable, errorRate: rate(stable) }, canary: { ...canary, errorRate: rate(canary) }, windowStart };
}

/**
 * Since when (epoch ms) the step's requests are compared: its start, but never before the canary has served for its
 * warm-up (`startedAtMs`: the canary's start). Later steps run on the same, by then warm, instances.
 */
export function analysisStart(plan: CanaryPlan, startedAtMs: number, stepStartedAtMs: number): number {
  return Math.max(stepStartedAtMs, startedAtMs + (plan.warmupSec ?? DEFAULT_WARMUP_SEC) * 1000);
}

/**
 * `step`: the plan's step now running; `sinceStepMs`: how long its comparison has run (from analysisStart; negative
 * while the canary warms up). Worse beyond a threshold aborts as soon as the
 * canary has served minRequests in the window; a step moves on after `everySec` only with that much evidence, so a canary
 * without traffic waits instead of being promoted unseen.
 */
export function decide(plan: CanaryPlan, step: number, sinceStepMs: number, c: Comparison): Verdict {
  if (sinceStepMs < 0) return { action: 'wait', why: `warming up: judging starts in ${Math.ceil(-sinceStepMs / 1000)} s` };
  if (c.canary.requests < plan.minRequests) {
    return { action: 'wait', why: `${c.canary.requests} of ${plan.minRequests} canary requests needed before judging` };
  }
  const delta = c.canary.errorRate - c.stable.errorRate;
  if (delta > plan.max5xxDelta) {
    return {
      action: 'abort',
      why: `canary 5xx rate ${percent(c.canary.errorRate)} (${c.canary.errors5xx}/${c.canary.requests}) vs stable ${percent(c.stable.errorRate)} `
        + `(${c.stable.errors5xx}/${c.stable.requests}): more than ${percent(plan.max5xxDelta)} worse`,
    };
  }
  const [sp95, cp95] = [c.stable.p95Ms, c.canary.p95Ms];
  if (cp95 !== null && sp95 !== null && cp95 > sp95 * plan.maxP95Ratio && cp95 - sp95 > P95_MARGIN_MS) {
    return { action: 'abort', why: `canary p95 ${Math.round(cp95)} ms vs stable ${Math.round(sp95)} ms: more than ${plan.maxP95Ratio}x slower` };
  }
  if (!plan.steps.length || sinceStepMs < plan.everySec * 1000) return { action: 'wait', why: 'healthy' };
  const next = plan.steps[step + 1];
  if (next === undefined || next >= 100) return { action: 'promote', why: `healthy for every step (${c.canary.requests} requests in the last)` };
  return { action: 'step', weight: next, why: `healthy at ${plan.steps[step]} % (${c.canary.requests} requests)` };
}
