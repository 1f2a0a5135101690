// Evaluates every rule every 10 s and acts on state changes only: ok → firing notifies once, firing → ok
// notifies "resolved" once, and a rule that stays firing is re-notified at most every renotifyMinutes.
import type { Runtime } from '../runtime/types.ts';
import type { MetricsStore } from '../metrics/store.ts';
import { evaluate, type Signals } from './conditions.ts';
import type { WebhookNotifier } from './notifier.ts';
import { HostStatus, LogKeywordCounter, RestartTracker } from './signals.ts';
import type { AlertRule, AlertsStore } from './store.ts';

export interface EngineOptions {
  store: AlertsStore;
  metrics: MetricsStore;
  notifier: WebhookNotifier;
  runtime: Pick<Runtime, 'list'>;
  log: (line: string) => void;
  intervalMs?: number;
  /** Firing/resolved history older than this is deleted (default 30 days). */
  keepEventsMs?: number;
}

const CRASH_HISTORY_MS = 24 * 3_600_000;

export class AlertEngine {
  private readonly opts: EngineOptions;
  private readonly logs = new LogKeywordCounter();
  private readonly restarts = new RestartTracker();
  private readonly hosts = new HostStatus();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastPrune = 0;

  constructor(opts: EngineOptions) {
    this.opts = opts;
    this.rulesChanged();
  }

  /** The log collector calls this for every line; cheap for apps without keyword rules. */
  recordLogLine(app: string, text: string, tsMs: number): void {
    this.logs.record(app, text, tsMs);
  }

  hostDown(name: string): void { this.hosts.hostDown(name); }
  hostUp(name: string): void { this.hosts.hostUp(name); }

  /** Rules were added or removed: the keyword list the log path checks is rebuilt. */
  rulesChanged(): void {
    this.logs.watch(this.opts.store.list().flatMap((r) =>
      r.rule.kind === 'log' ? [{ ruleId: r.id, app: r.app, keyword: r.rule.keyword, windowMs: r.rule.windowMs }] : []));
  }

  start(): void {
    if (this.timer) return;
    const interval = this.opts.intervalMs ?? 10_000;
    const tick = () => {
      this.running = this.evaluateAll(Date.now())
        .catch((err) => this.opts.log(`alerts: evaluation failed: ${(err as Error).message}`))
        .finally(() => {
          this.running = null;
          if (this.timer) this.timer = setTimeout(tick, interval).unref();
        });
    };
    this.timer = setTimeout(tick, interval).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.opts.notifier.stop();
  }

  async evaluateAll(nowMs: number): Promise<void> {
    const rules = this.opts.store.list();
    await this.observeRestarts(rules, nowMs);
    const signals: Signals = { metrics: this.opts.metrics, logs: this.logs, restarts: this.restarts, hosts: this.hosts };
    for (const rule of rules) {
      const verdict = evaluate(rule, signals, nowMs);
      this.transition(rule, verdict.breached, verdict.value, verdict.message, nowMs);
    }
    if (nowMs - this.lastPrune > 3_600_000) {
      this.opts.store.pruneEvents(nowMs - (this.opts.keepEventsMs ?? 30 * 86_400_000));
      this.lastPrune = nowMs;
    }
  }

  private transition(rule: AlertRule, breached: boolean, value: number | null, message: string, nowMs: number): void {
    const { store } = this.opts;
    if (breached && rule.state === 'ok') {
      store.setState(rule.id, 'firing', nowMs);
      this.send(rule, 'firing', value, message, nowMs);
    } else if (breached && rule.state === 'firing') {
      const due = rule.renotifyMinutes > 0 && nowMs - (rule.lastNotifiedAt ?? 0) >= rule.renotifyMinutes * 60_000;
      if (due) this.send(rule, 'still_firing', value, message, nowMs);
    } else if (!breached && rule.state === 'firing') {
      store.setState(rule.id, 'ok', nowMs);
      this.send(rule, 'resolved', value, message, nowMs);
    }
  }

  private send(rule: AlertRule, kind: 'firing' | 'still_firing' | 'resolved', value: number | null, message: string, nowMs: number): void {
    const event = this.opts.store.addEvent(rule, kind, value, message, nowMs);
    this.opts.store.markNotified(rule.id, nowMs);
    this.opts.notifier.notify(rule, event);
  }

  /** Crash-loop rules need restart counts: only their apps' instances are listed (one engine call each). */
  private async observeRestarts(rules: AlertRule[], nowMs: number): Promise<void> {
    const apps = new Set(rules.filter((r) => r.rule.kind === 'crash_loop').map((r) => r.app));
    this.restarts.retain(apps);
    for (const app of apps) {
      try {
        this.restarts.observe(app, await this.opts.runtime.list(app), nowMs, CRASH_HISTORY_MS);
      } catch (err) {
        this.opts.log(`alerts: listing instances of ${app} failed: ${(err as Error).message}`);
      }
    }
  }
}
