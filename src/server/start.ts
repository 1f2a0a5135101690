// The Berth server: state, release engine, runtime, router, builder, git receiver and API in one process.
import os from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { apiRoute, loadConfig } from '../config.ts';
import { openDb } from '../state/db.ts';
import { AppsStore } from '../state/apps-store.ts';
import { ReleasesStore } from '../state/releases-store.ts';
import { openConfigSecrets } from '../state/config-secrets.ts';
import { AuthStore } from '../state/auth-store.ts';
import { BuildsStore } from '../state/builds-store.ts';
import { AccessStore } from '../state/access-store.ts';
import { AuditStore } from '../state/audit-store.ts';
import { SessionsStore } from '../state/sessions-store.ts';
import { createHosts, hostSettings } from '../hosts/wiring.ts';
import { createLocalEngine } from '../runtime/docker/local-engine.ts';
import { createNodes } from '../hosts/nodes/wiring.ts';
import { CaddyRouter } from '../router/caddy/index.ts';
import { Deployer } from '../releases/deployer.ts';
import { reconcile } from '../releases/reconcile.ts';
import { createApi } from '../api/app.ts';
import { answerClientErrorsAsJson } from '../api/client-errors.ts';
import { buildCaBundle, ensureAdmin, installationId } from './bootstrap.ts';
import { DockerBuilder } from '../builder/index.ts';
import { RegistryClient } from '../registry/index.ts';
import { loadRegistryCredential } from '../registry/credentials.ts';
import { createGitRoutes } from '../git/receiver.ts';
import { serveHookSocket } from '../git/hook-endpoint.ts';
import { createPushHandler } from '../pipeline/push-deploy.ts';
import { appUrl } from '../api/views.ts';
import { VERSION } from '../version.ts';
import { accessLogPath, createLogService } from '../logstore/service.ts';
import { createObservability } from './observability.ts';
import { webhookGuard } from '../alerts/webhook-policy.ts';
import { auditedPushes } from '../pipeline/audited-push.ts';
import { BuildLogStore, KEEP_BUILD_LOGS_PER_APP } from '../pipeline/build-log.ts';
import { EventHub } from '../web/event-hub.ts';
import { liveRoutes } from '../web/live-routes.ts';
import { WebAssets } from '../web/assets.ts';
import { clusterAccess, createClusterScheduler, createSchedulers } from '../scheduler/wiring.ts';
import { AppEvents } from '../lifecycle/app-events.ts';
import { AddressBook } from '../router/dnsmasq/address-book.ts';
import { certificateLogPath } from '../router/caddy/tls-config.ts';
import { HttpsStore } from '../state/https-store.ts';
import { createBackupService } from '../backup/wiring.ts';
import { createConnect } from '../connect/wiring.ts';
import { createAddons } from '../addons/wiring.ts';
import { backupStoreFromConfig } from '../addons/backups/stores.ts';
import { createAutoscaling } from '../autoscale/wiring.ts';
import { CanaryStore } from '../canary/store.ts';
import { createCanary } from '../canary/wiring.ts';
import { ReviewsStore } from '../state/reviews-store.ts';
import { ReviewApps } from '../pipeline/review-apps.ts';
import { mayDeleteRef, withReviewApps } from '../pipeline/review-pushes.ts';
import { WebSocketServer } from 'ws';
import { hookCommand } from '../executable/self.ts';

const RECONCILE_RETRY_MS = 10_000;
const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);

