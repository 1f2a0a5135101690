// Apps and what hangs off them directly: config vars, process formation, custom domains.
import { and, asc, eq, like, or } from 'drizzle-orm';
import { apps, configVars, domains, formation, type FormationEntry } from './schema.ts';
import { now, type Db } from './db.ts';
import { conflict, notFound } from '../shared/errors.ts';
import { hostnamesOverlap } from '../shared/validation.ts';
import type { SecretBox } from './secrets.ts';
import { openConfig, sealConfig } from './config-secrets.ts';

export type AppRow = typeof apps.$inferSelect;

export class AppsStore {
  private readonly db: Db;
  private readonly secrets: SecretBox;
  /** `secrets` seals config values: the database never holds them in plaintext. */
  constructor(db: Db, secrets: SecretBox) { this.db = db; this.secrets = secrets; }

  list(): AppRow[] {
    return this.db.select().from(apps).orderBy(asc(apps.name)).all();
  }

  find(name: string): AppRow | undefined {
    return this.db.select().from(apps).where(eq(apps.name, name)).get();
  }

  byId(id: number): AppRow | undefined {
    return this.db.select().from(apps).where(eq(apps.id, id)).get();
  }

  get(name: string): AppRow {
    const app = this.find(name);
    if (!app) throw notFound(`App "${name}" not found.`);
    return app;
  }

  create(name: string, scheduler = 'docker'): AppRow {
    if (this.find(name)) throw conflict(`App "${name}" already exists.`);
    return this.db.insert(apps).values({ name, scheduler, createdAt: now() }).returning().get();
  }

  /** apps:rename; the name is unique, so a name taken meanwhile is a conflict, not a second app. */
  rename(appId: number, name: string): void {
    if (this.find(name)) throw conflict(`App "${name}" already exists.`);
    this.db.update(apps).set({ name }).where(eq(apps.id, appId)).run();
  }

  delete(appId: number): void {
    this.db.delete(apps).where(eq(apps.id, appId)).run();
  }

  update(appId: number, values: Partial<Omit<AppRow, 'id' | 'name'>>): void {
    this.db.update(apps).set(values).where(eq(apps.id, appId)).run();
  }

  /** The app's config vars, decrypted (for a container's environment or a `config` reveal). */
  config(appId: number): Record<string, string> {
    const rows = this.db.select().from(configVars).where(eq(configVars.appId, appId)).orderBy(asc(configVars.key)).all();
    return openConfig(this.secrets, appId, Object.fromEntries(rows.map((r) => [r.key, r.value])));
  }

  /**
   * Replaces the whole set in one transaction, so a failed release can put the old set back exactly. Keys that
   * stay keep their --no-review mark; `noReview` marks these keys too (config:set --no-review).
   */
  replaceConfig(appId: number, config: Record<string, string>, noReview: string[] = []): void {
    this.db.transaction((tx) => {
      const marked = new Set([...noReview, ...this.noReviewKeys(appId)]);
      tx.delete(configVars).where(eq(configVars.appId, appId)).run();
      const rows = Object.entries(sealConfig(this.secrets, appId, config)).map(([key, value]) => ({ appId, key, value, noReview: marked.has(key) }));
      if (rows.length) tx.insert(configVars).values(rows).run();
    });
  }

  /** Config keys marked --no-review: review apps of this app get a copy of its config without them. */
  noReviewKeys(appId: number): string[] {
    return this.db.select({ key: configVars.key }).from(configVars)
      .where(and(eq(configVars.appId, appId), eq(configVars.noReview, true))).orderBy(asc(configVars.key)).all().map((r) => r.key);
  }

  /** Marks (or unmarks) existing config vars; returns the keys that are not set on the app. */
  markNoReview(appId: number, keys: string[], noReview: boolean): string[] {
    const set = new Set(this.db.select({ key: configVars.key }).from(configVars).where(eq(configVars.appId, appId)).all().map((r) => r.key));
    const missing = keys.filter((key) => !set.has(key));
    if (missing.length) return missing;
    this.db.transaction((tx) => {
      for (const key of keys) tx.update(configVars).set({ noReview }).where(and(eq(configVars.appId, appId), eq(configVars.key, key))).run();
    });
    return [];
  }

  formation(appId: number): FormationEntry[] {
    return this.db.select().from(formation).where(eq(formation.appId, appId)).orderBy(asc(formation.type)).all()
      .map(({ appId: _app, ...entry }) => entry);
  }

  replaceFormation(appId: number, entries: FormationEntry[]): void {
    this.db.transaction((tx) => {
      tx.delete(formation).where(eq(formation.appId, appId)).run();
      if (entries.length) tx.insert(formation).values(entries.map((e) => ({ ...e, appId }))).run();
    });
  }

  customDomains(appId: number): string[] {
    return this.db.select().from(domains).where(eq(domains.appId, appId)).orderBy(asc(domains.hostname)).all()
      .map((d) => d.hostname);
  }

  domainOwner(hostname: string): number | undefined {
    return this.db.select().from(domains).where(eq(domains.hostname, hostname)).get()?.appId;
  }

  /**
   * Custom domains (of any app) that route some of the same requests as `hostname`: the same name, the
   * wildcard one label above an exact name, or the exact names one label below a wildcard.
   */
  overlappingDomains(hostname: string): Array<{ appId: number; hostname: string }> {
    const bare = hostname.startsWith('*.') ? hostname.slice(2) : hostname;
    const parent = bare.slice(bare.indexOf('.') + 1);
    const candidates = hostname.startsWith('*.')
      ? or(eq(domains.hostname, hostname), like(domains.hostname, `%.${bare}`))
      : or(eq(domains.hostname, hostname), eq(domains.hostname, `*.${parent}`));
    return this.db.select({ appId: domains.appId, hostname: domains.hostname }).from(domains).where(candidates).all()
      .filter((d) => hostnamesOverlap(d.hostname, hostname));
  }

  addDomain(appId: number, hostname: string): void {
    this.db.insert(domains).values({ appId, hostname, createdAt: now() }).run();
  }

  removeDomain(appId: number, hostname: string): boolean {
    const result = this.db.delete(domains).where(and(eq(domains.appId, appId), eq(domains.hostname, hostname))).run();
    return result.changes > 0;
  }
}
