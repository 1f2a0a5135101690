// Releases: numbered, immutable records of what an app runs (image + config + formation).
// Only their status moves forward (deploying → succeeded | failed, or deploying → canary → succeeded | aborted);
// nothing else is ever updated.
import { and, desc, eq, max } from 'drizzle-orm';
import { releases, type FormationEntry, type ReleaseHealthCheck } from './schema.ts';
import { now, type Db } from './db.ts';
import { notFound } from '../shared/errors.ts';
import type { SecretBox } from './secrets.ts';
import { openConfig, sealConfig } from './config-secrets.ts';

export type ReleaseRow = typeof releases.$inferSelect;
export type ReleaseStatus = 'deploying' | 'canary' | 'succeeded' | 'failed' | 'aborted';

export interface NewRelease {
  appId: number;
  description: string;
  imageRef: string | null;
  imageId: string | null;
  imageDigest: string | null;
  containerPort: number | null;
  config: Record<string, string>;
  formation: FormationEntry[];
  /** The commit's app.json web health check (config vars still win over it); null or absent: none. */
  health?: ReleaseHealthCheck | null;
  createdBy: string;
  status: ReleaseStatus;
}

export class ReleasesStore {
  private readonly db: Db;
  private readonly secrets: SecretBox;
  /** `secrets` seals the config snapshot's values; rows hand them out decrypted, on first read of `.config`. */
  constructor(db: Db, secrets: SecretBox) { this.db = db; this.secrets = secrets; }

  /** The version the app's next release gets (a build tags its image with it before the release exists). */
  nextVersion(appId: number): number {
    const last = this.db.select({ v: max(releases.version) }).from(releases).where(eq(releases.appId, appId)).get();
    return (last?.v ?? 0) + 1;
  }

  /** Numbers the release inside the same transaction that inserts it, so versions never collide. */
  create(values: NewRelease): ReleaseRow {
    // One connection, so nextVersion's read runs inside this transaction.
    return this.db.transaction((tx) => {
      const version = this.nextVersion(values.appId);
      const finishedAt = values.status === 'deploying' ? null : now();
      const config = sealConfig(this.secrets, values.appId, values.config);
      return this.#plain(tx.insert(releases).values({ ...values, config, version, createdAt: now(), finishedAt }).returning().get());
    });
  }

  list(appId: number, limit = 100): ReleaseRow[] {
    return this.db.select().from(releases).where(eq(releases.appId, appId))
      .orderBy(desc(releases.version)).limit(limit).all().map((r) => this.#plain(r));
  }

  find(appId: number, version: number): ReleaseRow | undefined {
    const row = this.db.select().from(releases)
      .where(and(eq(releases.appId, appId), eq(releases.version, version))).get();
    return row && this.#plain(row);
  }

  get(appId: number, version: number): ReleaseRow {
    const release = this.find(appId, version);
    if (!release) throw notFound(`Release v${version} not found.`);
    return release;
  }

  /**
   * apps:rename moved the app's images to the repository of its new name: the references follow, so a
   * rollback pulls from there. Nothing else of a release ever changes.
   */
  moveImageRepository(appId: number, from: string, to: string): void {
    for (const release of this.list(appId, Number.MAX_SAFE_INTEGER)) {
      if (!release.imageRef?.startsWith(`${from}:`)) continue;
      this.db.update(releases).set({ imageRef: to + release.imageRef.slice(from.length) }).where(eq(releases.id, release.id)).run();
    }
  }

  /** Releases left 'deploying' by a server that stopped mid-rollout; they never went live. */
  failInterrupted(reason: string): ReleaseRow[] {
    return this.db.update(releases).set({ status: 'failed', failureReason: reason, finishedAt: now() })
      .where(eq(releases.status, 'deploying')).returning().all().map((r) => this.#plain(r));
  }

  /** The release runs as a canary beside the current one (src/canary). */
  markCanary(id: number): ReleaseRow {
    return this.#plain(this.db.update(releases).set({ status: 'canary' }).where(eq(releases.id, id)).returning().get());
  }

  finish(id: number, status: 'succeeded' | 'failed' | 'aborted', failureReason: string | null = null): ReleaseRow {
    return this.#plain(this.db.update(releases).set({ status, failureReason, finishedAt: now() })
      .where(eq(releases.id, id)).returning().get());
  }

  /** `.config` decrypts when first read, so listing releases (versions, status) decrypts nothing. */
  #plain(row: ReleaseRow): ReleaseRow {
    const sealed = row.config;
    let plain: Record<string, string> | undefined;
    return Object.defineProperty(row, 'config', {
      enumerable: true, configurable: true,
      get: () => (plain ??= openConfig(this.secrets, row.appId, sealed)),
    });
  }
}
