// Where add-on backups are kept: a directory under BERTH_DATA_DIR/backups, or an S3-compatible bucket when
// BERTH_BACKUP_S3_* is set. The backup engine streams a dump in and out through this and nothing else, so a
// store never sees a whole dump in memory, and a key never holds a partial dump.
import type { Readable } from 'node:stream';

/** What a finished put stored: the byte count and the SHA-256 of exactly those bytes (hex). */
export interface StoredObject { size: number; sha256: string }

export interface BackupStore {
  /** "local" or "s3": shown in `berth backups`. */
  readonly kind: 'local' | 's3';
  /**
   * Streams body under key, hashing as it goes. Resolves once the bytes are durably stored; if the body errors or
   * the store fails, rejects and leaves nothing under key (a partial dump is never listed as a backup).
   */
  put(key: string, body: Readable): Promise<StoredObject>;
  /** The stored bytes as a stream; rejects with a BerthError 404 when key holds nothing. */
  get(key: string): Promise<Readable>;
  /** Removes key; missing keys are not an error (retention and destroy may race). */
  delete(key: string): Promise<void>;
}

/** Keys are built by Berth only (add-on name and backup id, both validated): "shop-db/b017.dump". */
export const backupKey = (addon: string, backupId: string): string => `${addon}/${backupId}.dump`;

/** backupKey's shape: one directory level, no dot segments, nothing absolute; a store refuses anything else. */
const BACKUP_KEY = /^[a-z][a-z0-9-]{0,39}\/[a-z0-9][a-z0-9.-]{0,63}$/;

export function assertBackupKey(key: string): void {
  if (!BACKUP_KEY.test(key) || key.includes('..')) throw new Error(`Not a backup key: ${JSON.stringify(key)}`);
}
