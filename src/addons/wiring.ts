// Add-ons put together on the local Docker engine: the store, the service executor, the routes, and the
// app lifecycle subscriptions (apps:destroy takes the app's add-ons along, data and all; apps:rename moves them
// onto the app's new network).
import type { Hono } from 'hono';
import type { ApiEnv } from '../api/auth.ts';
import { addonsRoutes } from '../api/routes/addons.ts';
import type { AppEvents } from '../lifecycle/app-events.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { EngineHost } from '../runtime/multi-host/index.ts';
import type { Hardening } from '../runtime/docker/container-config.ts';
import type { AccessStore } from '../state/access-store.ts';
import type { TerminalServices } from '../web/terminal.ts';
import { AddonsStore } from '../state/addons-store.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { Db } from '../state/db.ts';
import type { SecretBox } from '../state/secrets.ts';
import type { ClusterAccess } from '../scheduler/wiring.ts';
import { createServiceRuntimes } from './runtime-wiring.ts';
import { Addons } from './service.ts';

export interface AddonsWiring {
  db: Db;
  box: SecretBox;
  engine: EngineHost;
  owner: string;
  hardening: Hardening;
  apps: AppsStore;
  access: AccessStore;
  /** What addons:connect's terminal needs (caller re-checks, the audit trail, the console's origin). */
  terminal: Omit<TerminalServices, 'access'>;
  deployer: Deployer;
  events: AppEvents;
  /** The installation's cluster: add-ons of k3s apps run there (src/addons/runtime-wiring.ts). */
  cluster?: ClusterAccess | null;
  /** Where a lost node holding add-on data is reported (host_down alerts). */
  hosts?: { hostDown(name: string): void; hostUp(name: string): void };
  log: (line: string) => void;
}

export async function createAddons(w: AddonsWiring): Promise<{ addons: Addons; routes: Hono<ApiEnv> }> {
  const store = new AddonsStore(w.db, w.box);
  const services = await createServiceRuntimes({ ...w, store });
  const addons = new Addons({ store, apps: w.apps, deployer: w.deployer, services, log: w.log });
  w.events.on('destroyed', ({ appId, app }) => addons.appDestroyed(appId, app));
  w.events.on('renamed', ({ appId, app, from }) => addons.appRenamed(appId, from, app));
  return { addons, routes: addonsRoutes({ ...w.terminal, addons, access: w.access }) };
}
