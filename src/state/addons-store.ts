// Add-ons (addons:create) and the config vars they own on apps (bindings). Credentials and outside URLs rest
// sealed like config values (src/state/secrets.ts), bound to the add-on or binding; key rotation re-seals them
// with the rest (resealAddons).
import type Database from 'better-sqlite3';
import type { Db } from './db.ts';
import { now } from './db.ts';
import type { SecretBox } from './secrets.ts';
import type { AddonCredentials, AddonKind } from '../addons/kinds.ts';

export interface AddonRow {
  id: number;
  name: string;
  kind: AddonKind;
  appId: number;
  credentials: AddonCredentials;
  memoryMB: number;
  /** The scheduler holding its service: its app's when it was created (src/addons/runtimes.ts). */
  scheduler: string;
  createdBy: string;
  createdAt: string;
}

/** A config var owned by an add-on (addonId, host: its address on the app's network) or an outside service (url). */
export interface BindingRow {
  appId: number;
  var: string;
  addonId: number | null;
  host: string | null;
  url: string | null;
}

interface AddonRecord { id: number; name: string; kind: string; app_id: number; credentials: string; memory_mb: number; scheduler: string; created_by: string; created_at: string }
interface BindingRecord { app_id: number; var: string; addon_id: number | null; host: string | null; url: string | null }

const credentialsContext = (name: string): string => `addon:${name}:credentials`;
const urlContext = (appId: number, key: string): string => `addon-binding:${appId}:${key}`;

export class AddonsStore {
  readonly #sql: Database.Database;
  readonly #box: SecretBox;
  constructor(db: Db, box: SecretBox) { this.#sql = db.$client; this.#box = box; }

  find(name: string): AddonRow | undefined {
    const row = this.#sql.prepare('SELECT * FROM addons WHERE name = ?').get(name) as AddonRecord | undefined;
    return row && this.#addon(row);
  }

  byId(id: number): AddonRow | undefined {
    const row = this.#sql.prepare('SELECT * FROM addons WHERE id = ?').get(id) as AddonRecord | undefined;
    return row && this.#addon(row);
  }

  /** The add-ons an app created. */
  ofApp(appId: number): AddonRow[] {
    return (this.#sql.prepare('SELECT * FROM addons WHERE app_id = ? ORDER BY name').all(appId) as AddonRecord[]).map((r) => this.#addon(r));
  }

  all(): AddonRow[] {
    return (this.#sql.prepare('SELECT * FROM addons ORDER BY name').all() as AddonRecord[]).map((r) => this.#addon(r));
  }

  /**
   * The add-on and its binding on the creating app, in one transaction; false: the name is taken. Its scheduler
   * is the app's, read in the same statement.
   */
  create(a: Omit<AddonRow, 'id' | 'createdAt' | 'scheduler'>, binding: { var: string; host: string }): AddonRow | null {
    return this.#sql.transaction(() => {
      if (this.find(a.name)) return null;
      const info = this.#sql.prepare(`INSERT INTO addons (name, kind, app_id, credentials, memory_mb, scheduler, created_by, created_at)
        VALUES (?, ?, ?, ?, ?, COALESCE((SELECT scheduler FROM apps WHERE id = ?), 'docker'), ?, ?)`)
        .run(a.name, a.kind, a.appId, this.#box.seal(JSON.stringify(a.credentials), credentialsContext(a.name)), a.memoryMB, a.appId, a.createdBy, now());
      const id = Number(info.lastInsertRowid);
      this.bind({ appId: a.appId, var: binding.var, addonId: id, host: binding.host, url: null });
      return this.byId(id)!;
    })();
  }

  remove(id: number): void {
    this.#sql.prepare('DELETE FROM addons WHERE id = ?').run(id);
  }

  bind(b: BindingRow): void {
    this.#sql.prepare('INSERT INTO addon_bindings (app_id, var, addon_id, host, url, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(b.appId, b.var, b.addonId, b.host, b.url === null ? null : this.#box.seal(b.url, urlContext(b.appId, b.var)), now());
  }

  unbind(appId: number, key: string): void {
    this.#sql.prepare('DELETE FROM addon_bindings WHERE app_id = ? AND var = ?').run(appId, key);
  }

  /** The service's new address on the app's network (the app was renamed: a new network). */
  moveHost(appId: number, key: string, host: string): void {
    this.#sql.prepare('UPDATE addon_bindings SET host = ? WHERE app_id = ? AND var = ?').run(host, appId, key);
  }

  /** Who owns the app's config var, if anyone. */
  binding(appId: number, key: string): BindingRow | undefined {
    const row = this.#sql.prepare('SELECT * FROM addon_bindings WHERE app_id = ? AND var = ?').get(appId, key) as BindingRecord | undefined;
    return row && this.#binding(row);
  }

  bindingsOfApp(appId: number): BindingRow[] {
    return (this.#sql.prepare('SELECT * FROM addon_bindings WHERE app_id = ? ORDER BY var').all(appId) as BindingRecord[]).map((r) => this.#binding(r));
  }

  bindingsOfAddon(addonId: number): BindingRow[] {
    return (this.#sql.prepare('SELECT * FROM addon_bindings WHERE addon_id = ? ORDER BY app_id, var').all(addonId) as BindingRecord[]).map((r) => this.#binding(r));
  }

  /** A destroyed app's bindings (its own add-ons' rows go with their containers). */
  forgetApp(appId: number): void {
    this.#sql.prepare('DELETE FROM addon_bindings WHERE app_id = ?').run(appId);
  }

  #addon(r: AddonRecord): AddonRow {
    return {
      id: r.id, name: r.name, kind: r.kind as AddonKind, appId: r.app_id, memoryMB: r.memory_mb, scheduler: r.scheduler, createdBy: r.created_by, createdAt: r.created_at,
      credentials: JSON.parse(this.#box.open(r.credentials, credentialsContext(r.name))) as AddonCredentials,
    };
  }

  #binding(r: BindingRecord): BindingRow {
    return { appId: r.app_id, var: r.var, addonId: r.addon_id, host: r.host, url: r.url === null ? null : this.#box.open(r.url, urlContext(r.app_id, r.var)) };
  }
}

/** Rewrites every sealed add-on value through `change` (key rotation); returns how many. */
export function resealAddons(sqlite: Database.Database, change: (value: string, context: string) => string): number {
  let count = 0;
  for (const row of sqlite.prepare('SELECT id, name, credentials FROM addons').all() as Array<Pick<AddonRecord, 'id' | 'name' | 'credentials'>>) {
    sqlite.prepare('UPDATE addons SET credentials = ? WHERE id = ?').run(change(row.credentials, credentialsContext(row.name)), row.id);
    count++;
  }
  for (const row of sqlite.prepare('SELECT app_id, var, url FROM addon_bindings WHERE url IS NOT NULL').all() as Array<{ app_id: number; var: string; url: string }>) {
    sqlite.prepare('UPDATE addon_bindings SET url = ? WHERE app_id = ? AND var = ?').run(change(row.url, urlContext(row.app_id, row.var)), row.app_id, row.var);
    count++;
  }
  return count;
}
