// What users ask of an app's releases: deploy an image, change config, roll back, scale, restart, move it to
// another scheduler. Every change goes through the app's lock and the app's scheduler, and creates at most one
// release. Config and formation are written only once the change is live, so a crash mid-rollout leaves the
// database at what was running, never at values nothing ran with.
import type { AppsStore, AppRow } from '../state/apps-store.ts';
import type { ReleasesStore, ReleaseRow, NewRelease } from '../state/releases-store.ts';
import type { FormationEntry } from '../state/schema.ts';
import { now } from '../state/db.ts';
import { AppLocks } from './app-lock.ts';
import { containerPortFor, type Progress } from './converge.ts';
import { BerthError, badRequest } from '../shared/errors.ts';
import type { Schedulers } from '../scheduler/schedulers.ts';
import type { DeployRequest, ReleaseToRun, Scheduler } from '../scheduler/types.ts';
import type { AppEvents } from '../lifecycle/app-events.ts';
import { checkAppName, checkImageRef } from '../shared/validation.ts';
import { applyFormationUpdates, defaultFormation, formationForProcesses, withInitialFormation, type FormationUpdate } from './formation.ts';
import type { AppManifest } from '../pipeline/app-json.ts';
import { checkMaintenanceUrl, MAINTENANCE_PAGE_VAR, maintenancePage } from '../router/maintenance-page.ts';
import { NOTHING_PREPARED, type Instance, type InstancePreparation } from '../runtime/types.ts';
import type { CanaryStore } from '../canary/store.ts';
import { weightAt, type CanaryPlan } from '../canary/plan.ts';
import type { CanaryToRun } from '../scheduler/types.ts';

export interface DeployerDeps {
  apps: AppsStore;
  releases: ReleasesStore;
  schedulers: Schedulers;
  events: AppEvents;
  domain: string;
  maxInstancesPerProcess: number;
  releaseCommandTimeoutSec: number;
  /** BERTH_HEALTH_TIMEOUT: seconds new instances get unless the app sets HEALTHCHECK_TIMEOUT. */
  healthTimeoutSec: number;
  /** Canary releases (src/canary); absent: none are offered. */
  canaries?: CanaryStore;
}

/** What a build hands over to be released. */
export interface BuiltImage {
  imageRef: string;
  imageId: string;
  imageDigest: string | null;
  processes: Record<string, string>;
  releaseCommand: string | null;
  description: string;
  /** The commit's app.json, when it has one: scripts, initial formation, web health check. */
  manifest?: AppManifest | null;
}

const MOST_PREPARED_WEB = 3;

/** A command run once in the new release's image, outside the formation (release phase, app.json scripts). */
interface OneOff { label: string; what: string; command: string }

export class Deployer {
  readonly locks = new AppLocks();
  private readonly deps: DeployerDeps;
  constructor(deps: DeployerDeps) { this.deps = deps; }

  hostnames(app: AppRow): string[] {
    return [`${app.name}.${this.deps.domain}`, ...this.deps.apps.customDomains(app.id)];
  }

  /** A new app on `schedulerName` (default: the installation's); it gets its route (503) right away. */
  async create(name: string, schedulerName?: unknown): Promise<AppRow> {
    const scheduler = schedulerName === undefined ? this.deps.schedulers.get(this.deps.schedulers.defaultName()) : this.deps.schedulers.get(schedulerName);
    const created = this.deps.apps.create(name, scheduler.name);
    await this.deps.events.emit('created', { app: created.name, appId: created.id });
    await this.converge(name);
    return created;
  }

