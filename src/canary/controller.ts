// The analysis loop (thin): every second, for each running canary, read both sides' requests from the track
// windows, record the comparison, ask decide() and carry out its verdict: abort (with the reason on the release and
// an alert to the app's webhooks), the next step, or the promotion. Manual promote and abort go through here too,
// so whoever waits for a canary's outcome (the push that started it) hears of it either way.
import type { AppsStore } from '../state/apps-store.ts';
import type { ReleaseRow } from '../state/releases-store.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { AlertsStore } from '../alerts/store.ts';
import type { WebhookNotifier } from '../alerts/notifier.ts';
import type { Progress } from '../scheduler/types.ts';
import { analysisStart, compare, decide, type Verdict } from './analysis.ts';
import type { Canary, CanaryStore } from './store.ts';
import type { TrackWindows } from './track-windows.ts';

export interface CanaryControllerDeps {
  apps: AppsStore;
  canaries: CanaryStore;
  deployer: Deployer;
  windows: TrackWindows;
  alerts: { store: AlertsStore; notifier: WebhookNotifier };
  log: (line: string) => void;
  intervalMs?: number;
}

export interface CanaryOutcome { state: 'promoted' | 'aborted'; version: number; reason: string | null }

export class CanaryController {
  private readonly deps: CanaryControllerDeps;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** "appId version" → who waits for that canary's end. */
  private readonly waiters = new Map<string, Array<(outcome: CanaryOutcome) => void>>();

  constructor(deps: CanaryControllerDeps) { this.deps = deps; }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.running = this.analyzeAll(Date.now())
        .catch((err) => this.deps.log(`canary: analysis failed: ${(err as Error).message}`))
        .finally(() => {
          this.running = null;
          if (this.timer) this.timer = setTimeout(tick, this.deps.intervalMs ?? 1000).unref();
        });
    };
    this.timer = setTimeout(tick, this.deps.intervalMs ?? 1000).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Resolves when the canary ends (promoted or aborted), however it ends. */
  outcome(appId: number, version: number): Promise<CanaryOutcome> {
    return new Promise((resolve) => {
      const key = `${appId} ${version}`;
      this.waiters.set(key, [...(this.waiters.get(key) ?? []), resolve]);
    });
  }

  async promote(appName: string, progress?: Progress): Promise<ReleaseRow> {
    const release = await this.deps.deployer.promoteCanary(appName, progress);
    this.ended(release.appId, appName, { state: 'promoted', version: release.version, reason: null });
    return release;
  }

  async abort(appName: string, reason: string, progress?: Progress): Promise<ReleaseRow> {
    const release = await this.deps.deployer.abortCanary(appName, reason, progress);
    this.ended(release.appId, appName, { state: 'aborted', version: release.version, reason });
    return release;
  }

  async analyzeAll(nowMs: number): Promise<void> {
    for (const canary of this.deps.canaries.allRunning()) {
      const app = this.deps.apps.byId(canary.appId);
      if (!app) continue;
      try {
        await this.analyze(app.name, canary, nowMs);
      } catch (err) {
        this.deps.log(`canary: ${app.name} v${canary.version}: ${(err as Error).message}`);
      }
    }
  }

  private async analyze(appName: string, canary: Canary, nowMs: number): Promise<void> {
    const { windows, canaries } = this.deps;
    const summary = windows.summary(appName);
    const since = analysisStart(canary.plan, Date.parse(canary.startedAt), canary.stepStartedAt);
    // A new canary, a new step, or a restarted server: both sides are counted afresh from the step's start (the first
    // step's once the canary has warmed up; requests before are left out).
    if (!summary || summary.since < since) {
      windows.open(appName, since);
      return;
    }
    const comparison = compare(summary.stable, summary.canary, summary.since);
    canaries.setComparison(canary.appId, comparison);
    const verdict = decide(canary.plan, canary.step, nowMs - since, comparison);
    await this.act(appName, { ...canary, comparison }, verdict);
  }

  private async act(appName: string, canary: Canary, verdict: Verdict): Promise<void> {
    if (verdict.action === 'wait') return;
    if (verdict.action === 'abort') {
      const reason = `aborted by analysis: ${verdict.why}`;
      this.deps.log(`canary: ${appName} v${canary.version} ${reason}`);
      await this.abort(appName, reason);
      this.alert(appName, canary, reason);
      return;
    }
    if (verdict.action === 'promote') {
      this.deps.log(`canary: ${appName} v${canary.version} promoted: ${verdict.why}`);
      await this.promote(appName);
      return;
    }
    this.deps.log(`canary: ${appName} v${canary.version} to ${verdict.weight} %: ${verdict.why}`);
    await this.deps.deployer.stepCanary(appName, canary.step + 1, verdict.weight);
  }

  private ended(appId: number, appName: string, outcome: CanaryOutcome): void {
    this.deps.windows.close(appName);
    const key = `${appId} ${outcome.version}`;
    for (const resolve of this.waiters.get(key) ?? []) resolve(outcome);
    this.waiters.delete(key);
  }

  /** Once per webhook of the app's alert rules: the rule's own events name the canary and why it ended. */
  private alert(appName: string, canary: Canary, reason: string): void {
    const { store, notifier } = this.deps.alerts;
    const seen = new Set<string>();
    for (const rule of store.list(canary.appId)) {
      if (seen.has(rule.webhook)) continue;
      seen.add(rule.webhook);
      const message = `canary v${canary.version} of ${appName} ${reason}`;
      const event = store.addEvent(rule, 'firing', canary.comparison?.canary.errorRate ?? null, message, Date.now());
      notifier.notify({ ...rule, expr: `canary v${canary.version}` }, event);
    }
  }
}
