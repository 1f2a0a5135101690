// ps:autoscale's wire shapes: the API, the CLI and the console share them.
import type { Formation } from './types.ts';

/** A formation entry; autoscaled types carry the range the autoscaler keeps their count in. */
export interface AutoscaledFormation extends Formation { autoscale?: { min: number; max: number } }

/** One process type's ps:autoscale settings, with the count it runs now. */
export interface AutoscaleSetting {
  process: string;
  min: number;
  max: number;
  signal: 'rps' | 'cpu' | 'p95';
  /** rps: requests/s per instance; cpu: % of one core per instance; p95: ms. */
  target: number;
  /** The target as people read it: "50 req/s per instance", "70% CPU per instance", "p95 300 ms". */
  targetText: string;
  cooldownSec: number;
  /** What the autoscaler last decided: "holding: cooling down (4m left)", "scaling to 3: …"; null before its first round. */
  state: string | null;
  current: number | null;
  lastChangeAt: string | null;
  updatedBy: string;
  updatedAt: string;
}

/** One autoscaler decision that changed something (from the audit trail). */
export interface AutoscaleDecision { at: string; process: string | null; status: number | null; detail: string | null }

export interface AutoscaleAnswer { app: string; settings: AutoscaleSetting[]; decisions: AutoscaleDecision[] }
