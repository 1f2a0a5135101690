// The last 10 s of an app's requests, per second, as the router's access log reports them: the autoscaler's
// rps and p95 over a sliding window (the metrics store's 10 s buckets are aligned, so they lag up to 10 s).
import { merge, percentile, record, total, type Histogram } from '../metrics/histogram.ts';

export const WINDOW_MS = 10_000;
const SLOT_MS = 1_000;

interface Slot { second: number; hist: Histogram }

export class RequestWindows {
  private readonly apps = new Map<string, Slot[]>();

  /** Counts one request (the caller passes only autoscaled apps' requests). */
  record(app: string, tsMs: number, durationMs: number): void {
    const second = Math.floor(tsMs / SLOT_MS);
    const slots = this.apps.get(app) ?? [];
    let slot = slots.find((s) => s.second === second);
    if (!slot) {
      slots.push(slot = { second, hist: new Map() });
      this.apps.set(app, slots);
    }
    record(slot.hist, durationMs);
    this.trim(app, tsMs);
  }

  /** Requests/s and p95 (ms; null without requests) over the window ending at nowMs. */
  read(app: string, nowMs: number): { rate: number; p95: number | null } {
    this.trim(app, nowMs);
    const all: Histogram = new Map();
    for (const slot of this.apps.get(app) ?? []) merge(all, slot.hist);
    return { rate: total(all) / (WINDOW_MS / 1000), p95: percentile(all, 0.95) };
  }

  /** Keeps only the named apps (autoscaling was turned off, the app went). */
  retain(apps: Set<string>): void {
    for (const app of this.apps.keys()) if (!apps.has(app)) this.apps.delete(app);
  }

  private trim(app: string, nowMs: number): void {
    const slots = this.apps.get(app);
    if (!slots) return;
    const oldest = Math.floor((nowMs - WINDOW_MS) / SLOT_MS);
    const kept = slots.filter((s) => s.second > oldest);
    if (kept.length) this.apps.set(app, kept); else this.apps.delete(app);
  }
}
