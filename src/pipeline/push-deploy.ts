// `git push paas main`: the push waits for its app's turn, the commit is built into an image, pushed to
// the registry and released; every step is told to the pusher as it happens. The outcome decides the push.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { PushEvent, PushHandler, RefUpdate } from '../git/types.ts';
import { ZERO_SHA } from '../git/protocol.ts';
import type { Builder } from '../builder/types.ts';
import type { RegistryClient } from '../registry/index.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { BuildsStore } from '../state/builds-store.ts';
import type { ReleasesStore } from '../state/releases-store.ts';
import { Semaphore } from '../shared/semaphore.ts';
import { describeKind, parseBuildArgs } from './build-settings.ts';
import type { BuildLogStore } from './build-log.ts';

const execFileAsync = promisify(execFile);

export interface PushDeployDeps {
  apps: AppsStore;
  releases: ReleasesStore;
  builds: BuildsStore;
  deployer: Deployer;
  builder: Builder;
  registry: RegistryClient;
  registryAddress: string;
  buildConcurrency: number;
  keepReleaseImages: number;
  appUrl: (app: string) => string;
  /** The app's bare repository, to re-read a ref after waiting for the lock. */
  repoDir: (app: string) => string;
  /** Where the web console follows build output (optional: without it, only the pusher sees it). */
  buildLogs?: BuildLogStore;
}

const step = (say: (l: string) => void, text: string) => say(`-----> ${text}`);
const detail = (say: (l: string) => void, text: string) => say(`       ${text}`);

export function createPushHandler(deps: PushDeployDeps): PushHandler {
  const buildSlots = new Semaphore(deps.buildConcurrency);
  const accepted = new Map<string, string>(); // "app ref" → sha accepted but maybe not yet written by git

  return async (push) => {
    const app = deps.apps.get(push.app);
    const deployRef = `refs/heads/${app.deployBranch}`;
    for (const other of push.updates.filter((u) => u.ref !== deployRef)) {
      push.say(`Stored ${other.ref.replace('refs/heads/', 'branch ')}; only pushes to ${app.deployBranch} deploy.`);
    }
    const update = push.updates.find((u) => u.ref === deployRef);
    if (!update) return true;
    if (deps.deployer.locks.busy(app.name)) {
      const running = deps.apps.get(app.name).deployingRelease;
      push.say(`Waiting for the ${running ? `deploy of v${running}` : 'running change'} of ${app.name} to finish…`);
    }
    return deps.deployer.locks.run(app.name, async () => {
      // git updates the ref only if it still holds the old value this push saw; after a wait it may not.
      const key = `${app.name} ${update.ref}`;
      const now = await settledRef(deps.repoDir(app.name), update.ref, accepted.get(key));
      accepted.delete(key);
      if (now !== update.oldSha && !(now === null && ZERO_SHA.test(update.oldSha))) {
        push.say(`${app.deployBranch} moved to ${(now ?? 'nothing').slice(0, 7)} while this push waited: fetch, merge and push again.`);
        return false;
      }
      const ok = await buildSlots.run(() => buildAndRelease(deps, push, update));
      if (ok) accepted.set(key, update.newSha);
      return ok;
    });
  };
}

/**
 * The ref as git will hold it: a push accepted a moment ago is written by git only after its hook
 * exits, so wait (briefly, bounded) for that sha to land before comparing.
 */
async function settledRef(repoDir: string, ref: string, justAccepted: string | undefined): Promise<string | null> {
  for (let tries = 0; justAccepted && tries < 50 && (await readRef(repoDir, ref)) !== justAccepted; tries++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return readRef(repoDir, ref);
}

/** Asynchronous: a git process waited for synchronously would stall the API for as long as it takes on a busy machine. */
async function readRef(repoDir: string, ref: string): Promise<string | null> {
  try {
    return (await execFileAsync('git', ['rev-parse', '--verify', '-q', ref], { cwd: repoDir, encoding: 'utf8' })).stdout.trim() || null;
  } catch {
    return null; // no such ref yet: the first push to the branch
  }
}

async function buildAndRelease(deps: PushDeployDeps, push: PushEvent, update: RefUpdate): Promise<boolean> {
  const app = deps.apps.get(push.app);
  const build = deps.builds.start(app.id, update.newSha, update.ref, push.user);
  const buildLog = deps.buildLogs?.open(build.id);
  const say = buildLog ? (line: string) => { push.say(line); buildLog.line(line); } : push.say;
  const started = Date.now();
  try {
    const version = deps.releases.nextVersion(app.id);
    const tag = `${deps.registryAddress}/${app.name}:v${version}`;
    const config = deps.apps.config(app.id);
    step(say, `Building ${app.name} from ${update.newSha.slice(0, 7)} (${update.ref.replace('refs/heads/', '')})`);
    const built = await deps.builder.build({
      app: app.name, source: push.archive(update), tag, signal: push.signal,
      buildArgs: parseBuildArgs(config), dockerfilePath: config.BERTH_DOCKERFILE || 'Dockerfile',
      progress: (line) => detail(say, line),
    });
    step(say, `${describeKind(built.kind)} built as ${tag}`);
    step(say, `Pushing ${tag} to the registry`);
    const { digest } = await deps.registry.push(tag, (line) => detail(say, line));
    detail(say, `digest ${digest}`);
    const release = await deps.deployer.releaseBuiltUnlocked(app.name, {
      imageRef: tag, imageId: built.imageId, imageDigest: digest, processes: built.processes,
      releaseCommand: built.releaseCommand, description: `Deploy ${update.newSha.slice(0, 7)}`,
    }, push.user, (line) => detail(say, line));
    deps.builds.finish(build.id, { status: 'succeeded', kind: built.kind, releaseVersion: release.version });
    step(say, `v${release.version} deployed to ${deps.appUrl(app.name)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await pruneOldImages(deps, app.id, app.name, say);
    return true;
  } catch (err) {
    const message = (err as Error).message;
    deps.builds.finish(build.id, { status: 'failed', error: message });
    say('');
    say(`!     Push rejected: ${message}`);
    say(`!     The running release keeps serving; fix the problem and push again.`);
    return false;
  } finally {
    buildLog?.finish();
  }
}

/** Keeps the registry from growing forever: only the last K releases' images stay (rollback targets). */
async function pruneOldImages(deps: PushDeployDeps, appId: number, app: string, say: (l: string) => void): Promise<void> {
  const keep = deps.releases.list(appId, deps.keepReleaseImages)
    .map((r) => r.imageRef).filter((ref): ref is string => !!ref)
    .map((ref) => ref.slice(ref.lastIndexOf(':') + 1));
  try {
    const deleted = await deps.registry.prune(app, keep);
    if (deleted.length) detail(say, `removed ${deleted.length} old image(s) from the registry`);
  } catch (err) {
    detail(say, `could not prune old images: ${(err as Error).message}`);
  }
}
