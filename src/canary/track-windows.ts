// Per-release request counts while a canary runs: the router's access log tags each request stable or canary
// (X-Berth-Track), and each app under a canary gets the two sides counted from the start of its current window.
// In memory only: after a restart the analysis starts a fresh window, which only delays its verdict.
import { record, percentile, type Histogram } from '../metrics/histogram.ts';
import type { Track } from '../router/caddy/canary-split.ts';
import type { TrackSummary } from './analysis.ts';

interface Side { requests: number; errors5xx: number; hist: Histogram }
interface Window { since: number; stable: Side; canary: Side }

const emptySide = (): Side => ({ requests: 0, errors5xx: 0, hist: new Map() });

export class TrackWindows {
  private readonly windows = new Map<string, Window>();

  /** Starts (or restarts) counting the app's two sides from `since` (epoch ms); earlier requests are ignored. */
  open(app: string, since: number): void {
    this.windows.set(app, { since, stable: emptySide(), canary: emptySide() });
  }

  close(app: string): void {
    this.windows.delete(app);
  }

  /** Hot path: one access log entry; untagged requests and apps without a window cost a map lookup. */
  record(entry: { app: string; ts: number; status: number; durationMs: number; track?: Track }): void {
    if (!entry.track) return;
    const window = this.windows.get(entry.app);
    if (!window || entry.ts < window.since) return;
    const side = window[entry.track];
    side.requests++;
    // 0: the client went away before an answer, not the release's fault.
    if (entry.status >= 500) side.errors5xx++;
    record(side.hist, entry.durationMs);
  }

  summary(app: string): { since: number; stable: TrackSummary; canary: TrackSummary } | null {
    const window = this.windows.get(app);
    if (!window) return null;
    const summarize = (s: Side): TrackSummary => ({ requests: s.requests, errors5xx: s.errors5xx, p95Ms: percentile(s.hist, 0.95) });
    return { since: window.since, stable: summarize(window.stable), canary: summarize(window.canary) };
  }
}
