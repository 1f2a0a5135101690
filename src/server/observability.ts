// Metrics and alerts as one unit for the server: the stores, the stats collector, the alert engine and
// the hooks other parts feed (request samples from the router's access log, log lines, host up/down).
import type Database from 'better-sqlite3';
import type { Runtime } from '../runtime/types.ts';
import { MetricsStore, type RequestSample } from '../metrics/store.ts';
import { MetricsCollector } from '../metrics/collector.ts';
import { AlertsStore } from '../alerts/store.ts';
import { WebhookNotifier } from '../alerts/notifier.ts';
import { AlertEngine } from '../alerts/engine.ts';
import type { OutboundGuard } from '../shared/outbound-request.ts';

export interface Observability {
  metrics: MetricsStore;
  alerts: { store: AlertsStore; engine: AlertEngine; guard: OutboundGuard };
  /** One request the router served (wire to the access log subscription). */
  recordRequest(sample: RequestSample): void;
  /** One log line of an app (wire to the log collector), for `log "KEYWORD" >= N in 1m` rules. */
  recordLogLine(app: string, text: string, tsMs: number): void;
  hostDown(name: string): void;
  hostUp(name: string): void;
  start(): void;
  stop(): Promise<void>;
}

export function createObservability(sqlite: Database.Database, runtime: Pick<Runtime, 'stats' | 'list'>, log: (line: string) => void,
  guard: OutboundGuard): Observability { // guard: where alert webhooks may go (src/alerts/webhook-policy.ts)
  const metrics = new MetricsStore(sqlite);
  const collector = new MetricsCollector({ runtime, store: metrics, log });
  const store = new AlertsStore(sqlite);
  // BERTH_ALERTS_TICK_MS: how often rules are evaluated (10 s; tests wait for one evaluation, so they pass less).
  const engine = new AlertEngine({ store, metrics, runtime, log, notifier: new WebhookNotifier({ store, log, guard }),
    intervalMs: Number(process.env.BERTH_ALERTS_TICK_MS) || undefined });
  return {
    metrics,
    alerts: { store, engine, guard },
    recordRequest: (sample) => metrics.recordRequest(sample),
    recordLogLine: (app, text, tsMs) => engine.recordLogLine(app, text, tsMs),
    hostDown: (name) => engine.hostDown(name),
    hostUp: (name) => engine.hostUp(name),
    start: () => { collector.start(); engine.start(); },
    stop: async () => { await engine.stop(); await collector.stop(); },
  };
}
