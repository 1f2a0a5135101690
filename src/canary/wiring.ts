// Canary releases for the server: the track windows fed by the router's access log (dropped with their app), the
// analysis loop with its own webhook notifier (the alert rules' webhooks), and the routes mounted under /apps.
import type { AppsStore } from '../state/apps-store.ts';
import type { ReleasesStore } from '../state/releases-store.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { AlertsStore } from '../alerts/store.ts';
import type { AppEvents } from '../lifecycle/app-events.ts';
import { WebhookNotifier } from '../alerts/notifier.ts';
import type { OutboundGuard } from '../shared/outbound-request.ts';
import type { AccessEntry } from '../router/caddy/access-log.ts';
import { canaryRoutes } from '../api/routes/canary.ts';
import { CanaryController } from './controller.ts';
import type { CanaryStore } from './store.ts';
import { TrackWindows } from './track-windows.ts';

export interface CanaryWiring {
  apps: AppsStore;
  releases: ReleasesStore;
  canaries: CanaryStore;
  deployer: Deployer;
  alerts: { store: AlertsStore; guard: OutboundGuard };
  events: AppEvents;
  /** The router's access log, when Berth reads one: without it the analysis never has requests to judge. */
  onAccess?: (listener: (entry: AccessEntry) => void) => void;
  log: (line: string) => void;
}

export function createCanary(w: CanaryWiring) {
  const windows = new TrackWindows();
  w.onAccess?.((entry) => windows.record(entry));
  dropWindowsWithApps(w.events, windows);
  const notifier = new WebhookNotifier({ store: w.alerts.store, log: w.log, guard: w.alerts.guard });
  const controller = new CanaryController({
    apps: w.apps, canaries: w.canaries, deployer: w.deployer, windows, alerts: { store: w.alerts.store, notifier }, log: w.log,
  });
  const routes = canaryRoutes({ apps: w.apps, releases: w.releases, canaries: w.canaries, controller, log: w.log });
  return {
    controller, routes,
    start: () => controller.start(),
    stop: async () => { await controller.stop(); await notifier.stop(); },
  };
}

/**
 * A destroyed app's windows go with it (a later app of the same name starts with none); a renamed one's old name is
 * dropped, and the analysis opens a window under the new name at its next round.
 */
export function dropWindowsWithApps(events: AppEvents, windows: TrackWindows): void {
  events.on('destroyed', ({ app }) => windows.close(app));
  events.on('renamed', ({ from }) => windows.close(from));
}
