// Which BackupStore this server keeps add-on backups in: the one place that decides, so another store (S3 when
// BERTH_BACKUP_S3_* is set) plugs in here and nowhere else.
import path from 'node:path';
import type { Config } from '../../config.ts';
import { LocalBackupStore } from './local-store.ts';
import type { BackupStore } from './store.ts';

/** The local directory backups go to without another store: BERTH_DATA_DIR/backups. */
export const localBackupDir = (config: Pick<Config, 'dataDir'>): string => path.join(config.dataDir, 'backups');

export function backupStoreFromConfig(config: Pick<Config, 'dataDir'>): BackupStore {
  return new LocalBackupStore(localBackupDir(config));
}
