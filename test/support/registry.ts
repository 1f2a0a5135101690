// Runs a private image registry for tests (CNCF distribution, Debian's `docker-registry`): on a free
// 127.0.0.1 port, storage and config in a temp dir, deletes enabled so pruning can be tested.
// Docker treats 127.0.0.0/8 registries as insecure, so the engine pushes to it over plain HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';

export interface TestRegistry {
  /** 127.0.0.1:PORT */
  address: string;
  /** Stops the registry and removes its storage. */
  stop(): Promise<void>;
}

const REGISTRY_BIN = process.env.BERTH_REGISTRY_BIN ?? '/usr/bin/docker-registry';
const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export async function startRegistry(): Promise<TestRegistry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-registry-'));
  const address = `127.0.0.1:${await freePort()}`;
  const configFile = path.join(dir, 'config.yml');
  await writeFile(configFile, registryConfig(address, path.join(dir, 'storage')));
  const logFile = path.join(dir, 'registry.log');
  const logFd = openSync(logFile, 'a');
  const child = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  try {
    await waitUntilServing(child, address);
  } catch (err) {
    await kill(child);
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n--- registry log (tail) ---\n${log.split('\n').slice(-20).join('\n')}`);
  }
  return {
    address,
    async stop() {
      await kill(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function registryConfig(address: string, storageDir: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${address}`,
    '',
  ].join('\n');
}

async function waitUntilServing(child: ChildProcess, address: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`docker-registry exited early (${child.exitCode ?? child.signalCode})`);
    try {
      const res = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`docker-registry did not answer on http://${address}/v2/ within ${STARTUP_TIMEOUT_MS} ms (${lastError})`);
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

