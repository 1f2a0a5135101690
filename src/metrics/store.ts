// The metrics time series in SQLite: 10 s points kept 24 h, 1 min rollups kept 30 days.
// Request samples arrive one by one (hot path): they are counted in memory per app and 10 s bucket and
// written once per bucket. Raw prepared statements on the SQLite handle: this runs every 10 s for every
// instance, where drizzle's per-query overhead would dominate.
import type Database from 'better-sqlite3';
import { decode, encode, merge, record, type Histogram } from './histogram.ts';
import { PrometheusTotals } from './prometheus.ts';

export const STEP_SEC = 10;
export const ROLLUP_SEC = 60;
export const FINE_KEEP_SEC = 24 * 3600;
export const ROLLUP_KEEP_SEC = 30 * 24 * 3600;
/** A minute is rolled up once its last 10 s bucket has surely been written (it is written when it closes). */
const ROLLUP_GRACE_SEC = 2 * STEP_SEC;

/** One request the router served, as the access log reports it. */
export interface RequestSample { app: string; ts: number; status: number; durationMs: number }

/** One instance's rates over the last collection interval. cpu is % of one core. */
export interface InstancePoint {
  app: string;
  instance: string;           // "web.1"
  cpu: number | null;         // null on an instance's first reading (no earlier one to take a rate from)
  memoryBytes: number;
  memoryLimitBytes: number | null;
  rxBytesPerSec: number | null;
  txBytesPerSec: number | null;
  blockReadBytesPerSec: number | null;
  blockWriteBytesPerSec: number | null;
}

export interface RequestBucket { c2: number; c3: number; c4: number; c5: number; other: number; sumMs: number; hist: Histogram }

export const emptyBucket = (): RequestBucket => ({ c2: 0, c3: 0, c4: 0, c5: 0, other: 0, sumMs: 0, hist: new Map() });

export function addToBucket(b: RequestBucket, status: number, durationMs: number): void {
  const cls = Math.floor(status / 100);
  if (cls === 2) b.c2++; else if (cls === 3) b.c3++; else if (cls === 4) b.c4++; else if (cls === 5) b.c5++; else b.other++;
  b.sumMs += durationMs;
  record(b.hist, durationMs);
}

export function mergeBuckets(into: RequestBucket, from: RequestBucket): void {
  into.c2 += from.c2; into.c3 += from.c3; into.c4 += from.c4; into.c5 += from.c5; into.other += from.other;
  into.sumMs += from.sumMs;
  merge(into.hist, from.hist);
}

export const bucketStart = (tsMs: number, stepSec = STEP_SEC): number => Math.floor(tsMs / 1000 / stepSec) * stepSec;

export class MetricsStore {
  readonly sqlite: Database.Database;
  /** Cumulative counters since the server started, for GET /metrics. */
  readonly totals = new PrometheusTotals();
  /** Open 10 s request buckets: app → bucket start (s) → counts. */
  private readonly open = new Map<string, Map<number, RequestBucket>>();
  private readonly insertInstance: Database.Statement;
  private readonly upsertRequests: Database.Statement;
  private readonly readRequests: Database.Statement;

