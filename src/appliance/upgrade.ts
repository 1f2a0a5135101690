// `berth upgrade ./berth-new`: puts a new build in the installed executable's place and restarts the
// server on it. Apps keep serving throughout (the server's restart leaves Caddy's routes and the app
// containers alone); the new server runs its migrations as it starts and must answer its health check with
// its own version, else the previous executable and database come back and the old server is started again.
import fs from 'node:fs';
import path from 'node:path';
import { loadAppliance } from './load.ts';
import type { Appliance } from './settings.ts';
import { livePid, replaceFileAtomically, runProgram } from './host.ts';
import { serverLog, serverLogHint, startServer, stopServer, waitForServer } from './server-service.ts';

/** `berth version`'s line: "berth 0.1.0 (commit abc123def456) node-v24.x". */
export function parseVersionLine(text: string): string | null {
  return /^berth (\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?) \(commit [^)\s]+\)/.exec(text)?.[1] ?? null;
}

async function versionOf(executable: string): Promise<string | null> {
  const shown = await runProgram(executable, ['version'], { timeoutMs: 20_000 });
  return shown.code === 0 ? parseVersionLine(shown.stdout) : null;
}

/** The database's files (berth.db and its WAL, when present), kept while the new server migrates. */
const DB_FILES = ['berth.db', 'berth.db-wal', 'berth.db-shm'];

function snapshotDatabase(a: Appliance, into: string): void {
  fs.rmSync(into, { recursive: true, force: true });
  fs.mkdirSync(into, { recursive: true, mode: 0o700 });
  for (const name of DB_FILES) {
    const file = path.join(a.dataDir, name);
    if (fs.existsSync(file)) fs.copyFileSync(file, path.join(into, name));
  }
}

function restoreDatabase(a: Appliance, from: string): void {
  for (const name of DB_FILES) {
    const kept = path.join(from, name);
    const file = path.join(a.dataDir, name);
    if (fs.existsSync(kept)) fs.copyFileSync(kept, file);
    else fs.rmSync(file, { force: true });
  }
}

function logTail(a: Appliance, lines = 15): string {
  try {
    return fs.readFileSync(serverLog(a), 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  } catch {
    return `    (see ${serverLogHint(a)})`;
  }
}

/**
 * One upgrade at a time: a second would stop the server the first is starting and swap the executable under it.
 * The lock is a pid file; one left by an upgrade that died (its pid gone or reused) is taken over.
 */
function takeUpgradeLock(a: Appliance): { release(): void } | string {
  const file = path.join(a.dataDir, 'upgrade.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return { release: () => fs.rmSync(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = livePid(file, ['upgrade']);
      if (holder) return `another berth upgrade (pid ${holder}) is running; nothing changed`;
      fs.rmSync(file, { force: true });
    }
  }
  return `the upgrade lock ${file} could not be taken; nothing changed`;
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const fail = (line: string) => { process.stderr.write(`[fail] ${line}\n`); return 1; };

export async function runUpgrade(args: string[]): Promise<number> {
  if (args.length !== 1 || args[0].startsWith('-')) return fail('usage: berth upgrade PATH-TO-NEW-BERTH');
  if (process.getuid?.() !== 0) return fail('run berth upgrade as root (it replaces the installed executable and restarts the server)');
  const a = loadAppliance();
  const lock = takeUpgradeLock(a);
  if (typeof lock === 'string') return fail(lock);
  try {
    return await upgradeTo(a, args[0]);
  } finally {
    lock.release();
  }
}

async function upgradeTo(a: Appliance, given: string): Promise<number> {
  const candidate = path.resolve(given);
  const stat = fs.statSync(candidate, { throwIfNoEntry: false });
  if (!stat?.isFile()) return fail(`${candidate} is not a file`);
  if (candidate === a.executable) return fail(`${candidate} is the installed executable itself: give the new build's path`);
  fs.chmodSync(candidate, stat.mode | 0o100);
  // Checked before anything is touched: a file that is not a berth build never replaces the working one.
  const newVersion = await versionOf(candidate);
  if (!newVersion) return fail(`${candidate} is not a berth executable (\`${given} version\` does not answer as berth does); nothing changed`);
  const oldVersion = fs.existsSync(a.executable) ? await versionOf(a.executable) : null;
  if (!oldVersion) return fail(`no working berth at ${a.executable}: run \`berth up\` first`);

  const started = Date.now();
  const previous = `${a.executable}.previous`;
  const dbKept = path.join(a.dataDir, 'upgrade-db');
  replaceFileAtomically(a.executable, previous);
  say(`      berth ${oldVersion} -> ${newVersion}: the previous executable is kept at ${previous}`);
  // The API pauses from here until the new server answers; Caddy keeps routing and the apps keep running.
  await stopServer(a);
  snapshotDatabase(a, dbKept);
  replaceFileAtomically(candidate, a.executable);
  await startServer(a);
  if (await waitForServer(a, newVersion)) {
    fs.rmSync(dbKept, { recursive: true, force: true });
    say(`[changed] upgraded berth ${oldVersion} -> ${newVersion}: the new server ran its migrations and answers ${a.healthUrl} (${Date.now() - started} ms)`);
    return 0;
  }

  process.stderr.write(`[fail] the new server (berth ${newVersion}) failed its health check (${a.healthUrl} did not answer as ${newVersion} within 60 s):\n${logTail(a)}\n`);
  await stopServer(a);
  restoreDatabase(a, dbKept);
  replaceFileAtomically(previous, a.executable);
  await startServer(a);
  if (!(await waitForServer(a, oldVersion))) {
    return fail(`rolled back to berth ${oldVersion}, but its server does not answer either (${serverLogHint(a)}); the database before the upgrade is in ${dbKept}`);
  }
  fs.rmSync(dbKept, { recursive: true, force: true });
  say(`[changed] rolled back to berth ${oldVersion} (its executable and database as before the upgrade): the server answers ${a.healthUrl} again`);
  return 1;
}
