// A canary release as the API, the CLI and the console see it (GET /apps/:app/releases, /canary).

export interface CanaryTrackView { requests: number; errors5xx: number; errorRate: number; p95Ms: number | null }

export interface CanaryView {
  state: 'running' | 'promoted' | 'aborted';
  weight: number;
  steps: number[];
  everySec: number;
  header: string | null;
  cookie: string | null;
  sticky: boolean;
  /** warmupSec: the seconds from the canary's start whose requests the comparison leaves out. */
  thresholds: { max5xxDelta: number; maxP95Ratio: number; minRequests: number; warmupSec: number };
  comparison: { stable: CanaryTrackView; canary: CanaryTrackView; windowStart: string } | null;
  reason: string | null;
  startedAt: string;
  finishedAt: string | null;
}
