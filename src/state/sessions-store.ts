// Web console sessions: a random id in an HttpOnly cookie (stored here only as a hash) and a CSRF
// token the page must echo in a header on every change.
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Db } from './db.ts';
import { hashToken, type User } from './auth-store.ts';

export interface Session { user: User; csrfToken: string; expiresAt: string }

export class SessionsStore {
  private readonly sql: Database.Database;
  private readonly ttlMs: number;
  constructor(db: Db, ttlHours = 24 * 7) { this.sql = db.$client; this.ttlMs = ttlHours * 3600_000; }

  create(userId: number): { id: string; csrfToken: string; expiresAt: string } {
    const id = crypto.randomBytes(32).toString('base64url');
    const csrfToken = crypto.randomBytes(24).toString('base64url');
    const createdAt = new Date();
    const expiresAt = new Date(createdAt.getTime() + this.ttlMs).toISOString();
    this.sql.prepare('DELETE FROM sessions WHERE expires_at < ?').run(createdAt.toISOString());
    this.sql.prepare('INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(hashToken(id), userId, csrfToken, createdAt.toISOString(), expiresAt);
    return { id, csrfToken, expiresAt };
  }

  find(id: string): Session | undefined {
    const row = this.sql.prepare(
      `SELECT u.id AS id, u.name AS name, u.role AS role, s.csrf_token AS csrf, s.expires_at AS expiresAt
       FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ? AND s.expires_at > ?`,
    ).get(hashToken(id), new Date().toISOString()) as { id: number; name: string; role: string; csrf: string; expiresAt: string } | undefined;
    if (!row) return undefined;
    return { user: { id: row.id, name: row.name, role: row.role }, csrfToken: row.csrf, expiresAt: row.expiresAt };
  }

  delete(id: string): void {
    this.sql.prepare('DELETE FROM sessions WHERE id_hash = ?').run(hashToken(id));
  }
}
