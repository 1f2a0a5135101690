// What users ask of an app's releases: deploy an image, change config, roll back, scale, restart.
// Every change goes through the app's lock and one Converger, and creates at most one release.
import type { Runtime } from '../runtime/types.ts';
import type { AppsStore, AppRow } from '../state/apps-store.ts';
import type { ReleasesStore, ReleaseRow, NewRelease } from '../state/releases-store.ts';
import type { FormationEntry } from '../state/schema.ts';
import { now } from '../state/db.ts';
import { AppLocks } from './app-lock.ts';
import { containerPortFor, type Converger, type Progress } from './converge.ts';
import { BerthError, badRequest } from '../shared/errors.ts';
import { checkImageRef } from '../shared/validation.ts';
import { applyFormationUpdates, defaultFormation, formationForProcesses, type FormationUpdate } from './formation.ts';

export interface DeployerDeps {
  apps: AppsStore;
  releases: ReleasesStore;
  runtime: Runtime;
  converger: Converger;
  domain: string;
  maxInstancesPerProcess: number;
  releaseCommandTimeoutSec: number;
}

/** What a build hands over to be released. */
export interface BuiltImage {
  imageRef: string;
  imageId: string;
  imageDigest: string | null;
  processes: Record<string, string>;
  releaseCommand: string | null;
  description: string;
}

export class Deployer {
  readonly locks = new AppLocks();
  /** Called after an app is destroyed, for state kept outside the database (its git repository). */
  onDestroy: (app: string) => void = () => {};
  private readonly deps: DeployerDeps;
  constructor(deps: DeployerDeps) { this.deps = deps; }

  hostnames(app: AppRow): string[] {
    return [`${app.name}.${this.deps.domain}`, ...this.deps.apps.customDomains(app.id)];
  }

  currentRelease(app: AppRow): ReleaseRow | undefined {
    return app.currentRelease === null ? undefined : this.deps.releases.find(app.id, app.currentRelease);
  }

