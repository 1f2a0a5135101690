// Alert rules, their firing/resolved history and the webhook delivery log, in SQLite.
import type Database from 'better-sqlite3';
import type { Rule } from './rules.ts';

export type AlertState = 'ok' | 'firing';
export type EventKind = 'firing' | 'still_firing' | 'resolved' | 'autoscale';
export type WebhookFormat = 'json' | 'slack';

export interface AlertRule {
  id: number;
  app: string;
  expr: string;               // as the user wrote it
  rule: Rule;                 // as parsed
  webhook: string;
  format: WebhookFormat;
  renotifyMinutes: number;    // 0: notify on transitions only
  state: AlertState;
  stateSince: number | null;  // epoch ms
  lastNotifiedAt: number | null;
  createdBy: string;
  createdAt: string;
}

export interface AlertEvent {
  id: number; app: string; ruleId: number | null; expr: string; kind: EventKind; value: number | null; message: string; at: number;
}

export interface Delivery { eventId: number; url: string; attempt: number; status: number | null; error: string | null; at: number }

interface RuleRow {
  id: number; app: string; expr: string; rule: string; webhook: string; format: WebhookFormat; renotify_minutes: number;
  state: AlertState; state_since: number | null; last_notified_at: number | null; created_by: string; created_at: string;
}

const RULE_COLUMNS = `r.id, a.name AS app, r.expr, r.rule, r.webhook, r.format, r.renotify_minutes, r.state, r.state_since,
  r.last_notified_at, r.created_by, r.created_at`;

export class AlertsStore {
  private readonly sqlite: Database.Database;

  constructor(sqlite: Database.Database) {
    this.sqlite = sqlite;
  }

  add(appId: number, fields: { expr: string; rule: Rule; webhook: string; format: WebhookFormat; renotifyMinutes: number; createdBy: string }): AlertRule {
    const { lastInsertRowid } = this.sqlite.prepare(`INSERT INTO alert_rules
      (app_id, expr, rule, webhook, format, renotify_minutes, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(appId, fields.expr, JSON.stringify(fields.rule), fields.webhook, fields.format, fields.renotifyMinutes,
        fields.createdBy, new Date().toISOString());
    return this.get(Number(lastInsertRowid))!;
  }

  get(id: number): AlertRule | undefined {
    const row = this.sqlite.prepare(`SELECT ${RULE_COLUMNS} FROM alert_rules r JOIN apps a ON a.id = r.app_id WHERE r.id = ?`).get(id) as RuleRow | undefined;
    return row && ruleFromRow(row);
  }

  /** Every rule, or one app's. */
  list(appId?: number): AlertRule[] {
    const rows = appId === undefined
      ? this.sqlite.prepare(`SELECT ${RULE_COLUMNS} FROM alert_rules r JOIN apps a ON a.id = r.app_id ORDER BY r.id`).all()
      : this.sqlite.prepare(`SELECT ${RULE_COLUMNS} FROM alert_rules r JOIN apps a ON a.id = r.app_id WHERE r.app_id = ? ORDER BY r.id`).all(appId);
    return (rows as RuleRow[]).map(ruleFromRow);
  }

  remove(appId: number, id: number): boolean {
    return this.sqlite.prepare('DELETE FROM alert_rules WHERE app_id = ? AND id = ?').run(appId, id).changes > 0;
  }

  setState(id: number, state: AlertState, since: number): void {
    this.sqlite.prepare('UPDATE alert_rules SET state = ?, state_since = ? WHERE id = ?').run(state, since, id);
  }

  markNotified(id: number, at: number): void {
    this.sqlite.prepare('UPDATE alert_rules SET last_notified_at = ? WHERE id = ?').run(at, id);
  }

  addEvent(rule: AlertRule, kind: EventKind, value: number | null, message: string, at: number): AlertEvent {
    const { lastInsertRowid } = this.sqlite.prepare(`INSERT INTO alert_events (app_id, rule_id, expr, kind, value, message, at)
      SELECT app_id, id, expr, ?, ?, ?, ? FROM alert_rules WHERE id = ?`).run(kind, value, message, at, rule.id);
    return { id: Number(lastInsertRowid), app: rule.app, ruleId: rule.id, expr: rule.expr, kind, value, message, at };
  }

  /** An event of the app that no rule raised (the autoscaler's), so its webhook deliveries are logged like a rule's. */
  addAppEvent(appId: number, app: string, fields: { expr: string; kind: EventKind; value: number | null; message: string; at: number }): AlertEvent {
    const { lastInsertRowid } = this.sqlite.prepare(`INSERT INTO alert_events (app_id, rule_id, expr, kind, value, message, at)
      VALUES (?, NULL, ?, ?, ?, ?, ?)`).run(appId, fields.expr, fields.kind, fields.value, fields.message, fields.at);
    return { id: Number(lastInsertRowid), app, ruleId: null, ...fields };
  }

  /** Newest first, each with its delivery attempts. */
  events(appId: number, limit: number): (AlertEvent & { deliveries: Omit<Delivery, 'eventId'>[] })[] {
    const events = this.sqlite.prepare(`SELECT e.id, a.name AS app, e.rule_id AS ruleId, e.expr, e.kind, e.value, e.message, e.at
      FROM alert_events e JOIN apps a ON a.id = e.app_id WHERE e.app_id = ? ORDER BY e.id DESC LIMIT ?`).all(appId, limit) as AlertEvent[];
    const deliveries = this.sqlite.prepare('SELECT url, attempt, status, error, at FROM alert_deliveries WHERE event_id = ? ORDER BY id');
    return events.map((e) => ({ ...e, deliveries: deliveries.all(e.id) as Omit<Delivery, 'eventId'>[] }));
  }

  logDelivery(d: Delivery): void {
    this.sqlite.prepare('INSERT INTO alert_deliveries (event_id, url, attempt, status, error, at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(d.eventId, d.url, d.attempt, d.status, d.error, d.at);
  }

  /** Keeps the history bounded: events (with their deliveries) older than maxAgeMs go. */
  pruneEvents(olderThan: number): number {
    return this.sqlite.prepare('DELETE FROM alert_events WHERE at < ?').run(olderThan).changes;
  }
}

function ruleFromRow(row: RuleRow): AlertRule {
  return {
    id: row.id, app: row.app, expr: row.expr, rule: JSON.parse(row.rule) as Rule, webhook: row.webhook, format: row.format,
    renotifyMinutes: row.renotify_minutes, state: row.state, stateSince: row.state_since, lastNotifiedAt: row.last_notified_at,
    createdBy: row.created_by, createdAt: row.created_at,
  };
}
