// The release phase (the Procfile's `release:` command, app.json's predeploy) and the new instances' start overlap:
// new web instances boot and pass their health check while it runs, since nothing routes to them until it has
// succeeded. These are the decisions of that overlap; the converger carries them out.
import type { InstanceSpec } from '../runtime/types.ts';
import { DEAD_CHECK_MS } from './health.ts';

/**
 * Web instances get no requests until they are routed, so they may start during the release phase. Any other
 * process (a worker taking jobs, a clock) acts as soon as it runs, so it starts only once the phase succeeded, as
 * on Heroku: new code never works against a database its migration has not reached yet.
 */
export function splitForReleasePhase(specs: InstanceSpec[]): { duringPhase: InstanceSpec[]; afterPhase: InstanceSpec[] } {
  return {
    duringPhase: specs.filter((s) => s.process === 'web' && s.containerPort !== null),
    afterPhase: specs.filter((s) => !(s.process === 'web' && s.containerPort !== null)),
  };
}

/** How a step ended, and when (ms since the epoch). */
export interface Ended { ok: boolean; at: number }

export type AfterPhase =
  | 'route'            // the phase succeeded and the instances started during it are healthy
  | 'phase-failed'     // nothing is routed: the phase's failure is the release's
  | 'start-again'      // they failed while the phase ran (a schema it migrates?): fresh ones start now, checked in full
  | 'instances-failed'; // they failed with the phase done: the release's failure, as without the overlap

/**
 * What to do with the web instances started during the release phase, once both are over. A health check tells
 * a dead instance within DEAD_CHECK_MS: one found dead that soon after the phase ended may have died while it ran.
 */
export function afterReleasePhase(phase: Ended, instances: Ended): AfterPhase {
  if (!phase.ok) return 'phase-failed';
  if (instances.ok) return 'route';
  return instances.at < phase.at + DEAD_CHECK_MS ? 'start-again' : 'instances-failed';
}