  deploy(appName: string, imageRef: unknown, actor: string, progress?: Progress): Promise<ReleaseRow> {
    const ref = checkImageRef(imageRef);
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const image = await this.deps.runtime.resolveImage(ref);
      if (!image) throw new BerthError(422, 'image_not_found', `Image "${ref}" does not exist here and could not be pulled.`);
      let formation = this.deps.apps.formation(app.id);
      if (formation.length === 0) {
        formation = defaultFormation();
        this.deps.apps.replaceFormation(app.id, formation);
      }
      return this.rollOut(app, {
        description: `Deploy ${ref}`, imageRef: ref, imageId: image.id, imageDigest: image.digest,
        containerPort: containerPortFor(image.exposedPorts),
        config: this.deps.apps.config(app.id), formation, createdBy: actor,
      }, () => {}, progress);
    });
  }

  /** Releases an image a build just made. The caller holds the app's lock: the push waited for it. */
  async releaseBuiltUnlocked(appName: string, built: BuiltImage, actor: string, progress: Progress): Promise<ReleaseRow> {
    const app = this.deps.apps.get(appName);
    const before = this.deps.apps.formation(app.id);
    const formation = formationForProcesses(before, built.processes);
    const image = await this.deps.runtime.resolveImage(built.imageId);
    this.deps.apps.replaceFormation(app.id, formation);
    return this.rollOut(app, {
      description: built.description, imageRef: built.imageRef, imageId: built.imageId, imageDigest: built.imageDigest,
      containerPort: containerPortFor(image?.exposedPorts ?? []),
      config: this.deps.apps.config(app.id), formation, createdBy: actor,
    }, () => this.deps.apps.replaceFormation(app.id, before), progress, built.releaseCommand);
  }

  setConfig(appName: string, changes: Record<string, string | null>, actor: string): Promise<ReleaseRow> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const before = this.deps.apps.config(app.id);
      const after = { ...before };
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) delete after[key]; else after[key] = value;
      }
      const set = Object.keys(changes).filter((k) => changes[k] !== null);
      const unset = Object.keys(changes).filter((k) => changes[k] === null);
      const description = [set.length ? `Set ${set.join(', ')}` : '', unset.length ? `Unset ${unset.join(', ')}` : '']
        .filter(Boolean).join('; ') + ' config vars';
      this.deps.apps.replaceConfig(app.id, after);
      const current = this.currentRelease(app);
      return this.rollOut(app, {
        description, imageRef: current?.imageRef ?? null, imageId: current?.imageId ?? null,
        imageDigest: current?.imageDigest ?? null, containerPort: current?.containerPort ?? null, config: after,
        formation: this.deps.apps.formation(app.id), createdBy: actor,
      }, () => this.deps.apps.replaceConfig(app.id, before));
    });
  }

  rollback(appName: string, version: number | undefined, actor: string): Promise<ReleaseRow> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const target = version === undefined ? this.previousGoodRelease(app) : this.deps.releases.get(app.id, version);
      if (target.status !== 'succeeded' || !target.imageId) {
        throw badRequest('invalid_rollback', `Release v${target.version} cannot be rolled back to: it ${target.imageId ? 'failed' : 'has no image'}.`);
      }
      if (!(await this.deps.runtime.resolveImage(target.imageId))) {
        throw new BerthError(422, 'image_not_found', `The image of v${target.version} is no longer on this host.`);
      }
      const before = this.deps.apps.config(app.id);
      this.deps.apps.replaceConfig(app.id, target.config);
      return this.rollOut(app, {
        description: `Rollback to v${target.version}`, imageRef: target.imageRef, imageId: target.imageId,
        imageDigest: target.imageDigest, containerPort: target.containerPort, config: target.config,
        formation: this.deps.apps.formation(app.id), createdBy: actor,
      }, () => this.deps.apps.replaceConfig(app.id, before));
    });
  }

  scale(appName: string, updates: FormationUpdate[]): Promise<FormationEntry[]> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      const before = this.deps.apps.formation(app.id);
      const known = before.length ? before : defaultFormation();
      const after = applyFormationUpdates(known, updates, this.deps.maxInstancesPerProcess);
      await this.changeFormation(app, before, after);
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
      await this.changeFormation(app, before, after);
      return after;
    });
  }

  destroy(appName: string): Promise<void> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      await this.deps.converger.retire(app.name);
      this.deps.apps.delete(app.id);
      this.onDestroy(app.name);
    });
  }

  /** Brings the running instances and route in line with the database (reconcile, domain changes). */
  converge(appName: string, progress?: Progress): Promise<void> {
    return this.locks.run(appName, async () => {
      const app = this.deps.apps.get(appName);
      await this.convergeApp(app, this.deps.apps.formation(app.id), progress);
    });
  }

  private async changeFormation(app: AppRow, before: FormationEntry[], after: FormationEntry[]): Promise<void> {
    this.deps.apps.replaceFormation(app.id, after);
    try {
      await this.convergeApp(app, after);
    } catch (err) {
      this.deps.apps.replaceFormation(app.id, before);
      throw err;
    }
  }

  private async convergeApp(app: AppRow, formation: FormationEntry[], progress?: Progress): Promise<void> {
    const current = this.currentRelease(app);
    await this.deps.converger.converge({
      app: app.name, formation, hostnames: this.hostnames(app),
      release: current ? { version: current.version, image: current.imageId, config: current.config, containerPort: current.containerPort } : null,
    }, progress);
  }

  private previousGoodRelease(app: AppRow): ReleaseRow {
    const candidate = this.deps.releases.list(app.id)
      .find((r) => r.version !== app.currentRelease && r.status === 'succeeded' && r.imageId
        && (app.currentRelease === null || r.version < app.currentRelease));
    if (!candidate) throw badRequest('invalid_rollback', `App "${app.name}" has no earlier release to roll back to.`);
    return candidate;
  }

  /** The Procfile's `release:` command (migrations): once, with the new image and config, before going live. */
  private async runReleaseCommand(app: string, release: ReleaseRow, command: string, progress?: Progress): Promise<void> {
    progress?.(`Running release command: ${command}`);
    const code = await this.deps.runtime.runOnce({
      app, release: release.version, image: release.imageId!, command: ['/bin/sh', '-c', command],
      env: { ...release.config, BERTH_APP: app, BERTH_RELEASE: `v${release.version}`, BERTH_PROCESS: 'release', DYNO: 'release.1' },
      memoryMB: null, timeoutSec: this.deps.releaseCommandTimeoutSec,
    }, (line) => progress?.(`release: ${line}`));
    if (code !== 0) throw new Error(`the release command exited with code ${code}`);
  }

  /** Records the release, rolls it out, and settles its status; `undo` puts user state back on failure. */
  private async rollOut(app: AppRow, draft: Omit<NewRelease, 'appId' | 'status'>, undo: () => void, progress?: Progress,
    releaseCommand: string | null = null): Promise<ReleaseRow> {
    if (!draft.imageId) {
      const release = this.deps.releases.create({ ...draft, appId: app.id, status: 'succeeded' });
      this.deps.apps.update(app.id, { currentRelease: release.version });
      return release;
    }
    const release = this.deps.releases.create({ ...draft, appId: app.id, status: 'deploying' });
    this.deps.apps.update(app.id, { deployingRelease: release.version });
    progress?.(`Releasing v${release.version}: ${release.description}`);
    try {
      if (releaseCommand) await this.runReleaseCommand(app.name, release, releaseCommand, progress);
      await this.deps.converger.converge({
        app: app.name, formation: draft.formation, hostnames: this.hostnames(app),
        release: { version: release.version, image: draft.imageId, config: draft.config, containerPort: draft.containerPort },
      }, progress);
    } catch (err) {
      const reason = (err as Error).message;
      const failed = this.deps.releases.finish(release.id, 'failed', reason);
      this.deps.apps.update(app.id, { deployingRelease: null });
      undo();
      throw new BerthError(422, 'release_failed', `Release v${failed.version} failed: ${reason}`, { version: failed.version });
    }
    const done = this.deps.releases.finish(release.id, 'succeeded');
    this.deps.apps.update(app.id, { currentRelease: done.version, deployingRelease: null, lastDeployAt: now() });
    progress?.(`v${done.version} is live.`);
    return done;
  }
}
