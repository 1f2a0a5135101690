// The audit trail: every state-changing action, who did it, when, from where. Append-only.
import type Database from 'better-sqlite3';
import type { Db } from './db.ts';
import { now } from './db.ts';

export interface AuditEvent {
  actor: string;
  action: string;      // e.g. "POST /apps/:app/config", "git push", "terminal open"
  app?: string | null;
  target?: string | null; // what inside the app: a container, a user, a hostname
  ip?: string | null;
  status?: number | null;
  detail?: string | null;
}

export interface AuditRow extends Required<AuditEvent> { id: number; at: string }

export interface AuditQuery { app?: string; actor?: string; limit: number; before?: number; visibleApps?: string[] | 'all'; viewer?: string }

export class AuditStore {
  private readonly sql: Database.Database;
  constructor(db: Db) { this.sql = db.$client; }

  record(event: AuditEvent): void {
    this.sql.prepare(
      'INSERT INTO audit_events (at, actor, action, app, target, ip, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(now(), event.actor, event.action, event.app ?? null, event.target ?? null, event.ip ?? null, event.status ?? null, event.detail ?? null);
  }

  /** Newest first. `visibleApps` limits a member to their apps' events and their own. */
  list(q: AuditQuery): AuditRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.app) { where.push('app = ?'); args.push(q.app); }
    if (q.actor) { where.push('actor = ?'); args.push(q.actor); }
    if (q.before) { where.push('id < ?'); args.push(q.before); }
    if (q.visibleApps && q.visibleApps !== 'all') {
      const marks = q.visibleApps.map(() => '?').join(',');
      where.push(`(app IN (${marks || "''"}) OR (app IS NULL AND actor = ?))`);
      args.push(...q.visibleApps, q.viewer ?? '');
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return this.sql.prepare(`SELECT * FROM audit_events ${clause} ORDER BY id DESC LIMIT ?`).all(...args, q.limit) as AuditRow[];
  }
}
