// Runs a private Caddy for tests: its admin API on a unix socket in a temp dir (as up.sh runs it: off TCP),
// listeners on free 127.0.0.1 ports, all state (certificates, autosaved config) in that temp dir so the
// real ~/.local/share/caddy is never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from './ports.ts';
import { stopChild, waitUntilAnswers } from './child-service.ts';
import { CaddyAdminClient } from '../../src/router/caddy/admin-client.ts';

export interface TestCaddy {
  /** unix:/tmp/berth-caddy-…/admin.sock: give it to CaddyAdminClient or BERTH_CADDY_ADMIN (fetch cannot use it). */
  adminUrl: string;
  /** The running Caddy's pid (changes with restart()). */
  readonly pid: number;
  httpPort: number;
  httpsPort: number;
  /** Caddy's stdout/stderr (JSON lines), for debugging; gone after stop(). */
  logFile: string;
  /** Kills Caddy and starts it again with --resume, same ports and state dir. */
  restart(): Promise<void>;
  /** Kills Caddy and removes its temp dir. */
  stop(): Promise<void>;
}


// A test process that dies without stop() must not leave Caddy running.
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export async function startCaddy(): Promise<TestCaddy> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-caddy-'));
  const [httpPort, httpsPort] = await freePorts(2);
  const socket = path.join(dir, 'admin.sock');
  const adminUrl = `unix:${socket}`;
  const configFile = path.join(dir, 'caddy.json');
  await writeFile(configFile, JSON.stringify({ admin: { listen: `unix/${socket}` } }));

  let child = await launch(dir, configFile, adminUrl, []);
  return {
    adminUrl,
    get pid() { return child.pid!; },
    httpPort,
    httpsPort,
    logFile: path.join(dir, 'caddy.log'),
    async restart() {
      await stopChild(child);
      child = await launch(dir, configFile, adminUrl, ['--resume']);
    },
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function launch(dir: string, configFile: string, adminUrl: string, extraArgs: string[]): Promise<ChildProcess> {
  const logFile = path.join(dir, 'caddy.log');
  const logFd = openSync(logFile, 'a');
  const child = spawn('caddy', ['run', '--config', configFile, ...extraArgs], {
    env: {
      ...process.env,
      HOME: dir,
      XDG_DATA_HOME: path.join(dir, 'data'),
      XDG_CONFIG_HOME: path.join(dir, 'config'),
    },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  child.unref(); // a file whose setup failed before stop() still ends; the exit handler above kills Caddy then
  running.add(child);
  child.once('exit', () => running.delete(child));
  try {
    const admin = new CaddyAdminClient(adminUrl, { timeoutMs: 1000 });
    await waitUntilAnswers(child, 'caddy admin API', `${adminUrl} /config/`, 50, () => admin.get('/config/'));
  } catch (err) {
    await stopChild(child);
    const log = await readFile(logFile, 'utf8').catch(() => '');
    throw new Error(`${(err as Error).message}\n--- caddy log (tail) ---\n${log.split('\n').slice(-20).join('\n')}`);
  }
  return child;
}