  constructor(sqlite: Database.Database) {
    this.sqlite = sqlite;
    this.insertInstance = sqlite.prepare(`INSERT OR REPLACE INTO metric_instance_points
      (app, res, ts, instance, cpu, cpu_max, mem, mem_max, mem_limit, rx, tx, blk_r, blk_w)
      VALUES (@app, @res, @ts, @instance, @cpu, @cpu, @mem, @mem, @memLimit, @rx, @tx, @blkR, @blkW)`);
    this.upsertRequests = sqlite.prepare(`INSERT OR REPLACE INTO metric_request_points
      (app, res, ts, c2, c3, c4, c5, other, sum_ms, hist) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.readRequests = sqlite.prepare(`SELECT c2, c3, c4, c5, other, sum_ms, hist FROM metric_request_points
      WHERE app = ? AND res = ? AND ts = ?`);
  }

  /** Counts one request into its app's open bucket; no I/O. */
  recordRequest(sample: RequestSample): void {
    const start = bucketStart(sample.ts);
    let buckets = this.open.get(sample.app);
    if (!buckets) this.open.set(sample.app, buckets = new Map());
    let bucket = buckets.get(start);
    if (!bucket) buckets.set(start, bucket = emptyBucket());
    addToBucket(bucket, sample.status, sample.durationMs);
    this.totals.countRequest(sample.app, sample.status, sample.durationMs);
  }

  /** Writes every bucket that ended before nowMs (all of them with force, on shutdown). */
  flushRequests(nowMs: number, force = false): void {
    const current = bucketStart(nowMs);
    this.sqlite.transaction(() => {
      for (const [app, buckets] of this.open) {
        for (const [start, bucket] of buckets) {
          if (start >= current && !force) continue;
          // A late sample for an already written bucket adds to it rather than replacing it.
          const existing = this.readRequests.get(app, STEP_SEC, start) as RequestRow | undefined;
          if (existing) mergeBuckets(bucket, bucketFromRow(existing));
          this.writeRequestBucket(app, STEP_SEC, start, bucket);
          buckets.delete(start);
        }
        if (buckets.size === 0) this.open.delete(app);
      }
    })();
  }

  writeRequestBucket(app: string, res: number, ts: number, b: RequestBucket): void {
    this.upsertRequests.run(app, res, ts, b.c2, b.c3, b.c4, b.c5, b.other, b.sumMs, encode(b.hist));
  }

  /** One collection round: every instance's point in the 10 s bucket holding tsMs. */
  recordInstances(tsMs: number, points: InstancePoint[]): void {
    const ts = bucketStart(tsMs);
    this.sqlite.transaction(() => {
      for (const p of points) {
        this.insertInstance.run({
          app: p.app, res: STEP_SEC, ts, instance: p.instance, cpu: p.cpu, mem: p.memoryBytes, memLimit: p.memoryLimitBytes,
          rx: p.rxBytesPerSec, tx: p.txBytesPerSec, blkR: p.blockReadBytesPerSec, blkW: p.blockWriteBytesPerSec,
        });
      }
    })();
    this.totals.setInstances(points);
  }

  /** Start (s) of the newest 1 min rollup, or null before the first. */
  lastRollup(): number | null {
    const row = this.sqlite.prepare(`SELECT max(ts) AS ts FROM metric_instance_points WHERE res = ${ROLLUP_SEC}`).get() as { ts: number | null };
    const req = this.sqlite.prepare(`SELECT max(ts) AS ts FROM metric_request_points WHERE res = ${ROLLUP_SEC}`).get() as { ts: number | null };
    if (row.ts === null && req.ts === null) return null;
    return Math.max(row.ts ?? 0, req.ts ?? 0);
  }

  /**
   * Rolls complete minutes of 10 s points into 1 min points: from the last rollup (redone, in case late
   * request samples arrived) up to the last minute that ended at least ROLLUP_GRACE_SEC ago. Idempotent.
   */
  rollup(nowMs: number): { from: number; to: number } {
    const to = Math.floor((nowMs / 1000 - ROLLUP_GRACE_SEC) / ROLLUP_SEC) * ROLLUP_SEC;
    const earliest = bucketStart(nowMs - FINE_KEEP_SEC * 1000, ROLLUP_SEC);
    const from = Math.max(this.lastRollup() ?? earliest, earliest);
    if (from >= to) return { from, to: from };
    this.sqlite.transaction(() => {
      this.sqlite.prepare(`INSERT OR REPLACE INTO metric_instance_points
        SELECT app, ${ROLLUP_SEC}, ts - ts % ${ROLLUP_SEC}, instance, avg(cpu), max(cpu_max), CAST(avg(mem) AS INTEGER), max(mem_max),
               max(mem_limit), avg(rx), avg(tx), avg(blk_r), avg(blk_w)
        FROM metric_instance_points WHERE res = ${STEP_SEC} AND ts >= ? AND ts < ?
        GROUP BY app, ts - ts % ${ROLLUP_SEC}, instance`).run(from, to);
      const rows = this.sqlite.prepare(`SELECT app, ts - ts % ${ROLLUP_SEC} AS minute, c2, c3, c4, c5, other, sum_ms, hist
        FROM metric_request_points WHERE res = ${STEP_SEC} AND ts >= ? AND ts < ?`).all(from, to) as (RequestRow & { app: string; minute: number })[];
      const minutes = new Map<string, RequestBucket>();
      for (const row of rows) {
        const key = `${row.minute} ${row.app}`;
        const bucket = minutes.get(key) ?? emptyBucket();
        mergeBuckets(bucket, bucketFromRow(row));
        minutes.set(key, bucket);
      }
      for (const [key, bucket] of minutes) {
        const [minute, app] = key.split(' ');
        this.writeRequestBucket(app, ROLLUP_SEC, Number(minute), bucket);
      }
    })();
    return { from, to };
  }

  /** Drops 10 s points older than 24 h and rollups older than 30 days. */
  prune(nowMs: number): number {
    const now = Math.floor(nowMs / 1000);
    let removed = 0;
    for (const table of ['metric_instance_points', 'metric_request_points']) {
      removed += this.sqlite.prepare(`DELETE FROM ${table} WHERE res = ? AND ts < ?`).run(STEP_SEC, now - FINE_KEEP_SEC).changes;
      removed += this.sqlite.prepare(`DELETE FROM ${table} WHERE res = ? AND ts < ?`).run(ROLLUP_SEC, now - ROLLUP_KEEP_SEC).changes;
    }
    return removed;
  }

  /** Forgets an app's series (it was destroyed), so a new app of the same name starts clean. */
  removeApp(app: string): void {
    this.open.delete(app);
    this.totals.removeApp(app);
    for (const table of ['metric_instance_points', 'metric_request_points']) {
      this.sqlite.prepare(`DELETE FROM ${table} WHERE app = ?`).run(app);
    }
  }

  /** apps:rename: the history goes with the app, and nothing is left under the old name for a later app of it. */
  renameApp(from: string, to: string): void {
    const open = this.open.get(from);
    this.open.delete(from);
    if (open) this.open.set(to, open);
    this.totals.renameApp(from, to);
    for (const table of ['metric_instance_points', 'metric_request_points']) {
      this.sqlite.prepare(`UPDATE OR REPLACE ${table} SET app = ? WHERE app = ?`).run(to, from);
    }
  }

  /** Request buckets still in memory for an app (the newest seconds), for queries that must include them. */
  openBuckets(app: string): [number, RequestBucket][] {
    return [...(this.open.get(app) ?? new Map<number, RequestBucket>())];
  }
}

export interface RequestRow { c2: number; c3: number; c4: number; c5: number; other: number; sum_ms: number; hist: string }

export function bucketFromRow(row: RequestRow): RequestBucket {
  return { c2: row.c2, c3: row.c3, c4: row.c4, c5: row.c5, other: row.other, sumMs: row.sum_ms, hist: decode(row.hist) };
}
