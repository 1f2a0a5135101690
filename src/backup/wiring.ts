// The backup service built from the server's parts (src/server/start.ts passes them in).
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import type { Db } from '../state/db.ts';
import { migrations } from '../state/migrations.ts';
import type { SecretBox } from '../state/secrets.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { ReleasesStore } from '../state/releases-store.ts';
import { RegistryApi } from '../registry/api.ts';
import { RegistryClient } from '../registry/index.ts';
import type { RegistryCredential } from '../registry/credentials.ts';
import { BackupService, type BringBackReport } from './service.ts';

export interface BackupWiring {
  db: Db;
  dataDir: string;
  keyFile: string;
  box: SecretBox;
  registry: string;
  registryCredential: RegistryCredential | null;
  dockerSocket: string;
  owner: string;
  version: string;
  apps: AppsStore;
  releases: ReleasesStore;
  log: (line: string) => void;
  bringBack(apps: string[]): Promise<BringBackReport>;
}

/** BERTH_MAX_RESTORE_MB: the largest backup a restore accepts (default 50 GB); it is staged in the data dir. */
export function maxRestoreBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BERTH_MAX_RESTORE_MB;
  const mb = raw === undefined || raw === '' ? 50 * 1024 : Number(raw);
  if (!Number.isFinite(mb) || mb <= 0) throw new Error(`BERTH_MAX_RESTORE_MB must be a positive number, got "${raw}"`);
  return Math.floor(mb * 1024 * 1024);
}

/** Staging folders a backup or restore leaves when the server stops mid-way: nothing else uses them. */
export function removeLeftovers(dataDir: string, log: (line: string) => void): void {
  for (const name of fs.readdirSync(dataDir).filter((entry) => /^\.(backup|restore)-/.test(entry))) {
    fs.rmSync(path.join(dataDir, name), { recursive: true, force: true });
    log(`removed ${name}, left in the data dir by an interrupted backup or restore`);
  }
}

export function createBackupService(w: BackupWiring): BackupService {
  removeLeftovers(w.dataDir, w.log);
  const maxTotalBytes = maxRestoreBytes();
  const engine = new RegistryClient({ socketPath: w.dockerSocket, registry: w.registry, credential: w.registryCredential });
  return new BackupService({
    sqlite: w.db.$client, dataDir: w.dataDir, keyFile: w.keyFile, box: w.box, version: w.version, owner: w.owner,
    registry: new RegistryApi(w.registry, w.registryCredential), registryAddress: w.registry,
    docker: new Docker({ socketPath: w.dockerSocket }),
    schemaVersion: migrations.length,
    appCount: () => w.apps.list().length,
    pullImage: (reference) => engine.pull(reference),
    moveImageRepository: (appId, from, to) => w.releases.moveImageRepository(appId, from, to),
    limits: { maxTotalBytes, maxEntryBytes: maxTotalBytes, maxEntries: 2_000_000 },
    log: w.log,
    bringBack: w.bringBack,
  });
}
