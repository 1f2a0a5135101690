// Autoscaling put together for the server: the settings store, the controller (fed the router's requests),
// its webhooks, the API routes, and the lifecycle subscriptions (apps:destroy drops the app's settings).
import type { Hono } from 'hono';
import type { ApiEnv } from '../api/auth.ts';
import { autoscaleRoutes } from '../api/routes/autoscale.ts';
import type { AlertsStore } from '../alerts/store.ts';
import { WebhookNotifier } from '../alerts/notifier.ts';
import type { AppEvents } from '../lifecycle/app-events.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { OutboundGuard } from '../shared/outbound-request.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { AuditStore } from '../state/audit-store.ts';
import { AutoscaleStore } from '../state/autoscale-store.ts';
import type { Db } from '../state/db.ts';
import { Autoscaler } from './controller.ts';
import { latestCpu } from './cpu-reading.ts';
import { AutoscaleService } from './service.ts';
import { autoscaleWebhooks } from './webhooks.ts';

export interface AutoscaleWiring {
  db: Db;
  apps: AppsStore;
  audit: AuditStore;
  deployer: Deployer;
  events: AppEvents;
  alerts: { store: AlertsStore; guard: OutboundGuard };
  /** BERTH_MAX_INSTANCES. */
  maxInstances: number;
  log: (line: string) => void;
  /** BERTH_AUTOSCALE_TICK_MS: how often the controller decides (default 1 s). */
  tickMs?: number;
}

export function createAutoscaling(w: AutoscaleWiring) {
  const store = new AutoscaleStore(w.db);
  const notifier = new WebhookNotifier({ store: w.alerts.store, log: w.log, guard: w.alerts.guard });
  const autoscaler = new Autoscaler({
    store, apps: w.apps, deployer: w.deployer, audit: w.audit, cpu: latestCpu(w.db.$client), maxInstances: w.maxInstances,
    notify: autoscaleWebhooks(w.alerts.store, notifier), log: w.log, tickMs: w.tickMs,
  });
  const service = new AutoscaleService({
    store, apps: w.apps, audit: w.audit, maxInstances: w.maxInstances, changed: () => autoscaler.refreshWatched(),
    state: (appId, process) => autoscaler.state(appId, process),
  });
  w.events.on('destroyed', ({ appId }) => service.appDestroyed(appId));
  w.events.on('renamed', () => autoscaler.refreshWatched());
  const routes: Hono<ApiEnv> = autoscaleRoutes({ apps: w.apps, autoscale: service });
  return {
    service,
    routes,
    recordRequest: (app: string, tsMs: number, durationMs: number) => autoscaler.recordRequest(app, tsMs, durationMs),
    start: () => autoscaler.start(),
    stop: async () => { await autoscaler.stop(); await notifier.stop(); },
  };
}
