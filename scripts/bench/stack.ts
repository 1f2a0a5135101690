// The environment a benchmark runs in: a private Caddy and one Berth server from the test harness
// (test/support), with cleanup that always runs, plus the docker CLI. Re-exported by lib.ts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startCaddy, type TestCaddy } from '../../test/support/caddy.ts';
import { BerthServer, issueAdminToken, sleep, startBerth } from '../../test/support/berth.ts';

export const execFileP = promisify(execFile);

/** Runs the docker CLI and returns its trimmed stdout. */
export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await execFileP('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

export interface Stack {
  caddy: TestCaddy;
  berth: BerthServer;
  /** Unique prefix for everything this run creates (app names, container labels). */
  prefix: string;
  /** An app name unique to this run: `<prefix>-<part>`. */
  app(part: string | number): string;
}

/** Label put on containers a benchmark starts itself (not through Berth), so cleanup finds them. */
export const BENCH_LABEL = 'berth-bench';
export const ROOT = path.resolve(import.meta.dirname, '../..');
/** The production bundle; BENCH_BUNDLE measures another build (its better_sqlite3.node beside it). */
export const BUNDLE = process.env.BENCH_BUNDLE || path.join(ROOT, 'dist/berth-server.mjs');
/** The single executable (npm run build): Node, server and CLI in one file; BENCH_EXECUTABLE measures another build. */
export const EXECUTABLE = process.env.BENCH_EXECUTABLE || path.join(ROOT, 'dist/berth');

/**
 * Starts a private Caddy and one Berth server (from sources, the production bundle dist/berth-server.mjs,
 * or the single executable dist/berth),
 * runs fn, and always tears everything down: the server, Caddy, its temp data dir and every container
 * of this run's apps (also on Ctrl-C / SIGTERM).
 */
export async function withStack<T>(env: Record<string, string>, fn: (s: Stack) => Promise<T>, server: 'sources' | 'bundle' | 'executable' = 'sources'): Promise<T> {
  const prefix = `b${Math.random().toString(36).slice(2, 6)}`;
  const caddy = await startCaddy();
  let berth: BerthServer | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = () => (cleaned ??= (async () => {
    await berth?.kill('SIGTERM').catch(() => {});
    await caddy.stop().catch(() => {});
    await removeContainersOf(prefix).catch((err) => console.error(`cleanup: ${(err as Error).message}`));
    if (berth) fs.rmSync(berth.dataDir, { recursive: true, force: true });
  })());
  const onSignal = () => { void cleanup().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    berth = await startBerth(caddy, env);
    if (server !== 'sources') {
      // The harness made the data dir, env and admin token; the built server takes over the same data dir.
      await berth.kill('SIGTERM');
      // BENCH_NODE_FLAGS: V8/Node flags for the bundled server only (e.g. heap sizing experiments).
      const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
      berth = new BuiltBerth(berth.dataDir, berth.port, berth.env, server === 'bundle' ? [process.execPath, ...flags, BUNDLE] : [EXECUTABLE, 'server']);
      await berth.start();
    }
    return await fn({ caddy, berth, prefix, app: (part) => `${prefix}-${part}` });
  } catch (err) {
    await sleep(500); // a crashed server's exit is noticed a moment after its sockets closed
    if (berth && !serverAlive(berth)) {
      const child = (berth as unknown as { child: ChildProcess }).child;
      const tail = berth!.output.split('\n').filter((l) => !/^\s*\d+: 0x/.test(l)).slice(-8).join('\n');
      throw new Error(`the Berth server died (${child.signalCode ?? `exit ${child.exitCode}`}) during the benchmark ` +
        `(${(err as Error).message.split('\n')[0]}); its last output:\n${tail}`);
    }
    throw err;
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

/** The harness's BerthServer (api, ok, kill), running what `npm run build` made instead of the sources. */
class BuiltBerth extends BerthServer {
  private readonly command: string[];

  constructor(dataDir: string, port: number, env: Record<string, string>, command: string[]) {
    super(dataDir, port, env);
    this.command = command;
  }

  override async start(): Promise<void> {
    const [program, ...args] = this.command;
    const child = spawn(program, args, { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    (this as unknown as { child: ChildProcess }).child = child;
    child.stdout!.on('data', (d) => { this.output += d; });
    child.stderr!.on('data', (d) => { this.output += d; });
    for (let i = 0; i < 600 && child.exitCode === null; i++) {
      if (await fetch(`${this.url}/api/v1/health`).then((r) => r.ok, () => false)) {
        this.token ||= await issueAdminToken(this.command, this.env);
        return;
      }
      await sleep(100);
    }
    throw new Error(`${this.command.join(' ')} did not come up:\n${this.output}`);
  }
}

/** Whether a build (dist/berth-server.mjs unless told) exists, and whether it is older than the newest file under src/. */
export function bundleState(file = BUNDLE): 'missing' | 'stale' | 'fresh' {
  if (!fs.existsSync(file)) return 'missing';
  const built = fs.statSync(file).mtimeMs;
  const newest = Math.max(...fs.readdirSync(path.join(ROOT, 'src'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile()).map((e) => fs.statSync(path.join(e.parentPath, e.name)).mtimeMs));
  return newest > built ? 'stale' : 'fresh';
}

/** Force-removes this run's containers: Berth's (app name starts with the prefix) and our own. */
export async function removeContainersOf(prefix: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await removeContainersOnce(prefix);
    } catch (err) {
      if (attempt >= 12) throw err; // dockerd restarting (someone ran scripts/up.sh?): retry for ~1 min
      await sleep(5000);
    }
  }
}

async function removeContainersOnce(prefix: string): Promise<number> {
  const rows = (await docker('ps', '-a', '--format', `{{.ID}} {{.Label "berth.app"}} {{.Label "${BENCH_LABEL}"}}`))
    .split('\n').filter(Boolean).map((l) => l.split(' '));
  const ids = rows.filter(([, app, bench]) => app?.startsWith(`${prefix}-`) || bench === prefix).map(([id]) => id);
  if (ids.length) await docker('rm', '-f', ...ids);
  return ids.length;
}

/** The Berth server's pid: the harness spawns `node src/server/main.ts` directly (private field). */
export function serverPid(berth: BerthServer): number {
  const pid = (berth as unknown as { child: ChildProcess | null }).child?.pid;
  if (!pid) throw new Error('the Berth server process is not running');
  return pid;
}

export function serverAlive(berth: BerthServer): boolean {
  const child = (berth as unknown as { child: ChildProcess | null }).child;
  return !!child && child.exitCode === null && child.signalCode === null;
}
