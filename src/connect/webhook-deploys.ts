// A verified push webhook becomes a deploy exactly like `git push`: its build is started at once (the git
// host gets the build id back), then, in the background and one delivery at a time per app, the branch is
// fetched into the app's own repository and the pushed commit goes through the same push pipeline (the
// app's deploy lock, the build log, the audit trail). A deployed commit becomes the app's deploy branch,
// as if it had been pushed to Berth.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { PushHandler, RefUpdate } from '../git/types.ts';
import { archiveCommit } from '../git/commit-archive.ts';
import { readPushedFile } from '../git/pushed-file.ts';
import { gitFreeEnv } from '../git/repos.ts';
import type { AppsStore, AppRow } from '../state/apps-store.ts';
import type { BuildsStore } from '../state/builds-store.ts';
import type { ConnectionsStore } from '../state/connections-store.ts';
import type { BuildLogStore } from '../pipeline/build-log.ts';
import { BerthError } from '../shared/errors.ts';
import type { RepoFetcher } from './repo-fetcher.ts';
import { parseRepoUrl } from './repo-url.ts';
import type { GitHost } from './webhook-delivery.ts';

const execFileAsync = promisify(execFile);

/** Where the fetched branch is kept in the app's repository: not a branch, so clones do not get it. */
export const CONNECTED_REF = 'refs/berth/connected';
const ZERO = '0'.repeat(40);
/** Deliveries waiting per app beyond the running one: a flood of (signed) webhooks cannot queue builds forever. */
const MAX_WAITING = 5;

export interface WebhookDeploysDeps {
  apps: Pick<AppsStore, 'find'>;
  builds: Pick<BuildsStore, 'start' | 'finish' | 'list'>;
  connections: ConnectionsStore;
  fetcher: RepoFetcher;
  /** The app's bare repository, created if needed (Repos.open). */
  openRepo(app: string): Promise<string>;
  /** The push pipeline, audited (the same handler `git push` goes through). */
  onPush: PushHandler;
  buildLogs?: BuildLogStore;
  log: (line: string) => void;
}

export interface PushDelivery { host: GitHost; sha: string }

/** An app's deliveries, one at a time; `name` follows apps:rename while they wait. */
interface Queue { name: string; tail: Promise<void>; waiting: number; abort: AbortController }

export class WebhookDeploys {
  readonly #deps: WebhookDeploysDeps;
  readonly #queues = new Map<number, Queue>();

  constructor(deps: WebhookDeploysDeps) { this.#deps = deps; }

  /** Starts the build of a pushed commit and queues its deploy; returns the build's id. */
  start(app: AppRow, delivery: PushDelivery): number {
    const queue = this.#queues.get(app.id) ?? { name: app.name, tail: Promise.resolve(), waiting: 0, abort: new AbortController() };
    this.#queues.set(app.id, queue);
    if (queue.waiting >= MAX_WAITING) {
      throw new BerthError(429, 'too_many_deliveries', `${queue.waiting} deliveries for ${app.name} are already waiting to deploy; try again later.`);
    }
    const user = `${delivery.host} webhook`;
    const build = this.#deps.builds.start(app.id, delivery.sha, `refs/heads/${app.deployBranch}`, user);
    queue.waiting++;
    queue.tail = queue.tail.then(async () => {
      queue.waiting--;
      await this.#deploy({ id: app.id, name: queue.name }, build.id, user, delivery, queue.abort.signal);
    }).catch((err) => this.#deps.log(`webhook deploy of ${app.name}: ${(err as Error).stack ?? err}`));
    return build.id;
  }

  /** apps:rename: the deliveries waiting deploy the app under its new name. */
  renamed(appId: number, name: string): void {
    const queue = this.#queues.get(appId);
    if (queue) queue.name = name;
  }

  /** A destroyed app's waiting deliveries end (their builds fail) and the running one is aborted. */
  forget(appId: number): void {
    this.#queues.get(appId)?.abort.abort();
    this.#queues.delete(appId);
  }

  async #deploy(queued: { id: number; name: string }, buildId: number, user: string, delivery: PushDelivery, signal: AbortSignal): Promise<void> {
    const deps = this.#deps;
    const log = deps.buildLogs?.open(buildId);
    let lastLine = '';
    const say = (line: string) => { lastLine = line || lastLine; log?.line(line); };
    let failure: string | null = null;
    try {
      const app = deps.apps.find(queued.name);
      if (signal.aborted || !app || app.id !== queued.id) throw new Error(`${queued.name} was renamed or destroyed before this deploy began`);
      const connection = deps.connections.find(app.id);
      if (!connection) throw new Error(`${app.name} was disconnected from its repository before this deploy began`);
      say(`-----> Fetching ${connection.branch} from ${connection.repoUrl}`);
      const gitDir = await deps.openRepo(app.name);
      const fetched = await deps.fetcher.fetch({
        gitDir, repo: parseRepoUrl(connection.repoUrl), branch: connection.branch, targetRef: CONNECTED_REF,
        token: connection.token, deployKey: connection.deployKey, knownHosts: connection.knownHosts,
      });
      if (fetched.knownHosts !== null && fetched.knownHosts !== connection.knownHosts) deps.connections.saveKnownHosts(app.id, fetched.knownHosts);
      if (!(await isAncestor(gitDir, delivery.sha, fetched.sha))) {
        throw new Error(`commit ${delivery.sha.slice(0, 7)} is not on ${connection.branch} any more (${connection.branch} is at ${fetched.sha.slice(0, 7)}: force-pushed?); nothing was deployed`);
      }
      say(`       ${connection.branch} is at ${fetched.sha.slice(0, 7)}; deploying the pushed commit ${delivery.sha.slice(0, 7)}`);
      const update: RefUpdate = { oldSha: (await readRef(gitDir, `refs/heads/${app.deployBranch}`)) ?? ZERO, newSha: delivery.sha, ref: `refs/heads/${app.deployBranch}` };
      const env = { GIT_DIR: gitDir };
      const accepted = await deps.onPush({
        app: app.name, user, updates: [update], say, signal, build: { id: buildId },
        archive: (ref) => archiveCommit(ref, env),
        readFile: (ref, file, maxBytes) => readPushedFile(ref.newSha, file, maxBytes, env),
      });
      // As git does after a push's hook accepted it: the deploy branch now holds what was deployed.
      if (accepted) await execFileAsync('git', ['update-ref', update.ref, update.newSha, update.oldSha], { env: { ...gitFreeEnv(), ...env } });
    } catch (err) {
      failure = (err as Error).message;
      say(`!     Deploy failed: ${failure}`);
    } finally {
      // The pipeline finishes the builds it ran; one that never got that far (fetch failed, the branch moved) ends here.
      const build = deps.builds.list(queued.id, 20).find((b) => b.id === buildId);
      if (!build || build.status === 'building') deps.builds.finish(buildId, { status: 'failed', error: failure ?? (lastLine || 'refused by the push pipeline') });
      log?.finish();
    }
  }
}

async function isAncestor(gitDir: string, commit: string, tip: string): Promise<boolean> {
  try {
    await execFileAsync('git', ['merge-base', '--is-ancestor', commit, tip], { env: { ...gitFreeEnv(), GIT_DIR: gitDir } });
    return true;
  } catch {
    return false; // not an ancestor, or not in the repository at all
  }
}

async function readRef(gitDir: string, ref: string): Promise<string | null> {
  try {
    return (await execFileAsync('git', ['rev-parse', '--verify', '-q', ref], { env: { ...gitFreeEnv(), GIT_DIR: gitDir } })).stdout.trim() || null;
  } catch {
    return null;
  }
}
