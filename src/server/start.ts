// The Berth server: state, release engine, runtime, router, builder, git receiver and API in one process.
import os from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { loadConfig } from '../config.ts';
import { openDb } from '../state/db.ts';
import { AppsStore } from '../state/apps-store.ts';
import { ReleasesStore } from '../state/releases-store.ts';
import { AuthStore } from '../state/auth-store.ts';
import { BuildsStore } from '../state/builds-store.ts';
import { DockerRuntime } from '../runtime/docker/index.ts';
import { CaddyRouter } from '../router/caddy/index.ts';
import { PortAllocator } from '../releases/ports.ts';
import { Converger } from '../releases/converge.ts';
import { Deployer } from '../releases/deployer.ts';
import { reconcile } from '../releases/reconcile.ts';
import { createApi } from '../api/app.ts';
import { buildCaBundle, ensureAdmin, installationId } from './bootstrap.ts';
import { DockerBuilder } from '../builder/index.ts';
import { RegistryClient } from '../registry/index.ts';
import { createGitRoutes } from '../git/receiver.ts';
import { createPushHandler } from '../pipeline/push-deploy.ts';
import { appUrl } from '../api/views.ts';
import { VERSION } from '../version.ts';

const RECONCILE_RETRY_MS = 10_000;
const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);

export async function startServer(): Promise<void> {
  const config = loadConfig();
  const db = openDb(path.join(config.dataDir, 'berth.db'));
  const apps = new AppsStore(db);
  const releases = new ReleasesStore(db);
  const auth = new AuthStore(db);
  const builds = new BuildsStore(db);
  const runtime = new DockerRuntime({ socketPath: config.dockerSocket, owner: installationId(config.dataDir) });
  const router = new CaddyRouter({ adminUrl: config.caddyAdmin, httpPort: config.httpPort, httpsPort: config.httpsPort });
  const converger = new Converger(runtime, router, new PortAllocator(config.portRange), config);
  const deployer = new Deployer({
    apps, releases, runtime, converger, domain: config.domain, maxInstancesPerProcess: config.maxInstancesPerProcess,
    releaseCommandTimeoutSec: config.releaseCommandTimeoutSec,
  });

  const token = ensureAdmin(auth, config.dataDir);
  const interruptedBuilds = builds.failInterrupted();
  if (interruptedBuilds) log(`${interruptedBuilds} build(s) interrupted by the last stop marked failed; their pushes were rejected`);
  // Without BERTH_PUBLIC_URL, URLs handed to users (git remotes) use the address each request came in on.
  const publicUrl = process.env.BERTH_PUBLIC_URL?.replace(/\/+$/, '') || null;

  const reconcileUntilDone = async (): Promise<void> => {
    try {
      const report = await reconcile({ apps, releases, runtime, router, deployer, converger }, log);
      log(`reconciled: ${report.converged.length} app(s) converged, ${report.failed.length} failed, ` +
        `${report.interrupted.length} interrupted release(s) rolled back, ${report.orphans.length} orphan(s) removed`);
    } catch (err) {
      log(`reconcile failed (${(err as Error).message}); retrying in ${RECONCILE_RETRY_MS / 1000} s`);
      setTimeout(reconcileUntilDone, RECONCILE_RETRY_MS).unref();
    }
  };
  await reconcileUntilDone();

  const view = { domain: config.domain, httpPort: config.httpPort, httpsPort: config.httpsPort, publicUrl };
  const reposDir = path.join(config.dataDir, 'repos');
  const git = createGitRoutes({
    reposDir,
    hookEntry: path.resolve(process.argv[1]),
    hookUrl: `http://127.0.0.1:${config.apiPort}/git-hook`,
    auth,
    appExists: (name) => apps.find(name) !== undefined,
    canPush: () => true, // every user is an admin until teams and app access arrive
    maxPushBytes: config.maxPushBytes,
    log,
    onPush: createPushHandler({
      apps, releases, builds, deployer,
      builder: new DockerBuilder({
        socketPath: config.dockerSocket, stacks: config.stacks,
        extraCaFile: buildCaBundle(config.buildCaFile, config.dataDir), buildTimeoutMs: config.buildTimeoutSec * 1000,
      }),
      registry: new RegistryClient({ socketPath: config.dockerSocket, registry: config.registry }),
      registryAddress: config.registry,
      buildConcurrency: config.buildConcurrency,
      keepReleaseImages: config.keepReleaseImages,
      appUrl: (name) => appUrl(name, view),
      repoDir: (name) => git.repos.pathFor(name),
    }),
  });
  deployer.onDestroy = (name) => { git.repos.remove(name).catch((err) => log(`could not remove the repo of ${name}: ${err.message}`)); };

  const api = createApi({
    apps, releases, auth, builds, deployer, runtime, maxBodyBytes: config.maxBodyBytes, version: VERSION, log,
    view,
  }, { git: git.git, hook: git.hook });
  const server = serve({ fetch: api.fetch, hostname: config.apiHost, port: config.apiPort }, (info) => {
    log(`Berth ${VERSION} API listening on http://${info.address}:${info.port}/api/v1 (data in ${config.dataDir})`);
    if (token) log(`Admin token (shown once, also in ${path.join(config.dataDir, 'admin-token')}): ${token}`);
  });

  const shutdown = (signal: string) => {
    log(`${signal}: shutting down; apps keep running`);
    server.close();
    db.$client.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}


