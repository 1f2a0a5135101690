// Fetches a connected repository's branch into the app's own bare repository, within bounds: the host's
// addresses are checked against the outbound policy (the same as alert webhooks) on every fetch and git is
// pinned to them, the pack may not grow past the push size limit (a file size limit on git), and the whole
// fetch past a timeout is killed with every process git started.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BerthError } from '../shared/errors.ts';
import { OutboundRefusedError, type OutboundGuard } from '../shared/outbound-request.ts';
import { basicAuthorization, fetchCommand } from './fetch-command.ts';
import type { RepoUrl } from './repo-url.ts';

const execFileAsync = promisify(execFile);
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface RepoFetcherOptions {
  guard: OutboundGuard;
  /** Private scratch space (keys and known_hosts live there only while a fetch runs). */
  workDir: string;
  /** Extra CAs to trust besides the system's (BERTH_BUILD_CA_FILE's bundle); null: the system's only. */
  extraCaFile: string | null;
  maxBytes: number;
  timeoutMs: number;
  log: (line: string) => void;
}

export interface FetchRequest {
  gitDir: string;
  repo: RepoUrl;
  branch: string;
  targetRef: string;
  token?: { user: string; token: string } | null;
  deployKey?: string | null;
  knownHosts?: string | null;
}

export interface FetchResult { sha: string; knownHosts: string | null }

export class RepoFetcher {
  readonly #opts: RepoFetcherOptions;
  #caFile: string | null | undefined;

  constructor(opts: RepoFetcherOptions) { this.#opts = opts; }

  /** The addresses git may dial for this repository, or a 422 saying the policy refuses it. */
  async allowedAddresses(repo: RepoUrl): Promise<string[]> {
    try {
      return (await this.#opts.guard.allowedAddresses(repo.host, repo.port, 'Berth')).map((a) => a.address);
    } catch (err) {
      if (!(err instanceof OutboundRefusedError)) throw err;
      this.#opts.log(`repository ${repo.host}:${repo.port} refused: ${err.detail}`);
      throw new BerthError(422, 'repo_refused', `${err.message}. An operator may allow internal git hosts with BERTH_WEBHOOK_ALLOW.`);
    }
  }

  async fetch(req: FetchRequest): Promise<FetchResult> {
    const addresses = await this.allowedAddresses(req.repo);
    fs.mkdirSync(this.#opts.workDir, { recursive: true, mode: 0o700 });
    const scratch = fs.mkdtempSync(path.join(this.#opts.workDir, 'fetch-'));
    try {
      const emptyHome = path.join(scratch, 'home');
      fs.mkdirSync(emptyHome, { mode: 0o700 });
      const keyFile = path.join(scratch, 'deploy-key');
      const knownHostsFile = path.join(scratch, 'known_hosts');
      if (req.repo.kind === 'ssh') {
        if (!req.deployKey) throw new Error('this SSH connection has no deploy key: connect the app again');
        fs.writeFileSync(keyFile, req.deployKey.endsWith('\n') ? req.deployKey : `${req.deployKey}\n`, { mode: 0o600 });
        fs.writeFileSync(knownHostsFile, req.knownHosts ?? '', { mode: 0o600 });
      }
      const command = fetchCommand({
        repo: req.repo, addresses, gitDir: req.gitDir, branch: req.branch, targetRef: req.targetRef,
        authorization: req.token ? basicAuthorization(req.token.user, req.token.token) : undefined,
        keyFile, knownHostsFile, caFile: this.#caBundle() ?? undefined, emptyHome, path: process.env.PATH ?? '/usr/bin:/bin',
      });
      await this.#run(command.args, command.env, req.gitDir);
      const { stdout } = await execFileAsync('git', ['rev-parse', '--verify', '-q', `${req.targetRef}^{commit}`], { env: { PATH: command.env.PATH!, GIT_DIR: req.gitDir } });
      const knownHosts = req.repo.kind === 'ssh' ? fs.readFileSync(knownHostsFile, 'utf8') : null;
      return { sha: stdout.trim(), knownHosts };
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** git under a file size limit (SIGXFSZ ends it past maxBytes) and a timeout, killed as a process group. */
  #run(args: string[], env: Record<string, string>, gitDir: string): Promise<void> {
    const { maxBytes, timeoutMs } = this.#opts;
    return new Promise((resolve, reject) => {
      const child = spawn('prlimit', [`--fsize=${maxBytes}`, '--', 'git', ...args], { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      let timedOut = false;
      const started = Date.now();
      child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
      const timer = setTimeout(() => {
        timedOut = true;
        try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
      }, timeoutMs);
      child.on('error', (err) => { clearTimeout(timer); reject(err); });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) return resolve();
        const said = gitComplaint(stderr);
        if (timedOut) return reject(new Error(`the fetch took longer than ${Math.round(timeoutMs / 1000)} s and was stopped`));
        if (signal === 'SIGXFSZ' || removeCutPacks(gitDir, started, maxBytes)) {
          return reject(new Error(`the fetch is larger than the ${Math.round(maxBytes / 1024 / 1024)} MiB a push may be (BERTH_MAX_PUSH_MB)`));
        }
        reject(new Error(`git fetch failed: ${said || `exit ${code ?? signal}`}`));
      });
    });
  }

  /** The system's CAs plus the operator's extra ones, written once; null: git's default is right. */
  #caBundle(): string | null {
    if (this.#caFile !== undefined) return this.#caFile;
    const extra = this.#opts.extraCaFile;
    if (!extra) return (this.#caFile = null);
    const system = fs.existsSync(SYSTEM_CA_BUNDLE) ? fs.readFileSync(SYSTEM_CA_BUNDLE, 'utf8') : '';
    const bundle = path.join(this.#opts.workDir, 'ca-bundle.pem');
    fs.mkdirSync(this.#opts.workDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(bundle, `${system.trim()}\n${fs.readFileSync(extra, 'utf8').trim()}\n`);
    return (this.#caFile = bundle);
  }
}

/**
 * The packs a failed fetch left half-written (git removes them only on a clean exit); true when one was cut
 * at the size limit, i.e. the file size limit stopped the fetch.
 */
function removeCutPacks(gitDir: string, since: number, maxBytes: number): boolean {
  const dir = path.join(gitDir, 'objects', 'pack');
  let cut = false;
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (!name.startsWith('tmp_')) continue;
    const file = path.join(dir, name);
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat || stat.mtimeMs < since - 1000) continue;
    if (stat.size >= maxBytes) cut = true;
    fs.rmSync(file, { force: true });
  }
  return cut;
}

// git's closing advice after any SSH failure, which would hide ssh's own reason.
const GIT_BOILERPLATE = /^(fatal: Could not read from remote repository\.|Please make sure you have the correct access rights|and the repository exists\.)$/;

/** The last few lines of what git and ssh said, printable only and without git's generic advice. */
function gitComplaint(stderr: string): string {
  return stderr.replace(/[^\x20-\x7e\n]/g, '').split('\n').map((line) => line.trim())
    .filter((line) => line && !GIT_BOILERPLATE.test(line)).slice(-3).join(' ');
}
