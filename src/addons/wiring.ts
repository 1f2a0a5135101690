// Add-ons put together on the local Docker engine: the store, the service executor, the routes, and the
// app lifecycle subscriptions (apps:destroy takes the app's add-ons along, data and all; apps:rename moves them
// onto the app's new network). Their backups too: the engine over the chosen BackupStore, the interrupted
// ones failed at startup, and the schedule loop.
import type { Hono } from 'hono';
import type { ApiEnv } from '../api/auth.ts';
import { addonsRoutes } from '../api/routes/addons.ts';
import type { AppEvents } from '../lifecycle/app-events.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { LocalEngine } from '../runtime/docker/local-engine.ts';
import type { Hardening } from '../runtime/docker/container-config.ts';
import type { AccessStore } from '../state/access-store.ts';
import type { TerminalServices } from '../web/terminal.ts';
import { AddonsStore } from '../state/addons-store.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { Db } from '../state/db.ts';
import type { SecretBox } from '../state/secrets.ts';
import { BackupsStore } from '../state/backups-store.ts';
import { backupsRoutes } from '../api/routes/backups.ts';
import type { ClusterAccess } from '../scheduler/wiring.ts';
import { createServiceRuntimes } from './runtime-wiring.ts';
import { Addons } from './service.ts';
import { AddonBackups } from './backups/engine.ts';
import { DEFAULT_TICK_MS, startScheduleLoop } from './backups/schedule-loop.ts';
import type { BackupStore } from './backups/store.ts';

export interface AddonsWiring {
  db: Db;
  box: SecretBox;
  engine: LocalEngine;
  owner: string;
  hardening: Hardening;
  apps: AppsStore;
  access: AccessStore;
  /** What addons:connect's terminal needs (caller re-checks, the audit trail, the console's origin). */
  terminal: Omit<TerminalServices, 'access'>;
  deployer: Deployer;
  events: AppEvents;
  /** Where backups are kept (backupStoreFromConfig). */
  backupStore: BackupStore;
  /** How often due backup schedules are looked for (BERTH_BACKUP_SCHEDULE_TICK_MS; tests make it short). */
  scheduleTickMs?: number;
  /** The installation's cluster: add-ons of k3s apps run there (src/addons/runtime-wiring.ts). */
  cluster?: ClusterAccess | null;
  /** Where a lost node holding add-on data is reported (host_down alerts). */
  hosts?: { hostDown(name: string): void; hostUp(name: string): void };
  log: (line: string) => void;
}

export async function createAddons(w: AddonsWiring): Promise<{ addons: Addons; backups: AddonBackups; routes: Hono<ApiEnv>; backupRoutes: Hono<ApiEnv>; stop(): void }> {
  const store = new AddonsStore(w.db, w.box);
  const services = await createServiceRuntimes({ ...w, store });
  const backups: AddonBackups = new AddonBackups({
    backups: new BackupsStore(w.db), objects: w.backupStore, addons: store, apps: w.apps, services, log: w.log,
    createAddon: (app, input, caller) => addons.create(app, input, caller),
    audit: (event) => w.terminal.audit.record(event),
  });
  const addons: Addons = new Addons({ store, apps: w.apps, deployer: w.deployer, services, log: w.log,
    destroyed: (name, keepBackups) => backups.addonDestroyed(name, keepBackups) });
  await backups.recover();
  // Not awaited: a service takes seconds to start, and the server answers meanwhile.
  void addons.recoverMissing();
  const schedules = startScheduleLoop(backups, w.scheduleTickMs ?? DEFAULT_TICK_MS, w.log);
  w.events.on('destroyed', ({ appId, app }) => addons.appDestroyed(appId, app));
  w.events.on('renamed', ({ appId, app, from }) => addons.appRenamed(appId, from, app));
  w.events.veto('moving', ({ appId, app, to }) => addons.refuseStrandingMove(appId, app, to));
  return {
    addons, backups, stop: schedules.stop,
    routes: addonsRoutes({ ...w.terminal, addons, access: w.access }),
    backupRoutes: backupsRoutes({ backups, access: w.access, audit: w.terminal.audit }),
  };
}
