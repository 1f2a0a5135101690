// Caddy's JSON access log of Berth's server: parsing its lines, and a tail that follows the file
// across Caddy's rolls (the file is renamed and a new one started: the renamed one is read to its
// end first) and from a saved position across Berth restarts. Entries are attributed to the app
// whose route has the request's host, and handed to every onAccess listener.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { AppRoute } from '../types.ts';
import { TRACK_HEADER, type Track } from './canary-split.ts';

export interface AccessEntry {
  ts: number;          // ms since the epoch, when Caddy finished the request
  app: string;
  host: string;        // without port
  method: string;
  uri: string;
  status: number;      // 0: the client went away before a response
  durationMs: number;
  bytes: number;       // response body bytes
  remote: string;      // client IP
  /** While a canary runs: which side served the request (the X-Berth-Track response header the split sets). */
  track?: Track;
}

export type RawAccess = Omit<AccessEntry, 'app'>;

/** One line of Caddy's access log; null for anything else (other loggers, torn lines). */
export function parseAccessLine(line: string): RawAccess | null {
  let raw: any;
  try { raw = JSON.parse(line); } catch { return null; }
  const req = raw?.request;
  if (!req || typeof raw.ts !== 'number' || typeof req.host !== 'string') return null;
  return {
    ts: Math.round(raw.ts * 1000),
    host: stripPort(req.host).toLowerCase(),
    method: String(req.method ?? ''),
    uri: String(req.uri ?? ''),
    status: Number(raw.status ?? 0),
    durationMs: Math.round(Number(raw.duration ?? 0) * 1e6) / 1000,
    bytes: Number(raw.size ?? 0),
    remote: String(req.remote_ip ?? stripPort(String(req.remote_addr ?? ''))),
    ...trackOf(raw.resp_headers),
  };
}

function trackOf(headers: unknown): { track?: Track } {
  const value = (headers as Record<string, unknown> | undefined)?.[TRACK_HEADER];
  const track = Array.isArray(value) ? value[0] : undefined;
  return track === 'stable' || track === 'canary' ? { track } : {};
}

/** Heroku's router line: `at=info method=GET path="/" host=... status=200 duration=3ms bytes=12`. */
export function formatRouterLine(e: AccessEntry): string {
  const at = e.status >= 500 || e.status === 0 ? 'error' : 'info';
  return `at=${at} method=${e.method} path=${JSON.stringify(e.uri)} host=${e.host} fwd="${e.remote}" ` +
    `status=${e.status} duration=${Math.round(e.durationMs)}ms bytes=${e.bytes}`;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon > -1 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

/** Hostname → app, from the routes Berth gave the router. */
export class HostMap {
  private map = new Map<string, string>();

  update(routes: AppRoute[]): void {
    const next = new Map<string, string>();
    for (const route of routes) for (const host of route.hostnames) next.set(host.toLowerCase(), route.app);
    this.map = next;
  }

  appFor(host: string): string | null {
    return this.map.get(host) ?? null;
  }
}

/** Where the tail is: the file's inode and the byte offset read up to. */
export interface TailPosition { ino: number; offset: number }

export interface AccessLogTailOptions {
  file: string;
  start: TailPosition | null;
  appFor(host: string): string | null;
  /** Called for a host no route has (maybe a route added since the last refresh); may refresh the map. */
  onUnknownHost?(host: string): void;
  pollMs?: number;
}

const READ_BYTES = 1024 * 1024;

export class AccessLogTail {
  private readonly opts: AccessLogTailOptions;
  private readonly events = new EventEmitter();
  private fd: number | null = null;
  private pos: TailPosition | null;
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: AccessLogTailOptions) {
    this.opts = opts;
    this.pos = opts.start;
    this.events.setMaxListeners(0);
  }

  /** Every request through the router to a known app, as it is read. Returns the unsubscribe function. */
  onAccess(listener: (entry: AccessEntry) => void): () => void {
    this.events.on('access', listener);
    return () => this.events.off('access', listener);
  }

  /** The position after the last entry handed out (what to save, and pass as `start` next time). */
  position(): TailPosition | null {
    return this.pos;
  }

  start(): void {
    this.timer = setInterval(() => this.poll(), this.opts.pollMs ?? 250);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.poll();
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  /** Reads what was added since the last poll (public so tests and shutdown need not wait for the timer). */
  poll(): void {
    let current: fs.Stats;
    try { current = fs.statSync(this.opts.file); } catch { return; } // Caddy has not written anything yet
    if (this.fd === null) this.openAt(current);
    this.readToEnd();
    if (this.pos && current.ino !== this.pos.ino) {
      // Rolled: the old file (still open) was read to its end above; go on with the new one.
      this.readToEnd();
      this.close();
      this.pos = { ino: current.ino, offset: 0 };
      this.fd = fs.openSync(this.opts.file, 'r');
      this.readToEnd();
    }
  }

  private openAt(current: fs.Stats): void {
    const saved = this.pos;
    if (saved && saved.ino !== current.ino) {
      // Rolled while Berth was away: finish the renamed file first, if Caddy still keeps it.
      const rolled = findByInode(path.dirname(this.opts.file), saved.ino);
      if (rolled) {
        this.fd = fs.openSync(rolled, 'r');
        return;
      }
      this.pos = null;
    }
    this.fd = fs.openSync(this.opts.file, 'r');
    if (!this.pos) this.pos = { ino: current.ino, offset: 0 };
  }

  private readToEnd(): void {
    if (this.fd === null || !this.pos) return;
    const buf = Buffer.allocUnsafe(READ_BYTES);
    for (;;) {
      const base: number = this.pos.offset;
      const n = fs.readSync(this.fd, buf, 0, buf.length, base);
      let start = 0;
      for (let end = buf.indexOf(0x0a, 0); end !== -1 && end < n; end = buf.indexOf(0x0a, start)) {
        const line = buf.toString('utf8', start, end);
        start = end + 1;
        // Position first: a listener that stores the entry may save positions right away.
        this.pos = { ino: this.pos.ino, offset: base + start };
        this.emitLine(line);
      }
      if (start === 0) return; // nothing, or a line still being written
    }
  }

  private emitLine(line: string): void {
    const raw = line ? parseAccessLine(line) : null;
    if (!raw) return;
    const app = this.opts.appFor(raw.host);
    if (app === null) return this.opts.onUnknownHost?.(raw.host);
    this.events.emit('access', { ...raw, app } satisfies AccessEntry);
  }

  private close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

function findByInode(dir: string, ino: number): string | null {
  try {
    for (const name of fs.readdirSync(dir)) {
      const file = path.join(dir, name);
      if (fs.statSync(file).ino === ino) return file;
    }
  } catch { /* the directory is gone */ }
  return null;
}
