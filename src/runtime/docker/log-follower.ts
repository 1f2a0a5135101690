// Live log following across the instances of one app, including instances that appear later
// (a deploy starts new containers) and instances that restart (the engine ends a follow stream
// when its container stops, so we reopen it from where we left off).
import type { Readable } from 'node:stream';
import type { LogLine } from '../types.ts';
import { LogDecoder, mergeTail, nanoIso } from './log-decoder.ts';
import type { LoggedContainer } from './logs.ts';

/** Where a container's log was read up to: its newest time, and how many lines at exactly that time were delivered. */
export interface LogCursor { time: string; seen: number }

export interface FollowerOptions {
  list(signal: AbortSignal): Promise<LoggedContainer[]>;
  tail(container: LoggedContainer, signal: AbortSignal): Promise<LogLine[]>;
  /** A follow stream from the cursor on (null: from the first line). */
  follow(container: LoggedContainer, cursor: LogCursor | null, signal: AbortSignal): Promise<Readable>;
  tailCount: number;
  signal?: AbortSignal;
  pollMs?: number;
  /** Turns a follow stream's bytes into lines; default: the Docker engine's framed format (the Kubernetes scheduler reads plain lines). */
  decoder?: (container: LoggedContainer) => { push(chunk: Buffer): LogLine[]; end(): LogLine[] };
}

interface Followed {
  container: LoggedContainer;
  cursor: LogCursor | null;
  stream: Readable | null;
  opening: boolean;
}

// Stop reading from the engine while the consumer lags this far behind.
const PAUSE_AT = 10_000;
const RESUME_AT = 1_000;

export class LogFollower {
  private readonly opts: FollowerOptions;
  private readonly queue: LogLine[] = [];
  private readonly followed = new Map<string, Followed>();
  private readonly abort = new AbortController();
  private wakeConsumer: (() => void) | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private polling = false;
  private paused = false;

  constructor(opts: FollowerOptions) {
    this.opts = opts;
  }

  private get closed(): boolean {
    return this.abort.signal.aborted;
  }

  async *lines(): AsyncGenerator<LogLine> {
    const onAbort = () => this.close();
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.startWithTail();
      while (!this.closed) {
        const line = this.queue.shift();
        if (line) {
          this.resumeWhenDrained();
          yield line;
        } else {
          await new Promise<void>((resolve) => { this.wakeConsumer = resolve; });
        }
      }
    } catch (err) {
      if (!this.closed) throw err;
    } finally {
      this.opts.signal?.removeEventListener('abort', onAbort);
      this.close();
    }
  }

  private async startWithTail(): Promise<void> {
    if (this.opts.signal?.aborted) return this.close();
    const startedAt: LogCursor = { time: nanoIso(new Date()), seen: 0 };
    const containers = await this.opts.list(this.abort.signal);
    const tails = await Promise.all(containers.map((c) => this.opts.tail(c, this.abort.signal)));
    containers.forEach((container, i) => {
      // With no tail asked for, only lines from now on; with a tail but an empty log, everything.
      const cursor = cursorAfter(tails[i]) ?? (this.opts.tailCount === 0 ? startedAt : null);
      this.track(container, cursor);
    });
    for (const line of mergeTail(tails.flat(), this.opts.tailCount)) this.queue.push(line);
    for (const followed of this.followed.values()) void this.open(followed);
    this.pollTimer = setInterval(() => void this.poll(), this.opts.pollMs ?? 1000);
  }

  private track(container: LoggedContainer, cursor: LogCursor | null): Followed {
    const followed: Followed = { container, cursor, stream: null, opening: false };
    this.followed.set(container.id, followed);
    return followed;
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const containers = await this.opts.list(this.abort.signal);
      if (this.closed) return;
      for (const container of containers) {
        const known = this.followed.get(container.id);
        // New instances are read from their first line; known ones only need reopening after a restart.
        if (!known) void this.open(this.track(container, null));
        else if (container.running && !known.stream && !known.opening) void this.open(known);
      }
      this.forgetRemoved(new Set(containers.map((c) => c.id)));
    } catch {
      // A failed listing (engine busy, restarting) is retried on the next tick.
    } finally {
      this.polling = false;
    }
  }

  private forgetRemoved(present: Set<string>): void {
    for (const [id, followed] of this.followed) {
      if (!present.has(id) && !followed.stream && !followed.opening) this.followed.delete(id);
    }
  }

  private async open(followed: Followed): Promise<void> {
    followed.opening = true;
    try {
      const stream = await this.opts.follow(followed.container, followed.cursor, this.abort.signal);
      if (this.closed) return void stream.destroy();
      followed.stream = stream;
      this.consume(followed, stream);
    } catch {
      // The container vanished or we are closing; the next poll decides what to do.
    } finally {
      followed.opening = false;
    }
  }

  private consume(followed: Followed, stream: Readable): void {
    const decoder = this.opts.decoder?.(followed.container) ?? new LogDecoder(followed.container.identity);
    const accept = repeatFilter(followed.cursor);
    const deliver = (lines: LogLine[]) => {
      for (const line of lines) {
        if (!accept(line)) continue;
        followed.cursor = advance(followed.cursor, line.time);
        this.push(line);
      }
    };
    let ended = false;
    const onEnd = () => {
      if (ended) return;
      ended = true;
      if (!this.closed) deliver(decoder.end());
      followed.stream = null;
    };
    stream.on('data', (chunk: Buffer) => deliver(decoder.push(chunk)));
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', onEnd);
    if (this.paused) stream.pause();
  }

  private push(line: LogLine): void {
    if (this.closed) return;
    this.queue.push(line);
    if (this.queue.length >= PAUSE_AT && !this.paused) this.setPaused(true);
    this.wake();
  }

  private resumeWhenDrained(): void {
    if (this.paused && this.queue.length <= RESUME_AT) this.setPaused(false);
  }

  private setPaused(paused: boolean): void {
    this.paused = paused;
    for (const { stream } of this.followed.values()) {
      if (paused) stream?.pause();
      else stream?.resume();
    }
  }

  private wake(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = null;
    wake?.();
  }

  private close(): void {
    if (!this.closed) this.abort.abort();
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    for (const followed of this.followed.values()) followed.stream?.destroy();
    this.followed.clear();
    this.queue.length = 0;
    this.wake();
  }
}

/** Cursor after a container's tail: its newest time and how many lines carry it. */
function cursorAfter(lines: LogLine[]): LogCursor | null {
  if (lines.length === 0) return null;
  let cursor: LogCursor | null = null;
  for (const line of lines) {
    if (!cursor || line.time > cursor.time) cursor = { time: line.time, seen: 1 };
    else if (line.time === cursor.time) cursor.seen++;
  }
  return cursor;
}

function advance(cursor: LogCursor | null, time: string): LogCursor {
  if (cursor && cursor.time === time) return { time, seen: cursor.seen + 1 };
  if (cursor && cursor.time > time) return cursor;
  return { time, seen: 1 };
}

/** `since` is inclusive, so a reopened stream repeats the lines stamped with the cursor's time: skip those. */
function repeatFilter(cursor: LogCursor | null): (line: LogLine) => boolean {
  if (!cursor) return () => true;
  let repeatsLeft = cursor.seen;
  return (line) => {
    if (line.time < cursor.time) return false;
    if (line.time === cursor.time && repeatsLeft > 0) {
      repeatsLeft--;
      return false;
    }
    return true;
  };
}
