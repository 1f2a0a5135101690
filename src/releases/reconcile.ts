// Run on every start: the database is the truth, Docker and Caddy are brought in line with it.
// Apps kept serving while Berth was down (containers and Caddy run on their own); here we finish the job:
// interrupted rollouts are rolled back, missing instances recreated, orphans removed.
import type { Router } from '../router/types.ts';
import type { Schedulers } from '../scheduler/schedulers.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { ReleasesStore } from '../state/releases-store.ts';
import type { Deployer } from './deployer.ts';

export interface ReconcileDeps {
  apps: AppsStore;
  releases: ReleasesStore;
  schedulers: Schedulers;
  router: Router;
  deployer: Deployer;
}

export interface ReconcileReport { interrupted: string[]; converged: string[]; failed: string[]; orphans: string[] }

export async function reconcile(deps: ReconcileDeps, log: (line: string) => void): Promise<ReconcileReport> {
  const report: ReconcileReport = { interrupted: [], converged: [], failed: [], orphans: [] };
  await deps.router.ensureBase();
  for (const release of deps.releases.failInterrupted('interrupted: the Berth server stopped during the rollout')) {
    report.interrupted.push(`v${release.version}`);
  }
  // One-offs (`berth run`, a release phase) never outlive the Berth they ran for: nobody is attached to them now.
  for (const scheduler of deps.schedulers.all()) {
    for (const name of (await scheduler.removeLeftoverOneOffs?.()) ?? []) log(`reconcile: removed one-off ${name} (${scheduler.name}), left from before the restart`);
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
  // Whatever a scheduler runs for an app the database doesn't know (or for an app it no longer runs: a move
  // interrupted after the switch) goes, and so do routes of unknown apps.
  const schedulerOf = new Map(apps.map((a) => [a.name, a.scheduler]));
  for (const scheduler of deps.schedulers.all()) {
    for (const name of await scheduler.apps()) {
      const owner = schedulerOf.get(name);
      if (owner === scheduler.name) continue;
      if (owner === undefined) {
        log(`reconcile: removing orphan instances and route of unknown app ${name} (${scheduler.name})`);
        await scheduler.destroy(name);
        report.orphans.push(name);
      } else {
        log(`reconcile: ${name} runs on ${owner}; stopping what ${scheduler.name} still runs for it`);
        await scheduler.stop(name);
      }
    }
  }
  for (const route of await deps.router.listRoutes()) {
    if (schedulerOf.has(route.app)) continue;
    log(`reconcile: removing the route of unknown app ${route.app}`);
    await deps.router.removeRoute(route.app);
    if (!report.orphans.includes(route.app)) report.orphans.push(route.app);
  }
  return report;
}
