// Collects stdout/stderr of every running Berth instance into the log store. Each container is read
// from its own saved cursor, so a Berth restart continues where the stored lines end: lines written
// while Berth was down are read then, lines already stored are skipped. A container's stream ends when
// it stops and is reopened if it runs again.
// Discovery is driven by the engine's start events (one app is listed when one of its containers
// starts), with a slow full listing as a safety net for anything an event stream missed. Listing every
// container every second inspects each one: with hundreds of containers that alone kept a core busy.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Instance, Runtime, RuntimeEvent } from '../runtime/types.ts';

/** What the collector reads: instances, one instance's log, and (optionally) their start events. */
export type InstanceSource = Pick<Runtime, 'list' | 'instanceLogs' | 'events'>;
import type { LogStore } from './store.ts';
import type { AppLogKeys } from './app-keys.ts';
import { PositionFile, advanceCursor, skipRepeats, type LogCursor } from './positions.ts';

export interface CollectorOptions {
  runtime: InstanceSource;
  store: LogStore;
  /**
   * The store key of an instance's app (its id: app-keys.ts); null: the app is gone, its last lines are dropped.
   * Default: the app's name, for a store without apps (benchmarks).
   */
  keys?: Pick<AppLogKeys, 'forInstance'>;
  /** Where the cursors file lives (the store's directory). */
  stateDir: string;
  /** Engine events (every host's); default: the runtime's own. Without any, discovery polls every pollMs. */
  events?: (signal: AbortSignal) => AsyncIterable<RuntimeEvent>;
  /** Full listing interval without events; default 1 s. */
  pollMs?: number;
  /** Full listing interval alongside events; default 30 s. */
  safetyPollMs?: number;
  log?: (line: string) => void;
  /** Sees every stored line (the alerts' keyword counts). */
  onLine?: (app: string, text: string, tsMs: number) => void;
}

interface Reading { abort: AbortController; done: Promise<void> }

const RECONNECT_MS = 1000;
const BY_NAME = { forInstance: (app: string) => app };

export class LogCollector {
  private readonly opts: CollectorOptions;
  private readonly cursors: PositionFile<LogCursor>;
  private readonly reading = new Map<string, Reading>();
  /** Stopped containers read to their end in this process: not reopened until they run again. */
  private readonly readToEnd = new Set<string>();
  /** Listings in flight, by app ('' for all); a request during one runs one more right after it. */
  private readonly listing = new Map<string, Promise<void>>();
  private readonly listAgain = new Set<string>();
  private readonly stopFlushListener: () => void;
  private readonly stopEvents = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private eventsDone: Promise<void> | null = null;
  private closed = false;

  constructor(opts: CollectorOptions) {
    this.opts = opts;
    this.cursors = new PositionFile(path.join(opts.stateDir, '.container-cursors.json'));
    // Cursors are saved right after the lines they count were written, never before.
    this.stopFlushListener = opts.store.onFlush(() => this.cursors.save());
  }

  /** false when the runtime cannot follow single instances (then nothing is collected). */
  start(): boolean {
    if (!this.opts.runtime.instanceLogs) {
      this.opts.log?.('log collector: this runtime cannot follow single instances; app logs are not stored');
      return false;
    }
    const events = this.opts.events ?? this.opts.runtime.events?.bind(this.opts.runtime);
    if (events) this.eventsDone = this.followEvents(events);
    void this.poll();
    const every = events ? (this.opts.safetyPollMs ?? 30_000) : (this.opts.pollMs ?? 1000);
    this.timer = setInterval(() => void this.poll(), every);
    this.timer.unref();
    return true;
  }

  /** One full discovery round now (tests use it to avoid waiting for the timer). */
  poll(): Promise<void> {
    return this.discover('');
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.stopEvents.abort();
    await this.eventsDone;
    await Promise.all([...this.listing.values()].map((p) => p.catch(() => {})));
    for (const reading of this.reading.values()) reading.abort.abort();
    await Promise.all([...this.reading.values()].map((r) => r.done));
    this.opts.store.flush();
    this.stopFlushListener();
  }

  private async followEvents(events: (signal: AbortSignal) => AsyncIterable<RuntimeEvent>): Promise<void> {
    const signal = this.stopEvents.signal;
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        const stream = events(signal);
        // After a reconnect, whatever started while the stream was down is found by one full listing.
        if (attempt > 0) void this.poll();
        for await (const event of stream) {
          if (event.action === 'start') void this.discover(event.app);
        }
      } catch (err) {
        if (!signal.aborted) this.opts.log?.(`log collector: engine events broke off (${(err as Error).message}); reconnecting`);
      }
      await sleep(RECONNECT_MS, undefined, { signal }).catch(() => {});
    }
  }

  /** Lists one app's instances ('' : all) and follows the new ones; coalesces overlapping requests. */
  private discover(app: string): Promise<void> {
    const running = this.listing.get(app);
    if (running) {
      this.listAgain.add(app);
      return running;
    }
    const round = this.listAndFollow(app).finally(() => {
      this.listing.delete(app);
      if (this.listAgain.delete(app)) void this.discover(app);
    });
    this.listing.set(app, round);
    return round;
  }

  private async listAndFollow(app: string): Promise<void> {
    if (this.closed) return;
    let instances: Instance[];
    try {
      instances = await this.opts.runtime.list(app || undefined);
    } catch {
      return; // engine busy or restarting: the next round retries
    }
    if (this.closed) return;
    for (const instance of instances) {
      if (this.reading.has(instance.id)) continue;
      if (instance.state === 'running') this.readToEnd.delete(instance.id);
      else if (this.readToEnd.has(instance.id)) continue;
      this.follow(instance);
    }
    if (app) return; // one app's listing says nothing about the other apps' containers
    const present = new Set(instances.map((i) => i.id));
    this.cursors.retain(present);
    for (const id of this.readToEnd) if (!present.has(id)) this.readToEnd.delete(id);
  }

  private follow(instance: Instance): void {
    const abort = new AbortController();
    const done = this.read(instance, abort.signal)
      .catch((err) => { if (!abort.signal.aborted) this.opts.log?.(`log collector: reading ${instance.name} failed: ${(err as Error).message}`); })
      .finally(() => {
        this.reading.delete(instance.id);
        this.readToEnd.add(instance.id);
      });
    this.reading.set(instance.id, { abort, done });
  }

  private async read(instance: Instance, signal: AbortSignal): Promise<void> {
    const { store, runtime, keys = BY_NAME } = this.opts;
    const start = this.cursors.get(instance.id);
    const isNew = skipRepeats(start);
    const name = `${instance.process}.${instance.index}`;
    for await (const line of runtime.instanceLogs!(instance, { since: start?.time ?? null, signal })) {
      if (!isNew(line.time)) continue;
      // Cursor first: an append can flush (and so save cursors) at once, and the line is then on disk.
      this.cursors.set(instance.id, advanceCursor(this.cursors.get(instance.id), line.time));
      const ts = Date.parse(line.time);
      const key = keys.forInstance(instance.app);
      if (key !== null) {
        store.append(key, {
          ts, process: instance.process, instance: name, release: instance.release,
          stream: line.stream, text: line.line,
        });
      }
      this.opts.onLine?.(instance.app, line.line, ts);
    }
  }
}
