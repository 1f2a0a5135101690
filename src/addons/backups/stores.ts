// Which BackupStore this server keeps add-on backups in: the one place that decides. An S3-compatible bucket when
// BERTH_BACKUP_S3_* is set (config.backupS3), else BERTH_DATA_DIR/backups.
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../../config.ts';
import { LocalBackupStore } from './local-store.ts';
import type { S3BackupSettings } from './s3-settings.ts';
import type { BackupStore, StoredObject } from './store.ts';

/** The local directory backups go to without another store: BERTH_DATA_DIR/backups. */
export const localBackupDir = (config: Pick<Config, 'dataDir'>): string => path.join(config.dataDir, 'backups');

export function backupStoreFromConfig(config: Pick<Config, 'dataDir' | 'backupS3'>): BackupStore {
  return config.backupS3 ? new DeferredS3Store(config.backupS3) : new LocalBackupStore(localBackupDir(config));
}

/**
 * The S3 store, its module loaded on first use: the AWS SDK is some 5 MB of heap (33 MB of RSS in a bare
 * process) that a server keeping its backups locally never needs, so it is not loaded at start.
 */
class DeferredS3Store implements BackupStore {
  readonly kind = 's3' as const;
  readonly #settings: S3BackupSettings;
  #store: Promise<BackupStore> | null = null;

  constructor(settings: S3BackupSettings) { this.#settings = settings; }

  #loaded(): Promise<BackupStore> {
    return this.#store ??= import('./s3-store.ts').then(({ S3BackupStore }) => new S3BackupStore(this.#settings));
  }

  async put(key: string, body: Readable): Promise<StoredObject> { return (await this.#loaded()).put(key, body); }
  async get(key: string): Promise<Readable> { return (await this.#loaded()).get(key); }
  async delete(key: string): Promise<void> { return (await this.#loaded()).delete(key); }
}
