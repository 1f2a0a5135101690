// `git push paas main`: the push waits for its app's turn, the commit is built into an image, pushed to
// the registry and released; every step is told to the pusher as it happens. The outcome decides the push.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { PushEvent, PushHandler, RefUpdate } from '../git/types.ts';
import { ZERO_SHA } from '../git/protocol.ts';
import type { Builder, BuildKind } from '../builder/types.ts';
import type { RegistryClient } from '../registry/index.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { InstancePreparation } from '../runtime/types.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { BuildsStore } from '../state/builds-store.ts';
import type { ReleasesStore } from '../state/releases-store.ts';
import { Semaphore } from '../shared/semaphore.ts';
import { describeKind, parseBuildArgs } from './build-settings.ts';
import type { BuildLogStore } from './build-log.ts';
import { readAppManifest } from './read-app-json.ts';
import { followCanary, type CanaryFollowing } from './canary-push.ts';

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
  /** Canary releases: a push that started one follows it to its end (optional: without it, the push returns). */
  canaries?: CanaryFollowing;
}

const step = (say: (l: string) => void, text: string) => say(`-----> ${text}`);
const detail = (say: (l: string) => void, text: string) => say(`       ${text}`);

/** The push handler, and `forget` for an app's per-app state once it is destroyed (a new app may take its name). */
export type PushDeployHandler = PushHandler & { forget(appId: number): void };

export function createPushHandler(deps: PushDeployDeps): PushDeployHandler {
  const buildSlots = new Semaphore(deps.buildConcurrency);
  // "appId ref" → sha accepted but maybe not yet written by git. Keyed by id: a re-created app of the same
  // name has another repository and must not wait for a commit its predecessor pushed.
  const accepted = new Map<string, string>();

  const handler = async (push: PushEvent): Promise<boolean> => {
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
    let canaryVersion: number | null = null;
    const released = await deps.deployer.locks.run(app.name, async () => {
      // git updates the ref only if it still holds the old value this push saw; after a wait it may not.
      const key = `${app.id} ${update.ref}`;
      const now = await settledRef(deps.repoDir(app.name), update.ref, accepted.get(key));
      accepted.delete(key);
      if (now !== update.oldSha && !(now === null && ZERO_SHA.test(update.oldSha))) {
        push.say(`${app.deployBranch} moved to ${(now ?? 'nothing').slice(0, 7)} while this push waited: fetch, merge and push again.`);
        return false;
      }
      const ok = await buildSlots.run(() => buildAndRelease(deps, push, update, (version) => { canaryVersion = version; }));
      if (ok) accepted.set(key, update.newSha);
      return ok;
    });
    // Outside the app's lock: the canary's steps, promote and abort take it.
    if (!released || canaryVersion === null || !deps.canaries) return released;
    return followCanary(deps.canaries, app, canaryVersion, push.say, push.signal);
  };
  const forget = (appId: number) => {
    for (const key of accepted.keys()) if (key.startsWith(`${appId} `)) accepted.delete(key);
  };
  return Object.assign(handler, { forget });
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

async function buildAndRelease(deps: PushDeployDeps, push: PushEvent, update: RefUpdate, startedCanary: (version: number) => void): Promise<boolean> {
  const app = deps.apps.get(push.app);
  const build = push.build ?? deps.builds.start(app.id, update.newSha, update.ref, push.user);
  const buildLog = push.build ? undefined : deps.buildLogs?.open(build.id);
  const say = buildLog ? (line: string) => { push.say(line); buildLog.line(line); } : push.say;
  const started = Date.now();
  let kind: BuildKind | null = null; // known once detection ran, so a failed build still says what it was
  // What the scheduler readies for the release's containers (network holders on Docker); end() readies the next push.
  let prepared: InstancePreparation | null = null;
  try {
    const version = deps.releases.nextVersion(app.id);
    const tag = `${deps.registryAddress}/${app.name}:v${version}`;
    const config = deps.apps.config(app.id);
    step(say, `Building ${app.name} from ${update.newSha.slice(0, 7)} (${update.ref.replace('refs/heads/', '')})`);
    // Read before building: a broken app.json stops the push before minutes of build. It is read while the
    // source is spooled (both are git processes); the build detects and says nothing before it passed.
    const manifestRead = readAppManifest(push, update, (line) => detail(say, line));
    manifestRead.catch(() => {}); // the build awaits it first
    prepared = deps.deployer.prepareRelease(app.name);
    const built = await deps.builder.build({
      app: app.name, source: push.archive(update), tag, signal: push.signal,
      buildArgs: parseBuildArgs(config), dockerfilePath: config.BERTH_DOCKERFILE || 'Dockerfile',
      progress: (line) => detail(say, line), detected: (k) => { kind = k; }, ready: manifestRead,
    });
    const manifest = await manifestRead;
    step(say, `${describeKind(built.kind)} built as ${tag}`);
    step(say, `Pushing ${tag} to the registry`);
    const { digest } = await deps.registry.push(tag, (line) => detail(say, line));
    detail(say, `digest ${digest}`);
    const release = await deps.deployer.releaseBuiltUnlocked(app.name, {
      imageRef: tag, imageId: built.imageId, imageDigest: digest, processes: built.processes,
      releaseCommand: built.releaseCommand, description: `Deploy ${update.newSha.slice(0, 7)}`, manifest,
    }, push.user, (line) => detail(say, line));
    deps.builds.finish(build.id, { status: 'succeeded', kind: built.kind, releaseVersion: release.version });
    if (release.status === 'canary') startedCanary(release.version);
    step(say, `v${release.version} ${release.status === 'canary' ? 'started as a canary on' : 'deployed to'} ${deps.appUrl(app.name)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await pruneOldImages(deps, app.id, app.name, say);
    return true;
  } catch (err) {
    const message = (err as Error).message;
    deps.builds.finish(build.id, { status: 'failed', kind, error: message });
    say('');
    // The build's output was streamed already: the reason is said once, each of its lines marked.
    message.split('\n').forEach((line, i) => say(`!     ${i === 0 ? 'Push rejected: ' : ''}${line}`));
    say(`!     ${servingNote(deps, app.name, app.id)}; fix the problem and push again.`);
    return false;
  } finally {
    buildLog?.finish();
    // In the background: readying the next push must not hold up this one's answer.
    prepared?.end().catch(() => {});
  }
}

/** What still serves after a failed push: the release that ran before, or nothing on a first push. */
function servingNote(deps: PushDeployDeps, name: string, appId: number): string {
  const app = deps.apps.find(name);
  const current = app?.id !== appId || app.currentRelease === null ? undefined : deps.releases.find(appId, app.currentRelease);
  return current?.imageId ? `v${current.version} keeps serving` : 'Nothing was released';
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
