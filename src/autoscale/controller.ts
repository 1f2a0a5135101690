// The autoscaler's loop, one for every signal and scheduler: each tick it samples every autoscaled process
// type (rps and p95 from the router's access log, CPU from the metrics collector), asks decide() and carries
// the decision out through the deployer's scale (the path ps:scale takes: containers on Docker, the
// Deployment's replicas on Kubernetes). Changes and "pinned at max" are audited and sent to the app's webhooks.
import type { AuditStore } from '../state/audit-store.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { AutoscaleRow, AutoscaleStore } from '../state/autoscale-store.ts';
import type { Deployer } from '../releases/deployer.ts';
import { decide, type Decision, type Sample } from './decide.ts';
import { RequestWindows } from './request-window.ts';

/** The audit trail's actor for the autoscaler's own changes (no user name can contain a colon). */
export const AUTOSCALER_ACTOR = 'berth:autoscaler';
export const AUTOSCALE_ACTION = 'autoscale';
const KEEP_SAMPLES_MS = 60_000;
/** A CPU reading older than this is no reading (the collector reads every 10 s). */
const STALE_CPU_MS = 25_000;

/** What a decision that changed something (or pinned the count at max) tells the app's webhooks. */
export interface AutoscaleNotice {
  app: string;
  appId: number;
  process: string;
  kind: 'scaled' | 'pinned' | 'unpinned' | 'failed';
  from: number;
  to: number;
  reason: string;
  at: number;
}

export interface AutoscalerOptions {
  store: AutoscaleStore;
  apps: AppsStore;
  deployer: Pick<Deployer, 'locks' | 'scale'>;
  audit: AuditStore;
  /** The latest CPU reading (% of one core, averaged over the type's instances) and when it was taken. */
  cpu: (app: string, process: string) => { at: number; value: number } | null;
  notify: (notice: AutoscaleNotice) => void;
  maxInstances: number;
  log: (line: string) => void;
  tickMs?: number;
}

export class Autoscaler {
  private readonly opts: AutoscalerOptions;
  readonly requests = new RequestWindows();
  private readonly samples = new Map<string, Sample[]>();
  private readonly pinned = new Set<string>();
  private readonly scaling = new Set<string>();
  /** What each type's last round decided, for ps:autoscale ("cooling down (4m left)", "scaling to 3: …"). */
  private readonly states = new Map<string, string>();
  /** When a type's last scale failed: the next attempt waits out its cooldown rather than every breach. */
  private readonly failedAt = new Map<string, number>();
  private watched = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight = new Set<Promise<void>>();

  constructor(opts: AutoscalerOptions) {
    this.opts = opts;
    this.refreshWatched(this.opts.store.list());
  }

  /** One request the router served (wired to the access log); cheap for apps that are not autoscaled. */
  recordRequest(app: string, tsMs: number, durationMs: number): void {
    if (this.watched.has(app)) this.requests.record(app, tsMs, durationMs);
  }

  /**
   * Which apps' requests to count, and forgetting what belonged to settings that are gone. Every round does
   * it (settings restored by admin:restore count at once); ps:autoscale, destroy and rename call it too.
   */
  refreshWatched(rows: AutoscaleRow[] = this.opts.store.list()): void {
    this.watched = new Set(rows.map((r) => r.app));
    this.requests.retain(this.watched);
    const keys = new Set(rows.map(keyOf));
    for (const key of this.samples.keys()) if (!keys.has(key)) this.samples.delete(key);
    for (const key of this.pinned) if (!keys.has(key)) this.pinned.delete(key);
    for (const key of this.states.keys()) if (!keys.has(key)) this.states.delete(key);
    for (const key of this.failedAt.keys()) if (!keys.has(key)) this.failedAt.delete(key);
  }

