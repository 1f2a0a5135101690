// Who may see and change which app: admins every app, members the apps they created or were added to
// (Heroku's collaborators). One place decides, so the API, git pushes and the web console agree.
import type Database from 'better-sqlite3';
import type { Db } from './db.ts';
import { now } from './db.ts';
import type { User } from './auth-store.ts';

export class AccessStore {
  private readonly sql: Database.Database;
  constructor(db: Db) { this.sql = db.$client; }

  /** A review app has no members of its own: whoever may see its parent may see it, now and later. */
  canSee(user: User, appName: string): boolean {
    if (user.role === 'admin') return true;
    return this.sql.prepare(
      `SELECT 1 FROM apps a LEFT JOIN review_apps r ON r.app_id = a.id
       JOIN app_members m ON m.app_id = COALESCE(r.parent_id, a.id) WHERE a.name = ? AND m.user_id = ?`,
    ).get(appName, user.id) !== undefined;
  }

  addMember(appId: number, userId: number): void {
    this.sql.prepare('INSERT OR IGNORE INTO app_members (app_id, user_id, created_at) VALUES (?, ?, ?)').run(appId, userId, now());
  }

  removeMember(appId: number, userId: number): boolean {
    return this.sql.prepare('DELETE FROM app_members WHERE app_id = ? AND user_id = ?').run(appId, userId).changes > 0;
  }

  /** A review app's are its parent's. */
  members(appId: number): { name: string; role: string; addedAt: string }[] {
    return this.sql.prepare(
      `SELECT u.name AS name, u.role AS role, m.created_at AS addedAt FROM app_members m
       JOIN users u ON u.id = m.user_id
       WHERE m.app_id = COALESCE((SELECT parent_id FROM review_apps WHERE app_id = ?), ?) ORDER BY u.name`,
    ).all(appId, appId) as { name: string; role: string; addedAt: string }[];
  }
}
