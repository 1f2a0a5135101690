// Web console sessions: a random id in an HttpOnly cookie (stored here only as a hash) and a CSRF
// token the page must echo in a header on every change. A session is bound to the token it signed in
// with: it has that token's scope, ends no later than it, and ends when it is revoked (cascade).
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Db } from './db.ts';
import { hashToken, type User } from './auth-store.ts';
import type { TokenScope } from '../wire/types.ts';

export interface Session { user: User; scope: TokenScope; csrfToken: string; expiresAt: string; tokenExpiresAt: string | null }

export class SessionsStore {
  private readonly sql: Database.Database;
  private readonly ttlMs: number;
  constructor(db: Db, ttlHours = 24 * 7) { this.sql = db.$client; this.ttlMs = ttlHours * 3600_000; }

  create(userId: number, token: { id: number; expiresAt: string | null }): { id: string; csrfToken: string; expiresAt: string } {
    const id = crypto.randomBytes(32).toString('base64url');
    const csrfToken = crypto.randomBytes(24).toString('base64url');
    const createdAt = new Date();
    const ttlEnd = createdAt.getTime() + this.ttlMs;
    const expiresAt = new Date(token.expiresAt ? Math.min(ttlEnd, Date.parse(token.expiresAt)) : ttlEnd).toISOString();
    this.sql.prepare('DELETE FROM sessions WHERE expires_at < ?').run(createdAt.toISOString());
    this.sql.prepare('INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, token_id) VALUES (?, ?, ?, ?, ?, ?)')
      .run(hashToken(id), userId, csrfToken, createdAt.toISOString(), expiresAt, token.id);
    return { id, csrfToken, expiresAt };
  }

  find(id: string): Session | undefined {
    // Sessions from before scoped tokens (no token_id) keep what their user's tokens had: admin for admins.
    const row = this.sql.prepare(
      `SELECT u.id AS id, u.name AS name, u.role AS role, s.csrf_token AS csrf, s.expires_at AS expiresAt,
         COALESCE(t.scope, CASE u.role WHEN 'admin' THEN 'admin' ELSE 'full' END) AS scope, t.expires_at AS tokenExpiresAt
       FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN tokens t ON t.id = s.token_id
       WHERE s.id_hash = ? AND s.expires_at > ?`,
    ).get(hashToken(id), new Date().toISOString()) as { id: number; name: string; role: string; csrf: string; expiresAt: string; scope: TokenScope; tokenExpiresAt: string | null } | undefined;
    if (!row) return undefined;
    return { user: { id: row.id, name: row.name, role: row.role }, scope: row.scope, csrfToken: row.csrf, expiresAt: row.expiresAt, tokenExpiresAt: row.tokenExpiresAt };
  }

  delete(id: string): void {
    this.sql.prepare('DELETE FROM sessions WHERE id_hash = ?').run(hashToken(id));
  }
}
