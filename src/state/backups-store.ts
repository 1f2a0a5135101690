// Add-on backups (rows; the bytes are in a BackupStore) and their daily schedules. Rows are keyed by the
// add-on's name, so backups kept past addons:destroy --keep-backups belong to whatever later takes that name.
import type Database from 'better-sqlite3';
import type { Db } from './db.ts';
import { now } from './db.ts';
import type { AddonKind } from '../addons/kinds.ts';
import type { Backup } from '../wire/types.ts';
import { backupId } from '../addons/backups/schedule.ts';

export interface BackupRow extends Backup { storeKey: string }
export interface ScheduleRow { addon: string; at: string; keep: number; lastRunAt: string }

interface BackupRecord {
  seq: number; addon: string; kind: string; status: string; trigger: string; started_at: string; finished_at: string | null;
  duration_ms: number | null; size: number | null; sha256: string | null; store: string; store_key: string; error: string | null;
}

const ERROR_MAX = 1000;

export class BackupsStore {
  readonly #sql: Database.Database;
  constructor(db: Db) { this.#sql = db.$client; }

  /** A new running backup with the add-on's next id; the key it will be stored under comes from that id. */
  start(b: { addon: string; kind: AddonKind; trigger: string; store: 'local' | 's3' }, keyOf: (id: string) => string): BackupRow {
    return this.#sql.transaction(() => {
      const { next } = this.#sql.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM addon_backups WHERE addon = ?').get(b.addon) as { next: number };
      this.#sql.prepare(`INSERT INTO addon_backups (addon, seq, kind, status, trigger, started_at, store, store_key)
        VALUES (?, ?, ?, 'running', ?, ?, ?, ?)`).run(b.addon, next, b.kind, b.trigger, now(), b.store, keyOf(backupId(next)));
      return this.get(b.addon, backupId(next))!;
    })();
  }

  succeed(addon: string, id: string, stored: { size: number; sha256: string }, durationMs: number): void {
    this.#sql.prepare(`UPDATE addon_backups SET status = 'succeeded', finished_at = ?, duration_ms = ?, size = ?, sha256 = ?
      WHERE addon = ? AND seq = ?`).run(now(), durationMs, stored.size, stored.sha256, addon, seqOf(id));
  }

  fail(addon: string, id: string, error: string, durationMs: number | null): void {
    this.#sql.prepare(`UPDATE addon_backups SET status = 'failed', finished_at = ?, duration_ms = ?, error = ? WHERE addon = ? AND seq = ?`)
      .run(now(), durationMs, error.slice(0, ERROR_MAX), addon, seqOf(id));
  }

  /** At startup: a backup still running belonged to a server that died mid-dump; it never finished. */
  failInterrupted(): BackupRow[] {
    const running = (this.#sql.prepare("SELECT * FROM addon_backups WHERE status = 'running'").all() as BackupRecord[]).map(toRow);
    this.#sql.prepare(`UPDATE addon_backups SET status = 'failed', finished_at = ?, error = ? WHERE status = 'running'`)
      .run(now(), 'Interrupted: Berth stopped before the backup finished.');
    return running;
  }

  get(addon: string, id: string): BackupRow | undefined {
    const row = this.#sql.prepare('SELECT * FROM addon_backups WHERE addon = ? AND seq = ?').get(addon, seqOf(id)) as BackupRecord | undefined;
    return row && toRow(row);
  }

  /** Newest first. */
  list(addon: string): BackupRow[] {
    return (this.#sql.prepare('SELECT * FROM addon_backups WHERE addon = ? ORDER BY seq DESC').all(addon) as BackupRecord[]).map(toRow);
  }

  isRunning(addon: string): boolean {
    return this.#sql.prepare("SELECT 1 FROM addon_backups WHERE addon = ? AND status = 'running'").get(addon) !== undefined;
  }

  remove(addon: string, id: string): void {
    this.#sql.prepare('DELETE FROM addon_backups WHERE addon = ? AND seq = ?').run(addon, seqOf(id));
  }

  schedule(addon: string): ScheduleRow | undefined {
    const row = this.#sql.prepare('SELECT * FROM addon_backup_schedules WHERE addon = ?').get(addon) as { addon: string; at: string; keep: number; last_run_at: string } | undefined;
    return row && { addon: row.addon, at: row.at, keep: row.keep, lastRunAt: row.last_run_at };
  }

  schedules(): ScheduleRow[] {
    return (this.#sql.prepare('SELECT * FROM addon_backup_schedules ORDER BY addon').all() as Array<{ addon: string; at: string; keep: number; last_run_at: string }>)
      .map((row) => ({ addon: row.addon, at: row.at, keep: row.keep, lastRunAt: row.last_run_at }));
  }

  /** Sets (or replaces) the schedule; it counts from now, so setting it never fires a capture by itself. */
  setSchedule(addon: string, at: string, keep: number): ScheduleRow {
    this.#sql.prepare(`INSERT INTO addon_backup_schedules (addon, at, keep, last_run_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (addon) DO UPDATE SET at = excluded.at, keep = excluded.keep, last_run_at = excluded.last_run_at`).run(addon, at, keep, now());
    return this.schedule(addon)!;
  }

  markScheduleRun(addon: string, at: Date): void {
    this.#sql.prepare('UPDATE addon_backup_schedules SET last_run_at = ? WHERE addon = ?').run(at.toISOString(), addon);
  }

  removeSchedule(addon: string): void {
    this.#sql.prepare('DELETE FROM addon_backup_schedules WHERE addon = ?').run(addon);
  }
}

const seqOf = (id: string): number => Number(id.slice(1));

function toRow(r: BackupRecord): BackupRow {
  return {
    id: backupId(r.seq), addon: r.addon, kind: r.kind as AddonKind, status: r.status as Backup['status'], trigger: r.trigger,
    startedAt: r.started_at, finishedAt: r.finished_at, durationMs: r.duration_ms, size: r.size, sha256: r.sha256,
    store: r.store as Backup['store'], error: r.error, storeKey: r.store_key,
  };
}
