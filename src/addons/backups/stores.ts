// Which BackupStore this server keeps add-on backups in: the one place that decides. An S3-compatible bucket when
// BERTH_BACKUP_S3_* is set (config.backupS3), else BERTH_DATA_DIR/backups.
import path from 'node:path';
import type { Config } from '../../config.ts';
import { LocalBackupStore } from './local-store.ts';
import { S3BackupStore } from './s3-store.ts';
import type { BackupStore } from './store.ts';

/** The local directory backups go to without another store: BERTH_DATA_DIR/backups. */
export const localBackupDir = (config: Pick<Config, 'dataDir'>): string => path.join(config.dataDir, 'backups');

export function backupStoreFromConfig(config: Pick<Config, 'dataDir' | 'backupS3'>): BackupStore {
  return config.backupS3 ? new S3BackupStore(config.backupS3) : new LocalBackupStore(localBackupDir(config));
}
