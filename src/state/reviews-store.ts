// Review apps' state: which apps make them (apps:reviews, with a time to live) and which app is the review
// app of which parent's branch, pushed when.
import { and, asc, eq } from 'drizzle-orm';
import { apps, reviewApps, reviewSettings } from './schema.ts';
import { now, type Db } from './db.ts';

export interface ReviewSettingsRow { appId: number; ttlSec: number; enabledAt: string }
export interface ReviewAppRow { appId: number; name: string; parentId: number; branch: string; lastPushAt: string }

export class ReviewsStore {
  private readonly db: Db;
  constructor(db: Db) { this.db = db; }

  settings(appId: number): ReviewSettingsRow | undefined {
    return this.db.select().from(reviewSettings).where(eq(reviewSettings.appId, appId)).get();
  }

  allSettings(): ReviewSettingsRow[] {
    return this.db.select().from(reviewSettings).all();
  }

  enable(appId: number, ttlSec: number): void {
    this.db.insert(reviewSettings).values({ appId, ttlSec, enabledAt: now() })
      .onConflictDoUpdate({ target: reviewSettings.appId, set: { ttlSec } }).run();
  }

  disable(appId: number): void {
    this.db.delete(reviewSettings).where(eq(reviewSettings.appId, appId)).run();
  }

  /** The review app's own row (its parent and branch), if the app is one. */
  reviewOf(appId: number): ReviewAppRow | undefined {
    return this.selectReviewApps().where(eq(reviewApps.appId, appId)).get();
  }

  forBranch(parentId: number, branch: string): ReviewAppRow | undefined {
    return this.selectReviewApps().where(and(eq(reviewApps.parentId, parentId), eq(reviewApps.branch, branch))).get();
  }

  children(parentId: number): ReviewAppRow[] {
    return this.selectReviewApps().where(eq(reviewApps.parentId, parentId)).orderBy(asc(apps.name)).all();
  }

  all(): ReviewAppRow[] {
    return this.selectReviewApps().orderBy(asc(reviewApps.lastPushAt)).all();
  }

  add(appId: number, parentId: number, branch: string): void {
    this.db.insert(reviewApps).values({ appId, parentId, branch, lastPushAt: now() }).run();
  }

  /** A push to the branch: its time to live starts again. */
  touch(appId: number): void {
    this.db.update(reviewApps).set({ lastPushAt: now() }).where(eq(reviewApps.appId, appId)).run();
  }

  private selectReviewApps() {
    return this.db.select({
      appId: reviewApps.appId, name: apps.name, parentId: reviewApps.parentId, branch: reviewApps.branch, lastPushAt: reviewApps.lastPushAt,
    }).from(reviewApps).innerJoin(apps, eq(apps.id, reviewApps.appId)).$dynamic();
  }
}
