// One bare repository per app at <reposDir>/<app>.git, created the first time it is used. Each open
// makes sure the pre-receive hook is the one this server would write (and the first open by this process, the
// settings), so an upgrade (new node, new entry path) refreshes every repository the next time someone pushes to it.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { shellCommand } from '../executable/self.ts';

const run = promisify(execFile);

/** Same shape as app names: nothing that could climb out of reposDir. */
const PLAIN_NAME = /^[a-z][a-z0-9-]{1,29}$/;

const STALE_QUARANTINE_MS = 24 * 60 * 60 * 1000;

const REPO_SETTINGS: [string, string][] = [
  ['http.receivepack', 'true'],          // http-backend refuses pushes from unauthenticated CGI otherwise
  // The pre-receive hook refuses every deletion but a review branch's (whose review app goes with it);
  // the deploy branch is never deleted, as that would orphan the app's source.
  ['receive.denyDeletes', 'false'],
  ['core.logAllRefUpdates', 'true'],     // bare repos keep no reflog by default; we want push history
];

/** The server's environment minus GIT_* (a stray GIT_DIR would send git to another repository). */
export function gitFreeEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('GIT_') && value !== undefined) env[name] = value;
  return env;
}

export const isPlainRepoName = (name: string): boolean => PLAIN_NAME.test(name);

/** Where an app's repository lives (whether or not it exists yet). */
export function repoPath(reposDir: string, app: string): string {
  if (!isPlainRepoName(app)) throw new Error(`Not a plain repository name: ${JSON.stringify(app)}`);
  return path.join(path.resolve(reposDir), `${app}.git`);
}

export interface RepoOptions {
  reposDir: string;
  /** The program the hook runs with `git-hook` appended: `[node, <server entry>]`, or `[berth]` from the executable. */
  hookCommand: string[];
}

export class Repos {
  readonly reposDir: string;
  private readonly hook: string;
  private readonly opening = new Map<string, Promise<string>>();
  /** Repositories whose settings this process applied: a push's two requests (and later pushes) skip the six git runs. */
  private readonly prepared = new Set<string>();

  constructor(opts: RepoOptions) {
    this.reposDir = path.resolve(opts.reposDir);
    this.hook = preReceiveScript(opts.hookCommand);
  }

  pathFor(app: string): string { return repoPath(this.reposDir, app); }

  /** Creates the repository if needed, refreshes its hook, and returns its path. */
  open(app: string): Promise<string> {
    const dir = this.pathFor(app);
    // Two first pushes racing must not run `git init` on the same directory at once.
    const pending = this.opening.get(dir);
    if (pending) return pending;
    const opened = this.prepare(dir).finally(() => this.opening.delete(dir));
    this.opening.set(dir, opened);
    return opened;
  }

  /** Deletes the app's repository (when the app is destroyed: a new app of that name starts empty). */
  async remove(app: string): Promise<void> {
    this.prepared.delete(this.pathFor(app));
    await fs.rm(this.pathFor(app), { recursive: true, force: true });
  }

  /** apps:rename: the repository moves with the app (absent until the first push: nothing to move). */
  async rename(from: string, to: string): Promise<void> {
    const target = this.pathFor(to);
    if (await exists(target)) throw new Error(`a repository for "${to}" already exists at ${target}`);
    this.prepared.delete(this.pathFor(from));
    await fs.rename(this.pathFor(from), target).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  private async prepare(dir: string): Promise<string> {
    if (!(await exists(path.join(dir, 'HEAD')))) {
      this.prepared.delete(dir);
      await fs.mkdir(this.reposDir, { recursive: true });
      await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir], { env: gitFreeEnv() });
    }
    // Settings too are (re)applied, for the same reason as the hook: upgrades (a new process).
    if (!this.prepared.has(dir)) {
      for (const [key, value] of REPO_SETTINGS) {
        await run('git', ['config', '--file', path.join(dir, 'config'), key, value], { env: gitFreeEnv() });
      }
      this.prepared.add(dir);
    }
    await writeIfChanged(path.join(dir, 'hooks', 'pre-receive'), this.hook);
    await removeStaleQuarantines(dir);
    return dir;
  }
}

/**
 * receive-pack keeps a push's objects in objects/tmp_objdir-incoming-* until its hook accepts; it
 * leaves that directory behind when it is killed (a pusher hanging up mid-deploy). No push lives
 * anywhere near a day, so older ones are garbage.
 */
async function removeStaleQuarantines(repo: string): Promise<void> {
  const objects = path.join(repo, 'objects');
  const entries = await fs.readdir(objects).catch(() => [] as string[]);
  for (const name of entries.filter((entry) => entry.startsWith('tmp_objdir-incoming-'))) {
    const dir = path.join(objects, name);
    const stat = await fs.stat(dir).catch(() => null);
    if (stat && Date.now() - stat.mtimeMs > STALE_QUARANTINE_MS) await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The hook only hands over to the server's code, which knows how to reach the server. */
export function preReceiveScript(command: string[]): string {
  // Node's own warnings would reach the pusher as `remote:` lines; the executable prints none.
  const [program, ...args] = command;
  const flags = args.length ? ['--no-warnings', ...args] : [];
  return [
    '#!/bin/sh',
    '# Written by Berth each time this repository is opened: local edits are lost.',
    `exec ${shellCommand([program, ...flags])} git-hook`,
    '',
  ].join('\n');
}


async function exists(file: string): Promise<boolean> {
  try { await fs.access(file); return true; } catch { return false; }
}

/** Atomic (write + rename): git may be executing the old hook for a concurrent push right now. */
async function writeIfChanged(file: string, content: string): Promise<void> {
  const current = await fs.readFile(file, 'utf8').catch(() => null);
  if (current === content) return;
  const temp = `${file}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(temp, content, { mode: 0o755 });
  await fs.rename(temp, file);
}
