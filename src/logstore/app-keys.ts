// Which directory of the log store an app's lines go to. Lines arrive named by app (a container's label, a
// router host); they are stored under the app's id, so an app destroyed and created again under the same
// name starts with an empty log, and nothing late from the old one (a 404 for its host read after the
// destroy) can reach the new one.
import type { AppLifecycle } from '../lifecycle/app-events.ts';

/** What the store needs to know about an app: its id and since when it exists (ISO time). */
export interface LogOwner { id: number; createdAt: string }

/** The apps as the state has them now. */
export interface AppDirectory {
  find(name: string): LogOwner | undefined;
}

/** An app's directory under <dataDir>/logs: its id (app names start with a letter, so ids never clash with one). */
export function appLogKey(appId: number): string {
  return String(appId);
}

/** The earliest time a line of the app can have: one older than the app belongs to an earlier app of its name. */
export function notBefore(owner: LogOwner): number {
  const created = Date.parse(owner.createdAt);
  return Number.isFinite(created) ? created : 0;
}

/** Where a line of the app named `app` at `ts` is stored; null (dropped) when no such app exists or it is too old to be its. */
export function keyForLine(owner: LogOwner | undefined, ts: number | null): string | null {
  if (!owner) return null;
  if (ts !== null && ts < notBefore(owner)) return null;
  return appLogKey(owner.id);
}

/**
 * Name → owner lookups for every stored line, cached: a lookup is a database query and lines come by the
 * thousand. An entry goes when an app of that name is created or destroyed (the lifecycle events).
 */
export class AppLogKeys {
  private readonly apps: AppDirectory;
  private readonly cache = new Map<string, LogOwner | null>();

  constructor(apps: AppDirectory) { this.apps = apps; }

  /** The store key for an instance's line (the instance exists, so its app does, by this name). */
  forInstance(app: string): string | null {
    return keyForLine(this.owner(app), null);
  }

  /** The store key for a router line: also dropped when older than the app (a late line of a destroyed namesake). */
  forRequest(app: string, ts: number): string | null {
    return keyForLine(this.owner(app), ts);
  }

  /** Keeps the cache true; subscribe it to the app lifecycle events. */
  changed(event: AppLifecycle['created'] | AppLifecycle['destroyed']): void {
    this.cache.delete(event.app);
  }

  private owner(app: string): LogOwner | undefined {
    let owner = this.cache.get(app);
    if (owner === undefined) {
      const found = this.apps.find(app);
      owner = found ? { id: found.id, createdAt: found.createdAt } : null;
      this.cache.set(app, owner);
    }
    return owner ?? undefined;
  }
}