  /**
   * Moves a running app to another scheduler with no downtime: the current release starts there and takes the
   * route once healthy, then the old scheduler's instances drain and stop.
   */
  moveTo(appName: string, schedulerName: unknown, progress?: Progress): Promise<AppRow> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const target = this.deps.schedulers.get(schedulerName);
      const source = this.deps.schedulers.forApp(app.name);
      if (target.name === source.name) return app;
      this.deps.events.ask('moving', { app: app.name, appId: app.id, from: source.name, to: target.name });
      progress?.(`Moving ${app.name} from ${source.name} to ${target.name}.`);
      await target.deploy(this.deployRequest(app, this.runningRelease(app), this.deps.apps.formation(app.id)), progress);
      this.deps.apps.update(app.id, { scheduler: target.name });
      await source.stop(app.name);
      progress?.(`${app.name} runs on ${target.name}.`);
      return this.deps.apps.get(app.name);
    });
  }

  scheduler(app: AppRow): Scheduler {
    return this.deps.schedulers.forApp(app.name);
  }

  /**
   * Before a push's image is built: the app's scheduler readies what the release's web instances and its release
   * command will start with (a few at most: each costs a container while ready). end() after the release.
   */
  prepareRelease(appName: string): InstancePreparation {
    const app = this.deps.apps.get(appName);
    const web = this.deps.apps.formation(app.id).find((f) => f.type === 'web')?.quantity ?? 1;
    return this.scheduler(app).prepareDeploy?.(app.name, Math.min(web, MOST_PREPARED_WEB) + 1) ?? NOTHING_PREPARED;
  }

  currentRelease(app: AppRow): ReleaseRow | undefined {
    return app.currentRelease === null ? undefined : this.deps.releases.find(app.id, app.currentRelease);
  }

  /** With `canary`: the image runs as a canary beside the current release (deploy --canary). */
  deploy(appName: string, imageRef: unknown, actor: string, progress?: Progress, canary?: CanaryPlan): Promise<ReleaseRow> {
    const ref = checkImageRef(imageRef);
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const image = await this.scheduler(app).resolveImage(ref);
      if (!image) throw new BerthError(422, 'image_not_found', `Image "${ref}" does not exist here and could not be pulled.`);
      const existing = this.deps.apps.formation(app.id);
      const formation = existing.length ? existing : defaultFormation();
      const draft = {
        description: `Deploy ${ref}`, imageRef: ref, imageId: image.id, imageDigest: image.digest,
        containerPort: containerPortFor(image.exposedPorts),
        config: this.deps.apps.config(app.id), formation, createdBy: actor,
      };
      if (canary) return this.startCanary(app, draft, canary, progress);
      return this.rollOut(app, draft, () => { if (!existing.length) this.deps.apps.replaceFormation(app.id, formation); }, progress);
    });
  }

  /**
   * The release runs as a canary: its web instances start beside the current release's and, once healthy, get the
   * requests the plan's first weight and gray matches pick. Nothing else changes until promote or abort.
   */
  private async startCanary(app: AppRow, draft: Omit<NewRelease, 'appId' | 'status'>, plan: CanaryPlan, progress?: Progress): Promise<ReleaseRow> {
    const canaries = this.deps.canaries;
    if (!canaries) throw new BerthError(422, 'canary_unsupported', 'This server offers no canary releases.');
    this.refuseDuringCanary(app);
    const stable = this.runningRelease(app);
    if (!stable) throw new BerthError(422, 'canary_without_stable', `${app.name} has no running release to compare a canary with: deploy it without --canary first.`);
    if (app.stopped || app.maintenance) throw new BerthError(422, 'canary_not_serving', `${app.name} is ${app.stopped ? 'stopped' : 'in maintenance'}: a canary needs live traffic.`);
    const release = this.deps.releases.create({ ...draft, appId: app.id, status: 'deploying' });
    this.deps.apps.update(app.id, { deployingRelease: release.version });
    progress?.(`Releasing v${release.version} as a canary beside v${stable.version}: ${release.description}`);
    const canary: CanaryToRun = {
      release: { version: release.version, imageId: draft.imageId!, imageRef: draft.imageRef, config: draft.config, containerPort: draft.containerPort },
      routing: routingOf(plan, release.version, weightAt(plan, 0)),
    };
    try {
      await this.scheduler(app).deploy({ ...this.deployRequest(app, stable, this.deps.apps.formation(app.id)), canary }, progress);
    } catch (err) {
      const reason = (err as Error).message;
      const failed = this.deps.releases.finish(release.id, 'failed', reason);
      this.deps.apps.update(app.id, { deployingRelease: null });
      throw new BerthError(422, 'release_failed', `Release v${failed.version} failed: ${reason}`, { version: failed.version });
    }
    canaries.start({ appId: app.id, version: release.version, plan, weight: canary.routing.weight, startedBy: draft.createdBy }, Date.now());
    this.deps.apps.update(app.id, { deployingRelease: null });
    progress?.(`v${release.version} is a canary at ${canary.routing.weight} %${describeGray(plan)}.`);
    return this.deps.releases.markCanary(release.id);
  }

  /** The running canary takes all traffic: its release becomes the current one, the stable instances drain and stop. */
  promoteCanary(appName: string, progress?: Progress): Promise<ReleaseRow> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const running = this.requireCanary(app);
      const release = this.deps.releases.get(app.id, running.version);
      const toRun: ReleaseToRun = { version: release.version, imageId: release.imageId!, imageRef: release.imageRef, config: release.config, containerPort: release.containerPort };
      const formation = this.deps.apps.formation(app.id);
      await this.scheduler(app).deploy({ ...this.deployRequest(app, toRun, formation), canary: null, drainInBackground: true }, progress);
      this.deps.canaries!.finish(app.id, 'promoted', null, Date.now());
      const done = this.deps.releases.finish(release.id, 'succeeded');
      this.deps.apps.update(app.id, { currentRelease: done.version, lastDeployAt: now() });
      await this.deps.events.emit('released', { app: app.name, appId: app.id, version: done.version });
      progress?.(`v${done.version} is live.`);
      return done;
    });
  }

  /** All traffic back to the current release; the canary's instances drain and stop, and the release records why. */
  abortCanary(appName: string, reason: string, progress?: Progress): Promise<ReleaseRow> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const running = this.requireCanary(app);
      await this.scheduler(app).deploy({ ...this.deployRequest(app, this.runningRelease(app), this.deps.apps.formation(app.id)), canary: null, drainInBackground: true }, progress);
      this.deps.canaries!.finish(app.id, 'aborted', reason, Date.now());
      const release = this.deps.releases.get(app.id, running.version);
      return this.deps.releases.finish(release.id, 'aborted', reason);
    });
  }

  /** The canary's next step: only the route's weight changes. */
  stepCanary(appName: string, step: number, weight: number): Promise<void> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      this.requireCanary(app);
      const request = this.deployRequest(app, this.runningRelease(app), this.deps.apps.formation(app.id));
      await this.scheduler(app).deploy({ ...request, canary: request.canary && { ...request.canary, routing: { ...request.canary.routing, weight } } });
      this.deps.canaries!.setStep(app.id, step, weight, Date.now());
    });
  }

  private requireCanary(app: AppRow) {
    const running = this.deps.canaries?.running(app.id);
    if (!running) throw new BerthError(409, 'no_canary', `${app.name} has no canary running.`);
    return running;
  }

  /** While a canary runs, the app's releases wait for its promote or abort (they would replace what it is compared with). */
  private refuseDuringCanary(app: AppRow): void {
    const running = this.deps.canaries?.running(app.id);
    if (running) {
      throw new BerthError(409, 'canary_running', `v${running.version} of ${app.name} runs as a canary: berth releases:promote ${app.name} or berth releases:abort ${app.name} first.`);
    }
  }

  /** Releases an image a build just made. The caller holds the app's lock: the push waited for it. */
  async releaseBuiltUnlocked(appName: string, built: BuiltImage, actor: string, progress: Progress): Promise<ReleaseRow> {
    const app = this.deps.apps.get(appName);
    const manifest = built.manifest ?? null;
    const before = this.deps.apps.formation(app.id);
    const formation = withInitialFormation(formationForProcesses(before, built.processes), before,
      manifest?.formation ?? {}, this.deps.maxInstancesPerProcess);
    const firstRelease = !this.deps.releases.list(app.id).some((r) => r.imageId && r.status === 'succeeded');
    const image = await this.scheduler(app).resolveImage(built.imageId);
    const beforeLive: OneOff[] = [];
    if (manifest?.predeploy) beforeLive.push({ label: 'predeploy', what: 'app.json predeploy script', command: manifest.predeploy });
    if (built.releaseCommand) beforeLive.push({ label: 'release', what: 'release command', command: built.releaseCommand });
    const draft = {
      description: built.description, imageRef: built.imageRef, imageId: built.imageId, imageDigest: built.imageDigest,
      containerPort: containerPortFor(image?.exposedPorts ?? []), health: manifest?.health ?? null,
      config: this.deps.apps.config(app.id), formation, createdBy: actor,
    };
    // apps:canary: a push starts a canary once there is a release to compare it with. A release phase would migrate
    // the database under the stable release's feet, so a push with one cannot be a canary.
    const plan = this.deps.canaries?.pushPlan(app.id);
    if (plan && this.runningRelease(app)) {
      if (beforeLive.length) throw new BerthError(422, 'canary_release_phase', `${app.name} has a ${beforeLive[0]!.what}: it would run under the stable release, so this push cannot be a canary (berth apps:canary ${app.name} --off).`);
      return this.startCanary(app, draft, plan, progress);
    }
    const release = await this.rollOut(app, draft, () => this.deps.apps.replaceFormation(app.id, formation), progress, beforeLive, { drainInBackground: true });
    const afterLive: OneOff[] = [];
    if (manifest?.postdeployEveryRelease) afterLive.push({ label: 'postdeploy', what: 'app.json postdeploy script', command: manifest.postdeployEveryRelease });
    if (firstRelease && manifest?.postdeployFirstRelease) {
      afterLive.push({ label: 'postdeploy', what: 'app.json postdeploy script (first release)', command: manifest.postdeployFirstRelease });
    }
    for (const task of afterLive) await this.runAfterLive(app, release, task, progress);
    return release;
  }

  /** A postdeploy script runs once the release is live: failing cannot undo that, so it is reported, not thrown. */
  private async runAfterLive(app: AppRow, release: ReleaseRow, task: OneOff, progress: Progress): Promise<void> {
    const toRun: ReleaseToRun = {
      version: release.version, imageId: release.imageId!, imageRef: release.imageRef, config: release.config, containerPort: release.containerPort,
    };
    try {
      await this.runOneOff(app, toRun, task, progress);
    } catch (err) {
      progress(`${(err as Error).message}; v${release.version} stays live.`);
    }
  }


  /**
   * The new release; null when the app has no image yet: the config is stored and takes effect with the first deploy.
   * `noReview`: keys set here that review apps must not get a copy of (config:set --no-review).
   */
  setConfig(appName: string, changes: Record<string, string | null>, actor: string, noReview: string[] = []): Promise<ReleaseRow | null> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const after = { ...this.deps.apps.config(app.id) };
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) delete after[key]; else after[key] = value;
      }
      const set = Object.keys(changes).filter((k) => changes[k] !== null);
      const unset = Object.keys(changes).filter((k) => changes[k] === null);
      const description = [set.length ? `Set ${set.join(', ')}` : '', unset.length ? `Unset ${unset.join(', ')}` : '']
        .filter(Boolean).join('; ') + ' config vars';
      const current = this.currentRelease(app);
      // Nothing runs yet: the config waits for the first image, without a release that would run nothing.
      if (!current?.imageId) {
        this.deps.apps.replaceConfig(app.id, after, noReview);
        return null;
      }
      return this.rollOut(app, {
        description, imageRef: current?.imageRef ?? null, imageId: current?.imageId ?? null,
        imageDigest: current?.imageDigest ?? null, containerPort: current?.containerPort ?? null, config: after,
        formation: this.deps.apps.formation(app.id), createdBy: actor,
      }, () => this.deps.apps.replaceConfig(app.id, after, noReview));
    });
  }

  rollback(appName: string, version: number | undefined, actor: string): Promise<ReleaseRow> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const target = version === undefined ? this.previousGoodRelease(app) : this.deps.releases.get(app.id, version);
      if (target.status !== 'succeeded' || !target.imageId) {
        throw badRequest('invalid_rollback', `Release v${target.version} cannot be rolled back to: it ${target.imageId ? 'failed' : 'has no image'}.`);
      }
      if (!(await this.scheduler(app).resolveImage(target.imageId))) {
        throw new BerthError(422, 'image_not_found', `The image of v${target.version} is no longer on this host.`);
      }
      return this.rollOut(app, {
        description: `Rollback to v${target.version}`, imageRef: target.imageRef, imageId: target.imageId,
        imageDigest: target.imageDigest, containerPort: target.containerPort, config: target.config,
        formation: this.deps.apps.formation(app.id), createdBy: actor,
      }, () => this.deps.apps.replaceConfig(app.id, target.config));
    });
  }

  scale(appName: string, updates: FormationUpdate[]): Promise<FormationEntry[]> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const before = this.deps.apps.formation(app.id);
      const known = before.length ? before : defaultFormation();
      const after = applyFormationUpdates(known, updates, this.deps.maxInstancesPerProcess);
      await this.changeFormation(app, after);
      return after;
    });
  }

  restart(appName: string, type: string | undefined): Promise<FormationEntry[]> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const before = this.deps.apps.formation(app.id);
      if (type !== undefined && !before.some((f) => f.type === type)) {
        throw badRequest('invalid_process_type', `App "${appName}" has no process type "${type}".`);
      }
      const after = before.map((f) => (type === undefined || f.type === type ? { ...f, generation: f.generation + 1 } : f));
      await this.changeFormation(app, after);
      return after;
    });
  }

  destroy(appName: string): Promise<void> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      await this.scheduler(app).destroy(app.name);
      this.deps.apps.delete(app.id);
      await this.deps.events.emit('destroyed', { app: app.name, appId: app.id });
    });
  }

  /**
   * apps:rename: the running release starts under the new name (its instances, route and APP.<domain> name)
   * before the old name's instances and route go, so the app never stops serving. Subsystems that keep
   * something by name (git repository, registry, metrics, logs) follow the `renamed` event.
   */
  rename(appName: string, newName: unknown): Promise<AppRow> {
    const name = checkAppName(newName);
    if (name === appName) throw badRequest('invalid_app_name', `The app is already called "${name}".`);
    // Both names are held, always in the same order, so two renames towards each other cannot deadlock.
    const [first, second] = [appName, name].sort();
    return this.locks.run(first, () => this.locks.run(second, async () => {
      const app = this.deps.apps.get(appName);
      this.deps.apps.rename(app.id, name);
      const renamed = this.deps.apps.get(name);
      const scheduler = this.scheduler(renamed);
      try {
        await this.convergeApp(renamed, this.deps.apps.formation(app.id));
      } catch (err) {
        this.deps.apps.rename(app.id, app.name);
        await scheduler.destroy(name).catch(() => {});
        throw err;
      }
      await scheduler.destroy(app.name);
      await this.deps.events.emit('renamed', { app: name, appId: app.id, from: app.name });
      return renamed;
    }));
  }

  /** maintenance:on/off: only the route changes (no release); the instances run on. */
  setMaintenance(appName: string, on: boolean): Promise<AppRow> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const pageUrl = this.runningRelease(app)?.config[MAINTENANCE_PAGE_VAR];
      const checked = on && pageUrl ? checkMaintenanceUrl(pageUrl) : null;
      if (typeof checked === 'string') throw badRequest('invalid_maintenance_page', checked);
      return this.withAppFlags(app, { maintenance: on });
    });
  }

  /** apps:stop / apps:start: nothing runs while stopped, and the formation is kept for the start. */
  setStopped(appName: string, stopped: boolean): Promise<AppRow> {
    return this.locks.run(appName, async () => this.withAppFlags(this.deps.apps.get(appName), { stopped }));
  }

  /** Converges with the flags set; a failure puts them back, so the database says what runs. */
  private async withAppFlags(app: AppRow, flags: Partial<Pick<AppRow, 'maintenance' | 'stopped'>>): Promise<AppRow> {
    const before = { maintenance: app.maintenance, stopped: app.stopped };
    const changed = { ...app, ...flags };
    this.deps.apps.update(app.id, flags);
    try {
      await this.convergeApp(changed, this.deps.apps.formation(app.id));
    } catch (err) {
      this.deps.apps.update(app.id, before);
      throw err;
    }
    return changed;
  }

  /**
   * ps:stop: "web.2" stops that instance, "worker" every instance of the type; the app's formation is
   * unchanged, so fresh ones start in their place (like Heroku's ps:stop). Returns what was stopped.
   */
  stopInstances(appName: string, which: string): Promise<Instance[]> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const scheduler = this.scheduler(app);
      const candidates = [...await scheduler.instances(app.name), ...(await scheduler.runs?.(app.name)) ?? []];
      const stopping = candidates.filter(instanceSelector(which))
        .sort((a, b) => a.process.localeCompare(b.process) || a.index - b.index);
      if (!stopping.length) throw new BerthError(404, 'not_found', `No instance ${which} of ${app.name} is running.`);
      await scheduler.stopInstances(app.name, stopping);
      await this.convergeApp(app, this.deps.apps.formation(app.id));
      return stopping;
    });
  }

  /** Brings the running instances and route in line with the database (reconcile, domain changes). */
  converge(appName: string, progress?: Progress): Promise<void> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      await this.convergeApp(app, this.deps.apps.formation(app.id), progress);
    });
  }

  /** Scale and restart: the running release with another formation; written once it runs. */
  private async changeFormation(app: AppRow, after: FormationEntry[]): Promise<void> {
    await this.convergeApp(app, after);
    this.deps.apps.replaceFormation(app.id, after);
  }

  private async convergeApp(app: AppRow, formation: FormationEntry[], progress?: Progress): Promise<void> {
    await this.scheduler(app).deploy(this.deployRequest(app, this.runningRelease(app), formation), progress);
  }

  /** The current release as schedulers run it; null before the first image. */
  private runningRelease(app: AppRow): ReleaseToRun | null {
    const current = this.currentRelease(app);
    if (!current?.imageId) return null;
    return { version: current.version, imageId: current.imageId, imageRef: current.imageRef, config: current.config, containerPort: current.containerPort };
  }

  private deployRequest(app: AppRow, release: ReleaseToRun | null, formation: FormationEntry[]): DeployRequest {
    const config = release?.config ?? {};
    const fromAppJson = release ? this.deps.releases.find(app.id, release.version)?.health : null;
    return {
      app: app.name, release, hostnames: this.hostnames(app),
      // A stopped app runs nothing; its formation stays in the database for apps:start.
      formation: app.stopped ? formation.map((f) => ({ ...f, quantity: 0 })) : formation,
      maintenance: app.maintenance ? maintenancePage(app.name, config[MAINTENANCE_PAGE_VAR]) : null,
      canary: this.runningCanary(app),
      // BERTH_-prefixed like the other platform settings; the unprefixed names still work.
      // Config vars win over the commit's app.json, which wins over the defaults.
      health: {
        path: config.BERTH_HEALTHCHECK_PATH || config.HEALTHCHECK_PATH || fromAppJson?.path || '/',
        timeoutSec: Number(config.BERTH_HEALTHCHECK_TIMEOUT || config.HEALTHCHECK_TIMEOUT) || fromAppJson?.timeoutSec || this.deps.healthTimeoutSec,
      },
    };
  }

  /** The app's running canary as schedulers run it, so a scale or restart meanwhile keeps it. */
  private runningCanary(app: AppRow): CanaryToRun | null {
    const running = this.deps.canaries?.running(app.id);
    const release = running && this.deps.releases.find(app.id, running.version);
    if (!running || !release?.imageId) return null;
    return {
      release: { version: release.version, imageId: release.imageId, imageRef: release.imageRef, config: release.config, containerPort: release.containerPort },
      routing: routingOf(running.plan, running.version, running.weight),
    };
  }

  private previousGoodRelease(app: AppRow): ReleaseRow {
    const candidate = this.deps.releases.list(app.id)
      .find((r) => r.version !== app.currentRelease && r.status === 'succeeded' && r.imageId
        && (app.currentRelease === null || r.version < app.currentRelease));
    if (!candidate) throw badRequest('invalid_rollback', `App "${app.name}" has no earlier release to roll back to.`);
    return candidate;
  }

  /** The Procfile's `release:` command (migrations) or an app.json script: once, with the new image and config. */
  private async runOneOff(app: AppRow, release: ReleaseToRun, task: OneOff, progress?: Progress): Promise<void> {
    progress?.(`Running ${task.what}: ${task.command}`);
    const code = await this.scheduler(app).runOnce({
      app: app.name, release, command: ['/bin/sh', '-c', task.command],
      env: { BERTH_APP: app.name, BERTH_RELEASE: `v${release.version}`, BERTH_PROCESS: task.label, DYNO: `${task.label}.1` },
      memoryMB: null, timeoutSec: this.deps.releaseCommandTimeoutSec,
    }, (line) => progress?.(`${task.label}: ${line}`));
    if (code !== 0) throw new Error(`the ${task.what} exited with code ${code}`);
    progress?.(`The ${task.what} succeeded.`);
  }

  /** The release phase: its commands one after the other, the first failure ending it. */
  private async runInOrder(app: AppRow, release: ReleaseToRun, tasks: OneOff[], progress?: Progress): Promise<void> {
    for (const task of tasks) await this.runOneOff(app, release, task, progress);
  }

  /**
   * The scheduler rolls out while the release phase runs (it starts web instances meanwhile, routes nothing unless
   * the phase succeeds). The change returns only once the phase is over, whatever happened: a failed start never
   * leaves a migration running behind the app's lock.
   */
  private async deployDuringReleasePhase(app: AppRow, request: DeployRequest, releasePhase: Promise<void> | null, progress?: Progress): Promise<void> {
    releasePhase?.catch(() => {}); // its failure is the scheduler's to report; a scheduler that failed earlier never looks
    try {
      await this.scheduler(app).deploy({ ...request, releasePhase }, progress);
    } finally {
      await releasePhase?.catch(() => {});
    }
  }


  /**
   * Records the release, rolls it out, and settles its status. `commit` writes the config or formation the
   * release runs with, only once it is live (or recorded, for an app without an image).
   */
  private async rollOut(app: AppRow, draft: Omit<NewRelease, 'appId' | 'status'>, commit: () => void, progress?: Progress,
    beforeLive: OneOff[] = [], options: Pick<DeployRequest, 'drainInBackground'> = {}): Promise<ReleaseRow> {
    this.refuseDuringCanary(app);
    if (!draft.imageId) {
      const release = this.deps.releases.create({ ...draft, appId: app.id, status: 'succeeded' });
      commit();
      this.deps.apps.update(app.id, { currentRelease: release.version });
      return release;
    }
    const release = this.deps.releases.create({ ...draft, appId: app.id, status: 'deploying' });
    this.deps.apps.update(app.id, { deployingRelease: release.version });
    progress?.(`Releasing v${release.version}: ${release.description}`);
    const toRun: ReleaseToRun = {
      version: release.version, imageId: draft.imageId, imageRef: draft.imageRef, config: draft.config, containerPort: draft.containerPort,
    };
    try {
      await this.deployDuringReleasePhase(app, { ...this.deployRequest(app, toRun, draft.formation), ...options },
        beforeLive.length ? this.runInOrder(app, toRun, beforeLive, progress) : null, progress);
    } catch (err) {
      const reason = (err as Error).message;
      const failed = this.deps.releases.finish(release.id, 'failed', reason);
      this.deps.apps.update(app.id, { deployingRelease: null });
      throw new BerthError(422, 'release_failed', `Release v${failed.version} failed: ${reason}`, { version: failed.version });
    }
    commit();
    const done = this.deps.releases.finish(release.id, 'succeeded');
    this.deps.apps.update(app.id, { currentRelease: done.version, deployingRelease: null, lastDeployAt: now() });
    await this.deps.events.emit('released', { app: app.name, appId: app.id, version: done.version });
    progress?.(`v${done.version} is live.`);
    return done;
  }
}

/** "web.2": that instance; "worker": every instance of the type. */
function instanceSelector(which: string): (instance: Instance) => boolean {
  const m = /^([a-z][a-z0-9_-]{0,29})(?:\.(\d{1,4}))?$/.exec(which);
  if (!m) throw badRequest('bad_request', `Expected a process type or an instance like web.2, got "${which.slice(0, 60)}".`);
  return (i) => i.process === m[1] && (m[2] === undefined || i.index === Number(m[2]));
}

function routingOf(plan: CanaryPlan, version: number, weight: number): CanaryToRun['routing'] {
  return { version, weight, header: plan.header, cookie: plan.cookie, sticky: plan.sticky };
}

function describeGray(plan: CanaryPlan): string {
  const gray = [plan.header && `header ${plan.header.name}=${plan.header.value}`, plan.cookie && `cookie ${plan.cookie.name}=${plan.cookie.value}`].filter(Boolean);
  return (gray.length ? `, and every request with ${gray.join(' or ')}` : '') + (plan.sticky ? ' (sticky per client)' : '');
}
