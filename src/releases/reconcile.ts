// Run on every start: the database is the truth, Docker and Caddy are brought in line with it.
// Apps kept serving while Berth was down (containers and Caddy run on their own); here we finish the job:
// interrupted rollouts are rolled back, missing instances recreated, orphans removed.
import type { Runtime } from '../runtime/types.ts';
import type { Router } from '../router/types.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { ReleasesStore } from '../state/releases-store.ts';
import type { Deployer } from './deployer.ts';
import type { Converger } from './converge.ts';

export interface ReconcileDeps {
  apps: AppsStore;
  releases: ReleasesStore;
  runtime: Runtime;
  router: Router;
  deployer: Deployer;
  converger: Converger;
}

export interface ReconcileReport { interrupted: string[]; converged: string[]; failed: string[]; orphans: string[] }

export async function reconcile(deps: ReconcileDeps, log: (line: string) => void): Promise<ReconcileReport> {
  const report: ReconcileReport = { interrupted: [], converged: [], failed: [], orphans: [] };
  await deps.router.ensureBase();
  for (const release of deps.releases.failInterrupted('interrupted: the Berth server stopped during the rollout')) {
    report.interrupted.push(`v${release.version}`);
  }
  const apps = deps.apps.list();
  for (const app of apps) {
    if (app.deployingRelease !== null) {
      log(`reconcile: ${app.name} v${app.deployingRelease} was interrupted; rolling back to v${app.currentRelease ?? '-'}`);
      deps.apps.update(app.id, { deployingRelease: null });
    }
    try {
      await deps.deployer.converge(app.name, (line) => log(`reconcile: ${app.name}: ${line}`));
      report.converged.push(app.name);
    } catch (err) {
      report.failed.push(app.name);
      log(`reconcile: ${app.name} could not be brought up: ${(err as Error).message}`);
    }
  }
  const known = new Set(apps.map((a) => a.name));
  const orphanApps = new Set([
    ...(await deps.runtime.list()).map((i) => i.app),
    ...(await deps.router.listRoutes()).map((r) => r.app),
  ].filter((name) => !known.has(name)));
  for (const name of orphanApps) {
    log(`reconcile: removing orphan instances and route of unknown app ${name}`);
    await deps.converger.retire(name);
    report.orphans.push(name);
  }
  return report;
}
