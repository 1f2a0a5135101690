// Backup, restore and check of the installation itself, as the API routes use them (src/api/routes/backup.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError } from '../shared/errors.ts';
import { parseKeyring } from '../state/secrets.ts';
import { ArchiveWriter } from './archive-writer.ts';
import { BackupRefused, readBackup, type ReadLimits } from './archive-reader.ts';
import { writeBackup, type BackupSources, type BackupSummary } from './backup.ts';
import { checkInstallation, type CheckSources } from './check.ts';
import type { CheckReport } from '../wire/types.ts';
import { applyBackup, vetStagedBackup, type RestoreTarget } from './restore.ts';

/** `addons`: the add-on services that were missing and were started again (their data comes from their backups). */
export interface BringBackReport { converged: string[]; failed: string[]; addons: string[] }

export interface BackupServiceDeps extends BackupSources, RestoreTarget, CheckSources {
  limits: ReadLimits;
  /** After the rows are in: caches refreshed, certificates loaded, and the apps started as on every start. */
  bringBack(apps: string[]): Promise<BringBackReport>;
}

export interface RestoreResult {
  apps: string[];
  images: number;
  keyFrom: 'backup' | 'supplied' | 'installation';
  backup: { berthVersion: string; schemaVersion: number; createdAt: string };
  converged: string[];
  failed: string[];
  addons: string[];
}

export class BackupService {
  readonly #deps: BackupServiceDeps;
  #restoring = false;

  constructor(deps: BackupServiceDeps) { this.#deps = deps; }

  /** The archive as a stream; `done` settles when it is complete (the stream is destroyed with the error on failure). */
  backup(opts: { includeKey: boolean }): { stream: Readable; done: Promise<BackupSummary> } {
    const writer = new ArchiveWriter();
    const done = writeBackup(this.#deps, writer, opts);
    done.catch((err: Error) => {
      this.#deps.log(`backup failed: ${err.message}`);
      writer.output.destroy(err); // the client sees a cut-off archive, never one that looks whole
    });
    return { stream: writer.output, done };
  }

  /** `suppliedKey`: the text of the old installation's key file, for a backup made without --include-key. */
  /** The most a restore reads of an upload (BERTH_MAX_RESTORE_MB). */
  get maxUploadBytes(): number { return this.#deps.limits.maxTotalBytes; }

  async restore(input: Readable, suppliedKey: string | null): Promise<RestoreResult> {
    if (this.#restoring) throw new BerthError(409, 'restore_running', 'A restore is already running on this installation.');
    const target = this.#deps;
    if (target.appCount() > 0) {
      throw new BerthError(409, 'installation_not_empty',
        'This installation has apps: a backup is restored only onto a new installation (after up.sh, before any app is created). Nothing was changed.');
    }
    let key = null;
    if (suppliedKey !== null) {
      try { key = parseKeyring(suppliedKey, 'given with --key-file'); } catch (err) { throw new BerthError(400, 'invalid_key_file', (err as Error).message); }
    }
    this.#restoring = true;
    const staging = fs.mkdtempSync(path.join(target.dataDir, '.restore-'));
    try {
      let staged;
      try {
        staged = await readBackup(input, staging, target.limits);
      } catch (err) {
        if (!(err instanceof BackupRefused)) throw err;
        throw new BerthError(422, 'backup_invalid', `The backup was refused: ${err.message}. Nothing was changed.`);
      }
      const { ring, keyFrom } = vetStagedBackup(target, staged, key);
      target.log(`restore: backup of ${staged.manifest.createdAt} (Berth ${staged.manifest.berthVersion}, ${staged.manifest.apps.length} app(s)) verified`);
      const apps = await applyBackup(target, staged, ring);
      const report = await target.bringBack(apps);
      const { berthVersion, schemaVersion, createdAt } = staged.manifest;
      return { apps, images: staged.manifest.images.length, keyFrom, backup: { berthVersion, schemaVersion, createdAt }, ...report };
    } finally {
      this.#restoring = false;
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }

  check(): Promise<CheckReport> {
    return checkInstallation(this.#deps);
  }
}
