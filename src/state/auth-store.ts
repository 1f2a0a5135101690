// Users and their API tokens. Tokens are random (192 bits), shown once, stored only as a sha256 hash
// (a fast hash is enough for secrets that long: there is no dictionary to try). Each token has a scope,
// may expire, and records when it was last used (written at most once a minute, so auth stays a read).
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { eq } from 'drizzle-orm';
import { users } from './schema.ts';
import { now, type Db } from './db.ts';
import type { TokenScope } from '../wire/types.ts';

export interface User { id: number; name: string; role: string }

export interface TokenRow {
  id: number;
  userId: number;
  user: string;
  scope: TokenScope;
  description: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

/** A token's verdict: its user and scope, or why it opens nothing (expired, or unknown/revoked). */
export type TokenCheck =
  | { ok: true; user: User; scope: TokenScope; tokenId: number; expiresAt: string | null }
  | { ok: false; reason: 'token_expired' | 'unauthorized' };

const LAST_USED_EVERY_MS = 60_000;

export const hashToken = (token: string): string => crypto.createHash('sha256').update(token).digest('hex');

const TOKEN_COLUMNS = `t.id AS id, t.user_id AS userId, u.name AS user, t.scope AS scope, t.label AS description,
  t.created_at AS createdAt, t.expires_at AS expiresAt, t.last_used_at AS lastUsedAt`;

export class AuthStore {
  private readonly db: Db;
  private readonly sql: Database.Database;
  constructor(db: Db) { this.db = db; this.sql = db.$client; }

  hasUsers(): boolean {
    return this.db.select({ id: users.id }).from(users).limit(1).get() !== undefined;
  }

  createUser(name: string, role: 'admin' | 'member'): User {
    return this.db.insert(users).values({ name, role, createdAt: now() }).returning().get();
  }

  /**
   * A user's first token (users:create, the bootstrap admin token): the user's whole rights, the admin
   * scope for admins. Returns the token in clear text: the only moment it exists outside the user's hands.
   */
  issueToken(userId: number, label: string): string {
    const role = this.sql.prepare('SELECT role FROM users WHERE id = ?').pluck().get(userId) as string | undefined;
    return this.createToken(userId, { scope: role === 'admin' ? 'admin' : 'full', description: label, expiresAt: null }).token;
  }

  createToken(userId: number, opts: { scope: TokenScope; description: string; expiresAt: string | null }): TokenRow & { token: string } {
    const token = `berth_${crypto.randomBytes(24).toString('base64url')}`;
    const id = Number(this.sql.prepare(
      'INSERT INTO tokens (user_id, token_hash, label, created_at, scope, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(userId, hashToken(token), opts.description, now(), opts.scope, opts.expiresAt).lastInsertRowid);
    return { ...this.findToken(id)!, token };
  }

  /** One user's tokens, or everyone's (admins), oldest first. */
  tokens(userId?: number): TokenRow[] {
    const where = userId === undefined ? '' : 'WHERE t.user_id = ?';
    return this.sql.prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens t JOIN users u ON u.id = t.user_id ${where} ORDER BY t.id`)
      .all(...(userId === undefined ? [] : [userId])) as TokenRow[];
  }

  findToken(id: number): TokenRow | undefined {
    return this.sql.prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`).get(id) as TokenRow | undefined;
  }

  /** Revoking deletes the row: the hash is gone, and sessions signed in with it end (foreign key cascade). */
  revokeToken(id: number): boolean {
    return this.sql.prepare('DELETE FROM tokens WHERE id = ?').run(id).changes > 0;
  }

  /** The verdict on a presented secret; a valid one stamps last-used (at most once a minute). */
  checkToken(token: string): TokenCheck {
    const row = this.sql.prepare(`SELECT ${TOKEN_COLUMNS}, u.role AS role FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`)
      .get(hashToken(token)) as (TokenRow & { role: string }) | undefined;
    const check = verdict(row);
    if (check.ok && (!row!.lastUsedAt || Date.now() - Date.parse(row!.lastUsedAt) >= LAST_USED_EVERY_MS)) {
      this.sql.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(now(), row!.id);
    }
    return check;
  }

  /** The same verdict for a token already accepted once (a terminal re-checking its caller). */
  checkTokenId(id: number): TokenCheck {
    const row = this.sql.prepare(`SELECT ${TOKEN_COLUMNS}, u.role AS role FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`)
      .get(id) as (TokenRow & { role: string }) | undefined;
    return verdict(row);
  }

  users(): (User & { createdAt: string })[] {
    return this.db.select({ id: users.id, name: users.name, role: users.role, createdAt: users.createdAt }).from(users).orderBy(users.name).all();
  }

  findUser(name: string): User | undefined {
    return this.db.select({ id: users.id, name: users.name, role: users.role }).from(users).where(eq(users.name, name)).get();
  }

  /** The first admin by age (the bootstrap's `admin`, unless it was removed). */
  firstAdmin(): User | undefined {
    return this.sql.prepare("SELECT id, name, role FROM users WHERE role = 'admin' ORDER BY id LIMIT 1").get() as User | undefined;
  }

  /** Deleting a user revokes their tokens, sessions and app memberships (foreign keys cascade). */
  deleteUser(id: number): void {
    this.db.delete(users).where(eq(users.id, id)).run();
  }

  /** The user behind a valid token (expired and revoked ones open nothing). */
  userForToken(token: string): User | undefined {
    const check = this.checkToken(token);
    return check.ok ? check.user : undefined;
  }
}

function verdict(row: (TokenRow & { role: string }) | undefined): TokenCheck {
  if (!row) return { ok: false, reason: 'unauthorized' };
  if (row.expiresAt && Date.parse(row.expiresAt) <= Date.now()) return { ok: false, reason: 'token_expired' };
  return { ok: true, user: { id: row.userId, name: row.user, role: row.role }, scope: row.scope, tokenId: row.id, expiresAt: row.expiresAt };
}