  /** The last round's decision for a type, as a phrase; null before the first round. */
  state(appId: number, process: string): string | null {
    return this.states.get(keyOf({ appId, process })) ?? null;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.tick(Date.now());
      if (this.timer) this.timer = setTimeout(tick, this.opts.tickMs ?? 1000).unref();
    };
    this.timer = setTimeout(tick, this.opts.tickMs ?? 1000).unref();
  }

  /** Stops deciding; a scale under way finishes (it holds the app's lock like any change). */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight]);
  }

  /** One round over every autoscaled process type; scales run in the background, one at a time per type. */
  tick(now: number): void {
    const rows = this.opts.store.list();
    this.refreshWatched(rows);
    for (const row of rows) {
      const key = keyOf(row);
      if (this.scaling.has(key)) continue;
      try {
        this.consider(row, key, now);
      } catch (err) {
        this.opts.log(`autoscale ${row.app} ${row.process}: ${(err as Error).message}`);
      }
    }
  }

  private consider(row: AutoscaleRow, key: string, now: number): void {
    const app = this.opts.apps.find(row.app);
    const entry = app && this.opts.apps.formation(app.id).find((f) => f.type === row.process);
    if (!app || !entry || app.stopped) { // nothing to scale
      this.states.set(key, app?.stopped ? 'holding: the app is stopped' : `holding: the current release has no ${row.process} processes`);
      return;
    }
    const samples = this.remember(key, this.sample(row, entry.quantity, now), now);
    const failed = this.failedAt.get(key);
    if (failed !== undefined && now - failed < row.cooldownMs) {
      this.states.set(key, `holding: the last scale failed; trying again in ${Math.ceil((row.cooldownMs - (now - failed)) / 1000)}s`);
      return;
    }
    // Checked and taken in the same turn of the event loop: nothing can start a release in between.
    const releaseInProgress = app.deployingRelease !== null || this.opts.deployer.locks.busy(app.name);
    const decision = decide({
      settings: row, maxInstances: this.opts.maxInstances, samples, current: entry.quantity,
      lastChangeAt: row.lastChangeAt, releaseInProgress, now,
    });
    if (!releaseInProgress) this.notePinned(row, key, entry.quantity, decision, now);
    this.states.set(key, decision.action === 'hold' ? `holding: ${decision.reason}` : `scaling to ${decision.to}: ${decision.reason}`);
    if (decision.action !== 'hold') this.carryOut(row, key, entry.quantity, decision);
  }

  private sample(row: AutoscaleRow, current: number, now: number): Sample {
    if (row.signal === 'cpu') {
      const reading = this.opts.cpu(row.app, row.process);
      return reading && now - reading.at <= STALE_CPU_MS ? { at: reading.at, value: reading.value } : { at: now, value: null };
    }
    const { rate, p95 } = this.requests.read(row.app, now);
    return { at: now, value: row.signal === 'rps' ? rate / Math.max(1, current) : p95 };
  }

  private remember(key: string, sample: Sample, now: number): Sample[] {
    const kept = (this.samples.get(key) ?? []).filter((s) => s.at >= now - KEEP_SAMPLES_MS);
    kept.push(sample);
    kept.sort((a, b) => a.at - b.at);
    this.samples.set(key, kept);
    return kept;
  }

  /** "Pinned at max" is sent when it starts and when it ends, not every tick. */
  private notePinned(row: AutoscaleRow, key: string, current: number, decision: Decision, now: number): void {
    if (decision.pinned === this.pinned.has(key)) return;
    if (decision.pinned) this.pinned.add(key); else this.pinned.delete(key);
    const notice: AutoscaleNotice = {
      app: row.app, appId: row.appId, process: row.process, kind: decision.pinned ? 'pinned' : 'unpinned', from: current, to: current,
      reason: decision.pinned ? decision.reason : 'no longer held at the maximum', at: now,
    };
    this.record(notice, 200);
  }

  private carryOut(row: AutoscaleRow, key: string, from: number, decision: Decision): void {
    this.scaling.add(key);
    const work = this.opts.deployer.scale(row.app, [{ type: row.process, quantity: decision.to }]).then(
      () => {
        const at = Date.now();
        this.failedAt.delete(key);
        this.opts.store.markChanged(row.appId, row.process, at);
        this.record({ app: row.app, appId: row.appId, process: row.process, kind: 'scaled', from, to: decision.to, reason: decision.reason, at }, 200);
      },
      (err: Error) => {
        const at = Date.now();
        this.failedAt.set(key, at);
        this.record({ app: row.app, appId: row.appId, process: row.process, kind: 'failed', from, to: decision.to,
          reason: `${decision.reason}; the scale failed: ${err.message}`, at }, (err as { status?: number }).status ?? 500);
      },
    ).finally(() => {
      this.scaling.delete(key);
      this.samples.delete(key);
      this.inFlight.delete(work);
    });
    this.inFlight.add(work);
  }

  private record(notice: AutoscaleNotice, status: number): void {
    const change = notice.kind === 'pinned' ? `held at ${notice.to}` : notice.kind === 'unpinned' ? `free below ${notice.to}` : `${notice.from} → ${notice.to}`;
    const detail = `${notice.process} ${change}${notice.kind === 'failed' ? ' failed' : ''}: ${notice.reason}`;
    this.opts.log(`autoscale ${notice.app}: ${detail}`);
    try {
      this.opts.audit.record({ actor: AUTOSCALER_ACTOR, action: AUTOSCALE_ACTION, app: notice.app, target: notice.process, status, detail });
    } catch (err) {
      this.opts.log(`autoscale: could not write the audit trail: ${(err as Error).message}`);
    }
    this.opts.notify(notice);
  }
}

const keyOf = (row: Pick<AutoscaleRow, 'appId' | 'process'>) => `${row.appId} ${row.process}`;