export async function startServer(): Promise<void> {
  const config = loadConfig();
  const db = openDb(path.join(config.dataDir, 'berth.db'));
  const secrets = openConfigSecrets(db, config.secretsKeyFile); // a db without its key file stops here, said why
  const apps = new AppsStore(db, secrets.box);
  const releases = new ReleasesStore(db, secrets.box);
  const auth = new AuthStore(db);
  const builds = new BuildsStore(db);
  const access = new AccessStore(db);
  const audit = new AuditStore(db);
  const sessions = new SessionsStore(db);
  const httpsSettings = new HttpsStore(db, path.join(config.dataDir, 'caddy', 'certs'));
  const owner = installationId(config.dataDir);
  const hostConfig = hostSettings(config.registry);
  // Made by up.sh once the registry listens beyond loopback (it then requires it); null: no auth.
  const registryCredential = loadRegistryCredential(config.dataDir);
  const engine = createLocalEngine({
    socketPath: config.dockerSocket, owner,
    networkSubnet: config.routeVia === 'container-ip' ? config.networkSubnet : undefined,
    hardening: { pidsLimit: config.pidsLimit, oneOffMemoryMB: config.oneOffMemoryMB },
    holderImage: config.networkHolders ? config.stacks.generic : undefined, holderIdleMs: config.networkHoldersIdleSec * 1000, log,
  });
  // The app networks' range is chosen before reconcile starts instances; a subnet clash stops the server here, named.
  await engine.runtime.prepare();
  const router = new CaddyRouter({
    adminUrl: config.caddyAdmin, httpPort: config.httpPort, httpsPort: config.httpsPort, accessLogFile: accessLogPath(config.dataDir),
    api: apiRoute(config) ?? undefined,
    acme: config.acme, certificateLogFile: certificateLogPath(config.dataDir), redirectsHttp: (app) => httpsSettings.redirects(app),
    customCertificates: () => httpsSettings.loadedCertificates(),
  });
  // Local web instances are routed by a per-app DNS name, so releases don't touch Caddy (container-ip only).
  const addresses = config.routeVia === 'container-ip'
    ? await AddressBook.open({ dir: config.dnsDir ?? `/run/berth-dns-${owner}`, port: config.dnsPort, log })
    : null;
  const cluster = await createClusterScheduler({
    dataDir: config.dataDir, router, owner, dockerSocket: config.dockerSocket, registry: config.registry,
    registryAdvertise: hostConfig.registryAdvertise, drainSec: config.drainSec, stopTimeoutSec: config.stopTimeoutSec, log,
    addressBook: addresses,
  });
  const schedulers = createSchedulers({ runtime: engine.runtime, router, apps, settings: { ...config, addresses, log }, cluster });
  // Each subsystem that keeps state per app subscribes here and cleans up after itself (see below).
  const events = new AppEvents(log);
  const canaries = new CanaryStore(db.$client);
  const deployer = new Deployer({
    apps, releases, schedulers, events, domain: config.domain, maxInstancesPerProcess: config.maxInstancesPerProcess,
    releaseCommandTimeoutSec: config.releaseCommandTimeoutSec, healthTimeoutSec: config.healthTimeoutSec, canaries,
  });
  // Docker hosts of an older Berth are named in the log, with how to finish the move to k3s.
  const hosts = createHosts({ db, engine, dataDir: config.dataDir, owner, settings: hostConfig, log });
  // Metrics (stats every 10 s) and alerts; fed below by the router's access log, the log collector and lost nodes.
  const observability = createObservability(db.$client, schedulers, log, webhookGuard(config));
  hosts.hooks.onHostDown = (name) => observability.hostDown(name);
  hosts.hooks.onHostUp = (name) => observability.hostUp(name);
  // With a cluster its nodes are the hosts: listed, drained, watched for loss (host_down, routes around them).
  const nodeMonitor = await createNodes({
    access: clusterAccess({ dataDir: config.dataDir, owner, dockerSocket: config.dockerSocket, registry: config.registry, registryAdvertise: hostConfig.registryAdvertise }),
    owner, hosts: hosts.service, hooks: hosts.hooks, router, scheduler: cluster, log,
  });

  for (const note of ensureAdmin(auth, config.dataDir, path.join(config.dataDir, 'berth.db'))) log(note);
  const interruptedBuilds = builds.failInterrupted();
  if (interruptedBuilds) log(`${interruptedBuilds} build(s) interrupted by the last stop marked failed; their pushes were rejected`);
  // Without BERTH_PUBLIC_URL, URLs handed to users (git remotes) use the address each request came in on.
  const publicUrl = process.env.BERTH_PUBLIC_URL?.replace(/\/+$/, '') || null;

  const reconcileUntilDone = async (): Promise<void> => {
    try {
      const report = await reconcile({ apps, releases, schedulers, router, deployer }, log);
      log(`reconciled: ${report.converged.length} app(s) converged, ${report.failed.length} failed, ` +
        `${report.interrupted.length} interrupted release(s) rolled back, ${report.orphans.length} orphan(s) removed`);
    } catch (err) {
      log(`reconcile failed (${(err as Error).message}); retrying in ${RECONCILE_RETRY_MS / 1000} s`);
      setTimeout(reconcileUntilDone, RECONCILE_RETRY_MS).unref();
    }
  };
  await reconcileUntilDone();
  nodeMonitor?.start();

  const view = { domain: config.domain, httpPort: config.httpPort, httpsPort: config.httpsPort, publicUrl, apiHostName: config.apiHostName };
  const reposDir = path.join(config.dataDir, 'repos');
  const buildLogs = new BuildLogStore(config.dataDir, {
    keep: () => apps.list().flatMap((a) => builds.list(a.id, KEEP_BUILD_LOGS_PER_APP).map((b) => b.id)), log,
  });
  const registry = new RegistryClient({ socketPath: config.dockerSocket, registry: config.registry, credential: registryCredential });
  const hookSocket = path.join(config.dataDir, 'run', 'git-hook.sock');
  // Review apps subscribe to the parent's destroy themselves; the sweep destroys those past their time to live.
  const reviews = new ReviewsStore(db);
  const reviewApps = new ReviewApps({ apps, reviews, deployer, events, maxPerApp: config.maxReviewApps, audit, log });
  reviewApps.startSweeping(config.reviewSweepSec * 1000);
  const pushes = createPushHandler({
    apps, releases, builds, deployer,
    // The controller exists by the time a push can arrive (the API starts last).
    canaries: { latest: (appId) => canaries.latest(appId), outcome: (appId, version) => canary.controller.outcome(appId, version) },
    builder: new DockerBuilder({
      socketPath: config.dockerSocket, stacks: config.stacks,
      extraCaFile: buildCaBundle(config.buildCaFile, config.dataDir), buildTimeoutMs: config.buildTimeoutSec * 1000,
      registries: [hostConfig.registryAdvertise],
    }),
    registry,
    registryAddress: config.registry,
    buildConcurrency: config.buildConcurrency,
    keepReleaseImages: config.keepReleaseImages,
    appUrl: (name) => appUrl(name, view),
    repoDir: (name) => git.repos.pathFor(reviewApps.repositoryOwner(name)), // a review app's branch is in its parent's
    buildLogs,
  });
  const git = createGitRoutes({
    reposDir,
    hookCommand: hookCommand(),
    hookSocket,
    auth,
    audit,
    appExists: (name) => apps.find(name) !== undefined,
    canPush: (user, app) => access.canSee(user, app),
    mayDelete: (app, ref) => mayDeleteRef({ apps, reviews }, app, ref),
    maxPushBytes: config.maxPushBytes,
    log,
    onPush: auditedPushes(audit, withReviewApps({ apps, reviews, reviewApps, appUrl: (name) => appUrl(name, view) }, pushes)),
  });

  await serveHookSocket(git.hook, hookSocket); // not on the API's port

  const webAssets = new WebAssets();
  webAssets.load().catch((err) => log(`web console assets could not be built: ${(err as Error).message}`));
  const logs = createLogService({
    dataDir: config.dataDir, retentionDays: config.logRetentionDays, maxBytesPerApp: config.logMaxBytesPerApp, runtime: schedulers, log,
    apps, events, // stored by app id; it subscribes to remove a destroyed app's log
    onLine: (app, text, tsMs) => observability.recordLogLine(app, text, tsMs),
    router: {
      file: accessLogPath(config.dataDir),
      routes: () => router.listRoutes(),
      defaultApp: (host) => {
        const name = host.endsWith(`.${config.domain}`) ? host.slice(0, -config.domain.length - 1) : '';
        return name && apps.find(name) ? name : null;
      },
    },
  });
  logs.start();
  // A destroyed app leaves nothing behind that a new app of the same name would inherit.
  events.on('destroyed', ({ app }) => git.repos.remove(app));
  events.on('destroyed', ({ appId }) => pushes.forget(appId));
  events.on('destroyed', () => { buildLogs.prune(); });
  // The app's row (and its certificate's) is gone: Caddy unloads the certificate, then its files go.
  events.on('destroyed', async ({ appId }) => { await router.syncCustomCertificates(); httpsSettings.pruneFiles(appId); });
  events.on('destroyed', ({ app }) => observability.metrics.removeApp(app));
  events.on('destroyed', async ({ app }) => { await registry.removeApp(app); }); // another team must not pull them
  // A renamed app takes what is kept by its name along; the old name keeps nothing a later app could inherit.
  events.on('renamed', ({ app, from }) => git.repos.rename(from, app));
  events.on('renamed', ({ app, from }) => observability.metrics.renameApp(from, app));
  events.on('renamed', async ({ app, from, appId }) => {
    await registry.renameApp(from, app);
    releases.moveImageRepository(appId, `${config.registry}/${from}`, `${config.registry}/${app}`);
  });
  logs.routerAccess?.onAccess((entry) => observability.recordRequest({
    app: entry.app, ts: entry.ts, status: entry.status, durationMs: entry.durationMs,
  }));
  // apps:connect: deploys from a git host's webhook, through the same audited push pipeline.
  const connect = createConnect({
    db, box: secrets.box, config, extraCaFile: buildCaBundle(config.buildCaFile, config.dataDir), apps, builds, audit,
    openRepo: (name) => git.repos.open(name), onPush: auditedPushes(audit, pushes), buildLogs, events, view, log,
    isReviewApp: (appId) => reviews.reviewOf(appId) !== undefined,
  });
  // admin:backup / restore / check. A restore's rows are in: alert rules and certificates reload, the apps start as on a start.
  const backup = createBackupService({
    db, dataDir: config.dataDir, keyFile: config.secretsKeyFile, box: secrets.box, registry: config.registry, registryCredential,
    dockerSocket: config.dockerSocket, owner, version: VERSION, apps, releases, log,
    bringBack: async () => {
      observability.alerts.engine.rulesChanged();
      await router.syncCustomCertificates();
      const report = await reconcile({ apps, releases, schedulers, router, deployer }, log);
      // The restored rows name add-ons whose services this machine lacks: they start again as on a start.
      return { converged: report.converged, failed: report.failed, addons: await addons.addons.recoverMissing() };
    },
  });
  // addons:create and friends: data services on the local engine, beside the apps attached to them.
  // Their backups: in the store the config picks; backups a killed server left running are failed first.
  const addons = await createAddons({
    db, box: secrets.box, engine, owner, hardening: { pidsLimit: config.pidsLimit, oneOffMemoryMB: config.oneOffMemoryMB },
    apps, access, deployer, events, log, terminal: { auth, sessions, audit, view },
    backupStore: backupStoreFromConfig(config), scheduleTickMs: Number(process.env.BERTH_BACKUP_SCHEDULE_TICK_MS) || undefined,
    // Add-ons of k3s apps run on the cluster; a lost node holding their data is a host down for the alerts.
    cluster: clusterAccess({ dataDir: config.dataDir, owner, dockerSocket: config.dockerSocket, registry: config.registry, registryAdvertise: hostConfig.registryAdvertise }),
    hosts: observability,
  });
  // ps:autoscale: one controller for every signal and scheduler, fed the router's requests below.
  const autoscaling = createAutoscaling({
    db, apps, audit, deployer, events, alerts: observability.alerts, maxInstances: config.maxInstancesPerProcess, log,
    tickMs: Number(process.env.BERTH_AUTOSCALE_TICK_MS) || undefined,
  });
  logs.routerAccess?.onAccess((entry) => autoscaling.recordRequest(entry.app, entry.ts, entry.durationMs));
  // Canary releases: per-release request counts from the access log, and the analysis loop.
  const canary = createCanary({
    apps, releases, canaries, deployer, alerts: observability.alerts, events, log,
    onAccess: logs.routerAccess ? (listener) => logs.routerAccess!.onAccess(listener) : undefined,
  });
  const api = createApi({
    apps, releases, auth, builds, access, audit, sessions, secrets, deployer, schedulers, hosts: hosts.service, reviewApps, backup, maxBodyBytes: config.maxBodyBytes, version: VERSION, log,
    configOwners: (appId, key) => addons.addons.ownerOf(appId, key), autoscale: autoscaling.service,
    canaries: { store: canaries, controller: canary.controller },
    view, metrics: observability.metrics, alerts: observability.alerts, metricsToken: process.env.BERTH_METRICS_TOKEN || null,
    logStore: logs.store, images: { registries: [config.registry, hostConfig.registryAdvertise], allow: config.imageAllow },
    https: {
      settings: httpsSettings,
      certificateStatus: (hostnames) => router.certificateStatus(hostnames),
      refreshRedirect: (app) => router.refreshRedirect(app),
      syncCertificates: () => router.syncCustomCertificates(),
    },
  }, {
    git: git.git, ui: webAssets.routes(), apps: [connect.routes, addons.routes, autoscaling.routes, canary.routes], addons: addons.backupRoutes, hooks: connect.hooks,
    live: (services) => liveRoutes(services, { hub: new EventHub(services, schedulers), buildLogs, engines: schedulers }),
  });
  observability.start();
  canary.start();
  autoscaling.start();
  // The web terminal's websockets are upgraded through the same Hono routes (auth, access) as the API.
  const websocket = { server: new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 }) };
  const server = serve({ fetch: api.fetch, hostname: config.apiHost, port: config.apiPort, websocket }, (info) => {
    log(`Berth ${VERSION} API listening on http://${info.address}:${info.port}/api/v1 (data in ${config.dataDir})`);
  });
  answerClientErrorsAsJson(server);

  const shutdown = (signal: string) => {
    log(`${signal}: shutting down; apps keep running`);
    server.close();
    // The last request buckets are written; a webhook still retrying gets at most 3 s.
    Promise.race([Promise.all([observability.stop(), autoscaling.stop(), canary.stop(), logs.close(), addons.stop()]), new Promise((r) => setTimeout(r, 3000))])
      .catch((err) => log(`stopping metrics and alerts: ${(err as Error).message}`))
      .finally(() => {
        db.$client.close();
        process.exit(0);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}


