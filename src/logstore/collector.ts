// Collects stdout/stderr of every running Berth instance into the log store. Each container is read
// from its own saved cursor, so a Berth restart continues where the stored lines end: lines written
// while Berth was down are read then, lines already stored are skipped. New instances are found by
// polling the runtime; a container's stream ends when it stops and is reopened if it runs again.
import path from 'node:path';
import type { Instance, Runtime } from '../runtime/types.ts';
import type { LogStore } from './store.ts';
import { PositionFile, advanceCursor, skipRepeats, type LogCursor } from './positions.ts';

export interface CollectorOptions {
  runtime: Runtime;
  store: LogStore;
  /** Where the cursors file lives (the store's directory). */
  stateDir: string;
  pollMs?: number;
  log?: (line: string) => void;
  /** Sees every stored line (the alerts' keyword counts). */
  onLine?: (app: string, text: string, tsMs: number) => void;
}

interface Reading { abort: AbortController; done: Promise<void> }

export class LogCollector {
  private readonly opts: CollectorOptions;
  private readonly cursors: PositionFile<LogCursor>;
  private readonly reading = new Map<string, Reading>();
  /** Stopped containers read to their end in this process: not reopened until they run again. */
  private readonly readToEnd = new Set<string>();
  private readonly stopFlushListener: () => void;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
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
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 1000);
    this.timer.unref();
    return true;
  }

  /** One discovery round now (tests use it to avoid waiting for the timer). */
  poll(): Promise<void> {
    this.polling ??= this.discover().finally(() => { this.polling = null; });
    return this.polling;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling?.catch(() => {});
    for (const reading of this.reading.values()) reading.abort.abort();
    await Promise.all([...this.reading.values()].map((r) => r.done));
    this.opts.store.flush();
    this.stopFlushListener();
  }

  private async discover(): Promise<void> {
    if (this.closed) return;
    let instances: Instance[];
    try {
      instances = await this.opts.runtime.list();
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
    const { store, runtime } = this.opts;
    const start = this.cursors.get(instance.id);
    const isNew = skipRepeats(start);
    const name = `${instance.process}.${instance.index}`;
    for await (const line of runtime.instanceLogs!(instance, { since: start?.time ?? null, signal })) {
      if (!isNew(line.time)) continue;
      // Cursor first: an append can flush (and so save cursors) at once, and the line is then on disk.
      this.cursors.set(instance.id, advanceCursor(this.cursors.get(instance.id), line.time));
      const ts = Date.parse(line.time);
      store.append(instance.app, {
        ts, process: instance.process, instance: name, release: instance.release,
        stream: line.stream, text: line.line,
      });
      this.opts.onLine?.(instance.app, line.line, ts);
    }
  }
}
