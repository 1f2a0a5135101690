// Builds: one row per deploying push, so a build interrupted by a restart is visibly failed, not lost.
import { desc, eq } from 'drizzle-orm';
import { builds } from './schema.ts';
import { now, type Db } from './db.ts';

export type BuildRow = typeof builds.$inferSelect;

export class BuildsStore {
  private readonly db: Db;
  constructor(db: Db) { this.db = db; }

  start(appId: number, commitSha: string, ref: string, pushedBy: string): BuildRow {
    return this.db.insert(builds).values({ appId, commitSha, ref, pushedBy, status: 'building', startedAt: now() })
      .returning().get();
  }

  finish(id: number, outcome: { status: 'succeeded' | 'failed'; kind?: string | null; releaseVersion?: number | null; error?: string | null }): void {
    this.db.update(builds).set({
      status: outcome.status, kind: outcome.kind ?? null, releaseVersion: outcome.releaseVersion ?? null,
      error: outcome.error ?? null, finishedAt: now(),
    }).where(eq(builds.id, id)).run();
  }

  list(appId: number, limit = 50): BuildRow[] {
    return this.db.select().from(builds).where(eq(builds.appId, appId)).orderBy(desc(builds.id)).limit(limit).all();
  }

  /** Builds left 'building' by a server that stopped; their pushes were rejected, so nothing is half-done. */
  failInterrupted(): number {
    return this.db.update(builds).set({ status: 'failed', error: 'interrupted: the Berth server stopped during the build', finishedAt: now() })
      .where(eq(builds.status, 'building')).run().changes;
  }
}
