// apps:connect put together: the store, the fetcher (held to the alert webhooks' outbound policy), the
// background deploys, the routes for the API and for git hosts, and the app lifecycle subscriptions.
import path from 'node:path';
import type { Hono } from 'hono';
import type { Config } from '../config.ts';
import type { ApiEnv } from '../api/auth.ts';
import type { ViewContext } from '../api/views.ts';
import { connectionRoutes } from '../api/routes/connection.ts';
import { gitHookRoutes } from '../api/routes/git-hooks.ts';
import { webhookGuard } from '../alerts/webhook-policy.ts';
import type { PushHandler } from '../git/types.ts';
import type { AppEvents } from '../lifecycle/app-events.ts';
import type { BuildLogStore } from '../pipeline/build-log.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { AuditStore } from '../state/audit-store.ts';
import type { BuildsStore } from '../state/builds-store.ts';
import type { Db } from '../state/db.ts';
import type { SecretBox } from '../state/secrets.ts';
import { ConnectionsStore } from '../state/connections-store.ts';
import { RepoFetcher } from './repo-fetcher.ts';
import { WebhookDeploys } from './webhook-deploys.ts';

export interface ConnectWiring {
  db: Db;
  box: SecretBox;
  config: Config;
  /** The operator's extra CAs as one bundle (buildCaBundle), trusted by HTTPS fetches besides the system's. */
  extraCaFile: string | null;
  apps: AppsStore;
  builds: BuildsStore;
  audit: AuditStore;
  openRepo(app: string): Promise<string>;
  onPush: PushHandler;
  buildLogs: BuildLogStore;
  events: AppEvents;
  view: ViewContext;
  /** Review apps cannot be connected (src/state/reviews-store.ts). */
  isReviewApp(appId: number): boolean;
  log: (line: string) => void;
}

export function createConnect(w: ConnectWiring): { routes: Hono<ApiEnv>; hooks: Hono } {
  const connections = new ConnectionsStore(w.db, w.box);
  const fetcher = new RepoFetcher({
    guard: webhookGuard(w.config), workDir: path.join(w.config.dataDir, 'run', 'connect'), extraCaFile: w.extraCaFile,
    maxBytes: w.config.maxPushBytes, timeoutMs: w.config.gitFetchTimeoutSec * 1000, log: w.log,
  });
  const deploys = new WebhookDeploys({
    apps: w.apps, builds: w.builds, connections, fetcher, openRepo: w.openRepo, onPush: w.onPush, buildLogs: w.buildLogs, log: w.log,
  });
  // The connection is kept by app id: it moves with a rename (its webhook URL names the new app) and goes with the app's row.
  w.events.on('destroyed', ({ appId }) => deploys.forget(appId));
  w.events.on('renamed', ({ appId, app }) => deploys.renamed(appId, app));
  return {
    routes: connectionRoutes({ apps: w.apps, connections, fetcher, view: w.view, isReviewApp: w.isReviewApp }),
    hooks: gitHookRoutes({ apps: w.apps, connections, audit: w.audit, deploys }),
  };
}
