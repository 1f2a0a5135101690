// Runs a private image registry for tests (CNCF distribution, Debian's `docker-registry`): on a free
// 127.0.0.1 port, storage and config in a temp dir, deletes enabled so pruning can be tested.
// Docker treats 127.0.0.0/8 registries as insecure, so the engine pushes to it over plain HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';
import { stopChild, waitUntilAnswers } from './child-service.ts';

export interface TestRegistry {
  /** 127.0.0.1:PORT */
  address: string;
  /** Stops the registry and removes its storage. */
  stop(): Promise<void>;
}

const REGISTRY_BIN = process.env.BERTH_REGISTRY_BIN ?? '/usr/bin/docker-registry';

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
    await waitUntilAnswers(child, 'docker-registry', `http://${address}/v2/`, 100);
  } catch (err) {
    await stopChild(child);
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n--- registry log (tail) ---\n${log.split('\n').slice(-20).join('\n')}`);
  }
  return {
    address,
    async stop() {
      await stopChild(child);
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



