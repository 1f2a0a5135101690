// Users and their API tokens. Tokens are random, shown once, stored only as a sha256 hash.
import crypto from 'node:crypto';
import { eq } from 'drizzle-orm';
import { tokens, users } from './schema.ts';
import { now, type Db } from './db.ts';

export interface User { id: number; name: string; role: string }

export const hashToken = (token: string): string => crypto.createHash('sha256').update(token).digest('hex');

export class AuthStore {
  private readonly db: Db;
  constructor(db: Db) { this.db = db; }

  hasUsers(): boolean {
    return this.db.select({ id: users.id }).from(users).limit(1).get() !== undefined;
  }

  createUser(name: string, role: 'admin' | 'member'): User {
    return this.db.insert(users).values({ name, role, createdAt: now() }).returning().get();
  }

  /** Returns the token in clear text: the only moment it exists outside the user's hands. */
  issueToken(userId: number, label: string): string {
    const token = `berth_${crypto.randomBytes(24).toString('base64url')}`;
    this.db.insert(tokens).values({ userId, tokenHash: hashToken(token), label, createdAt: now() }).run();
    return token;
  }

  users(): (User & { createdAt: string })[] {
    return this.db.select({ id: users.id, name: users.name, role: users.role, createdAt: users.createdAt }).from(users).orderBy(users.name).all();
  }

  findUser(name: string): User | undefined {
    return this.db.select({ id: users.id, name: users.name, role: users.role }).from(users).where(eq(users.name, name)).get();
  }

  /** Deleting a user revokes their tokens, sessions and app memberships (foreign keys cascade). */
  deleteUser(id: number): void {
    this.db.delete(users).where(eq(users.id, id)).run();
  }

  userForToken(token: string): User | undefined {
    const row = this.db.select({ id: users.id, name: users.name, role: users.role })
      .from(tokens).innerJoin(users, eq(tokens.userId, users.id))
      .where(eq(tokens.tokenHash, hashToken(token))).get();
    return row ?? undefined;
  }
}
