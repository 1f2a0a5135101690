// Every 10 s: one stats reading of every running instance turned into rates, the closed request buckets
// written, and once a minute the rollup and pruning. Rounds never overlap: a slow engine delays the next.
import type { InstanceStats, Runtime } from '../runtime/types.ts';
import { ROLLUP_SEC, STEP_SEC, type InstancePoint, type MetricsStore } from './store.ts';

export interface CollectorOptions {
  runtime: Pick<Runtime, 'stats'>;
  store: MetricsStore;
  log: (line: string) => void;
  intervalMs?: number;
}

export class MetricsCollector {
  private readonly opts: CollectorOptions;
  private readonly intervalMs: number;
  /** The previous reading of each container, to take rates from. */
  private previous = new Map<string, InstanceStats>();
  private timer: NodeJS.Timeout | null = null;
  private lastMaintenance = 0;
  private failing = false;
  private running: Promise<void> | null = null;

  constructor(opts: CollectorOptions) {
    this.opts = opts;
    this.intervalMs = opts.intervalMs ?? STEP_SEC * 1000;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.running = this.collectOnce().finally(() => {
        this.running = null;
        if (this.timer) this.timer = setTimeout(tick, this.delayToNextRound()).unref();
      });
    };
    this.timer = setTimeout(tick, this.delayToNextRound()).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    this.opts.store.flushRequests(Date.now(), true);
  }

  /** Rounds run just after each 10 s boundary, so each reading lands in the bucket it describes. */
  private delayToNextRound(): number {
    return this.intervalMs - (Date.now() % this.intervalMs) + 200;
  }

  async collectOnce(nowMs = Date.now()): Promise<void> {
    const { store, log } = this.opts;
    try {
      const readings = await this.opts.runtime.stats();
      store.recordInstances(nowMs - 1000, this.toPoints(readings));
      if (this.failing) log('metrics: reading instance stats works again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) log(`metrics: reading instance stats failed (${(err as Error).message}); retrying every round`);
      this.failing = true;
    }
    try {
      store.flushRequests(nowMs);
      if (nowMs - this.lastMaintenance >= ROLLUP_SEC * 1000) {
        store.rollup(nowMs);
        store.prune(nowMs);
        this.lastMaintenance = nowMs;
      }
    } catch (err) {
      log(`metrics: writing points failed: ${(err as Error).message}`);
    }
  }

  /** Rates since each container's previous reading; instances of one process.index (old and new release
   * overlapping during a deploy) are summed into one point. */
  toPoints(readings: InstanceStats[]): InstancePoint[] {
    const byInstance = new Map<string, InstancePoint>();
    const next = new Map<string, InstanceStats>();
    for (const r of readings) {
      next.set(r.id, r);
      const before = this.previous.get(r.id);
      const seconds = before ? (r.at - before.at) / 1000 : 0;
      const rate = (now: number, then: number | undefined) =>
        before && seconds > 0 && then !== undefined ? Math.max(0, (now - then) / seconds) : null;
      const point: InstancePoint = {
        app: r.app,
        instance: `${r.process}.${r.index}`,
        cpu: before && seconds > 0 ? Math.max(0, (r.cpuNs - before.cpuNs) / (seconds * 1e9)) * 100 : null,
        memoryBytes: r.memoryBytes,
        memoryLimitBytes: r.memoryLimitBytes,
        rxBytesPerSec: rate(r.rxBytes, before?.rxBytes),
        txBytesPerSec: rate(r.txBytes, before?.txBytes),
        blockReadBytesPerSec: rate(r.blockReadBytes, before?.blockReadBytes),
        blockWriteBytesPerSec: rate(r.blockWriteBytes, before?.blockWriteBytes),
      };
      const key = `${point.app} ${point.instance}`;
      const same = byInstance.get(key);
      byInstance.set(key, same ? sumPoints(same, point) : point);
    }
    this.previous = next;
    return [...byInstance.values()];
  }
}

function sumPoints(a: InstancePoint, b: InstancePoint): InstancePoint {
  const add = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : x + y);
  return {
    app: a.app, instance: a.instance,
    cpu: add(a.cpu, b.cpu),
    memoryBytes: a.memoryBytes + b.memoryBytes,
    memoryLimitBytes: a.memoryLimitBytes === null || b.memoryLimitBytes === null ? null : Math.max(a.memoryLimitBytes, b.memoryLimitBytes),
    rxBytesPerSec: add(a.rxBytesPerSec, b.rxBytesPerSec),
    txBytesPerSec: add(a.txBytesPerSec, b.txBytesPerSec),
    blockReadBytesPerSec: add(a.blockReadBytesPerSec, b.blockReadBytesPerSec),
    blockWriteBytesPerSec: add(a.blockWriteBytesPerSec, b.blockWriteBytesPerSec),
  };
}
