// Runs a private Caddy for tests: admin and listeners on free 127.0.0.1 ports, all state
// (certificates, autosaved config) in a temp dir so the real ~/.local/share/caddy is never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from './ports.ts';

export interface TestCaddy {
  adminUrl: string;
  httpPort: number;
  httpsPort: number;
  /** Caddy's stdout/stderr (JSON lines), for debugging; gone after stop(). */
  logFile: string;
  /** Kills Caddy and starts it again with --resume, same ports and state dir. */
  restart(): Promise<void>;
  /** Kills Caddy and removes its temp dir. */
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

// A test process that dies without stop() must not leave Caddy running.
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export async function startCaddy(): Promise<TestCaddy> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-caddy-'));
  const [adminPort, httpPort, httpsPort] = await freePorts(3);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const configFile = path.join(dir, 'caddy.json');
  await writeFile(configFile, JSON.stringify({ admin: { listen: `127.0.0.1:${adminPort}` } }));

  let child = await launch(dir, configFile, adminUrl, []);
  return {
    adminUrl,
    httpPort,
    httpsPort,
    logFile: path.join(dir, 'caddy.log'),
    async restart() {
      await kill(child);
      child = await launch(dir, configFile, adminUrl, ['--resume']);
    },
    async stop() {
      await kill(child);
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
  running.add(child);
  child.once('exit', () => running.delete(child));
  try {
    await waitForAdmin(child, adminUrl);
  } catch (err) {
    await kill(child);
    const log = await readFile(logFile, 'utf8').catch(() => '');
    throw new Error(`${(err as Error).message}\n--- caddy log (tail) ---\n${log.split('\n').slice(-20).join('\n')}`);
  }
  return child;
}

async function waitForAdmin(child: ChildProcess, adminUrl: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`caddy exited early (${child.exitCode ?? child.signalCode})`);
    try {
      const res = await fetch(`${adminUrl}/config/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
      lastError = `status ${res.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`caddy admin API at ${adminUrl} did not answer within ${STARTUP_TIMEOUT_MS} ms: ${lastError}`);
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

