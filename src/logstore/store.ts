// The persistent log store: one AppLog per app under <dataDir>/logs/<key>/ (the server keys them by app
// id: app-keys.ts). Appends wait in memory and are written by flush() (on a short timer, or when much
// is waiting); flush listeners run right after the write, which is where the collector persists its
// read positions, so positions never run ahead of what is on disk.
import fs from 'node:fs';
import path from 'node:path';
import { AppLog, type AppLogOptions } from './app-log.ts';
import { readRange, type LogQuery } from './range-reader.ts';
import type { LogRecord } from './record.ts';

export interface LogStoreOptions {
  dir: string;                 // <dataDir>/logs
  retentionDays: number;
  maxBytesPerApp: number;
  blockBytes?: number;         // default 64 KiB
  segmentBytes?: number;       // default 32 MiB, at most a quarter of maxBytesPerApp
  segmentAgeMs?: number;       // default 1 h
  flushMs?: number;            // default 200 ms
  maintenanceMs?: number;      // rotation by age and retention; default 60 s
  onError?: (err: Error) => void;
}

const APP_DIR = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const FLUSH_AT_LINES = 20_000;

export class LogStore {
  private readonly opts: LogStoreOptions;
  private readonly appOpts: AppLogOptions;
  private readonly apps = new Map<string, AppLog>();
  private readonly flushListeners = new Set<() => void>();
  private readonly subscribers = new Map<string, Set<(record: LogRecord) => void>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private unflushed = 0;

  constructor(opts: LogStoreOptions) {
    this.opts = opts;
    const blockBytes = opts.blockBytes ?? 64 * 1024;
    this.appOpts = {
      blockBytes,
      segmentBytes: Math.max(blockBytes, Math.min(opts.segmentBytes ?? 32 * 1024 * 1024, Math.floor(opts.maxBytesPerApp / 4))),
      segmentAgeMs: opts.segmentAgeMs ?? 3_600_000,
      retentionMs: opts.retentionDays * 86_400_000,
      maxBytes: opts.maxBytesPerApp,
      onError: opts.onError ?? (() => {}),
    };
    fs.mkdirSync(opts.dir, { recursive: true });
    this.timers.push(setInterval(() => this.flush(), opts.flushMs ?? 200).unref());
    this.timers.push(setInterval(() => this.maintain(Date.now()), opts.maintenanceMs ?? 60_000).unref());
  }

  append(app: string, record: LogRecord): void {
    this.appLog(app).append(record);
    for (const subscriber of this.subscribers.get(app) ?? []) subscriber(record);
    if (++this.unflushed >= FLUSH_AT_LINES) this.flush();
  }

  /** Writes every app's waiting lines, then tells the flush listeners (synchronously). */
  flush(): void {
    this.unflushed = 0;
    for (const log of this.apps.values()) log.flush();
    for (const listener of this.flushListeners) listener();
  }

  onFlush(listener: () => void): () => void {
    this.flushListeners.add(listener);
    return () => this.flushListeners.delete(listener);
  }

  /**
   * The app's stored lines matching the query, as NDJSON chunks. The snapshot is taken now, synchronously:
   * a subscribe() in the same tick sees exactly the lines appended after it, so read + subscribe has no gap.
   */
  read(app: string, query: LogQuery): AsyncGenerator<Buffer> {
    this.flush();
    const log = this.existingLog(app);
    return readRange(log ? log.snapshot(query.since, query.until) : [], query);
  }

  /** Calls back with every line appended to the app from now on, until the returned function is called. */
  subscribe(app: string, subscriber: (record: LogRecord) => void): () => void {
    let set = this.subscribers.get(app);
    if (!set) this.subscribers.set(app, set = new Set());
    set.add(subscriber);
    return () => {
      set.delete(subscriber);
      if (set.size === 0) this.subscribers.delete(app);
    };
  }

  /** Bytes on disk and segment counts of one app (for tests, benchmarks and operators). */
  usage(app: string): { bytes: number; packed: number; raw: number } {
    const log = this.existingLog(app);
    return log ? { bytes: log.totalBytes(), ...log.segmentCount() } : { bytes: 0, packed: 0, raw: 0 };
  }

  /** Rotates segments that are old enough and applies retention; runs on a timer. */
  maintain(now: number): void {
    for (const log of this.apps.values()) {
      try {
        log.rotateIfOld(now);
        log.enforceRetention(now);
      } catch (err) {
        this.appOpts.onError(err as Error);
      }
    }
  }

  /** Resolves once every closed segment is packed. */
  async idle(): Promise<void> {
    await Promise.all([...this.apps.values()].map((log) => log.idle()));
  }

  /** Removes an app's stored log (the app was destroyed). */
  async remove(app: string): Promise<void> {
    const log = this.apps.get(app);
    this.apps.delete(app);
    await log?.close();
    if (APP_DIR.test(app)) await fs.promises.rm(path.join(this.opts.dir, app), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.flush();
    await Promise.all([...this.apps.values()].map((log) => log.close()));
    this.apps.clear();
  }

  private appLog(app: string): AppLog {
    let log = this.apps.get(app);
    if (!log) {
      if (!APP_DIR.test(app)) throw new Error(`invalid app name for the log store: "${app}"`);
      log = new AppLog(path.join(this.opts.dir, app), this.appOpts);
      this.apps.set(app, log);
    }
    return log;
  }

  /** The app's log if it has one on disk; never creates a directory for a read. */
  private existingLog(app: string): AppLog | null {
    if (this.apps.has(app)) return this.apps.get(app)!;
    if (!APP_DIR.test(app) || !fs.existsSync(path.join(this.opts.dir, app))) return null;
    return this.appLog(app);
  }
}
