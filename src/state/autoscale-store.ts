// ps:autoscale settings per app and process type, and when the autoscaler last changed each count.
import type Database from 'better-sqlite3';
import type { Db } from './db.ts';
import { now } from './db.ts';
import type { AutoscaleRange, AutoscaleSignal } from '../autoscale/decide.ts';

export interface AutoscaleRow extends AutoscaleRange {
  appId: number;
  app: string;
  process: string;
  lastChangeAt: number | null;
  updatedBy: string;
  updatedAt: string;
}

interface Row {
  app_id: number; app: string; process_type: string; min_instances: number; max_instances: number; signal: AutoscaleSignal;
  target: number; cooldown_sec: number; last_change_at: number | null; updated_by: string; updated_at: string;
}

const COLUMNS = `s.app_id, a.name AS app, s.process_type, s.min_instances, s.max_instances, s.signal, s.target, s.cooldown_sec,
  s.last_change_at, s.updated_by, s.updated_at`;

export class AutoscaleStore {
  private readonly sql: Database.Database;
  constructor(db: Db) { this.sql = db.$client; }

  /** Every app's settings (the controller's round), or one app's. */
  list(appId?: number): AutoscaleRow[] {
    const from = `FROM autoscale_settings s JOIN apps a ON a.id = s.app_id`;
    const rows = appId === undefined
      ? this.sql.prepare(`SELECT ${COLUMNS} ${from} ORDER BY a.name, s.process_type`).all()
      : this.sql.prepare(`SELECT ${COLUMNS} ${from} WHERE s.app_id = ? ORDER BY s.process_type`).all(appId);
    return (rows as Row[]).map(fromRow);
  }

  find(appId: number, process: string): AutoscaleRow | undefined {
    const row = this.sql.prepare(`SELECT ${COLUMNS} FROM autoscale_settings s JOIN apps a ON a.id = s.app_id
      WHERE s.app_id = ? AND s.process_type = ?`).get(appId, process) as Row | undefined;
    return row && fromRow(row);
  }

  /** Turning autoscaling on or changing it keeps the last change time: a new range does not reset a cooldown. */
  set(appId: number, process: string, range: AutoscaleRange, by: string): void {
    this.sql.prepare(`INSERT INTO autoscale_settings (app_id, process_type, min_instances, max_instances, signal, target, cooldown_sec,
        updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (app_id, process_type) DO UPDATE SET min_instances = excluded.min_instances, max_instances = excluded.max_instances,
        signal = excluded.signal, target = excluded.target, cooldown_sec = excluded.cooldown_sec,
        updated_by = excluded.updated_by, updated_at = excluded.updated_at`)
      .run(appId, process, range.min, range.max, range.signal, range.target, Math.round(range.cooldownMs / 1000), by, now());
  }

  setRange(appId: number, process: string, min: number, max: number, by: string): void {
    this.sql.prepare(`UPDATE autoscale_settings SET min_instances = ?, max_instances = ?, updated_by = ?, updated_at = ?
      WHERE app_id = ? AND process_type = ?`).run(min, max, by, now(), appId, process);
  }

  markChanged(appId: number, process: string, at: number): void {
    this.sql.prepare('UPDATE autoscale_settings SET last_change_at = ? WHERE app_id = ? AND process_type = ?').run(at, appId, process);
  }

  remove(appId: number, process?: string): boolean {
    const result = process === undefined
      ? this.sql.prepare('DELETE FROM autoscale_settings WHERE app_id = ?').run(appId)
      : this.sql.prepare('DELETE FROM autoscale_settings WHERE app_id = ? AND process_type = ?').run(appId, process);
    return result.changes > 0;
  }
}

function fromRow(r: Row): AutoscaleRow {
  return {
    appId: r.app_id, app: r.app, process: r.process_type, min: r.min_instances, max: r.max_instances, signal: r.signal,
    target: r.target, cooldownMs: r.cooldown_sec * 1000, lastChangeAt: r.last_change_at, updatedBy: r.updated_by, updatedAt: r.updated_at,
  };
}
