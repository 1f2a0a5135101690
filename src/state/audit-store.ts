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

/** A refused credential: who knows, from where, through what (an API route, git, the console's sign-in). */
export interface FailedAuth { ip: string | null; reason: string; channel: string }

// Failed authentications are recorded, but one address guessing tokens cannot flood the trail: at most
// FAILED_PER_IP per address and FAILED_TOTAL overall per window; the next record says how many were skipped.
const FAILED_WINDOW_MS = 60_000;
const FAILED_PER_IP = 5;
const FAILED_TOTAL = 60;
const FAILED_MAX_TRACKED = 10_000;

export class AuditStore {
  private readonly sql: Database.Database;
  private failedWindow = { start: 0, total: 0, perIp: new Map<string, number>(), skipped: 0 };
  constructor(db: Db) { this.sql = db.$client; }

  /** Records a failed authentication unless its address (or everyone) is over the limit; returns whether it did. */
  recordFailedAuth(failure: FailedAuth, at = Date.now()): boolean {
    const w = this.failedWindow;
    if (at - w.start >= FAILED_WINDOW_MS || w.perIp.size >= FAILED_MAX_TRACKED) {
      this.failedWindow = { start: at, total: 0, perIp: new Map(), skipped: w.skipped };
      return this.recordFailedAuth(failure, at);
    }
    const ip = failure.ip ?? '(unknown)';
    const seen = w.perIp.get(ip) ?? 0;
    w.perIp.set(ip, seen + 1);
    if (seen >= FAILED_PER_IP || w.total >= FAILED_TOTAL) { w.skipped++; return false; }
    w.total++;
    const skipped = w.skipped ? `; ${w.skipped} more failure(s) not recorded (rate limit)` : '';
    w.skipped = 0;
    this.record({ actor: '(unknown)', action: 'auth failed', ip: failure.ip, status: 401, detail: `${failure.reason} via ${failure.channel.slice(0, 200)}${skipped}` });
    return true;
  }

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
