// Heartbeats: every few seconds each registered Docker host is asked for `docker info` over its SSH
// channel, with a short deadline. A host without an answer for downAfterMs is down: it takes no new
// instances, its instances leave every listing, and every app is converged again, which recreates them on
// the surviving hosts and routes around them. When it answers again it is up, and a converge removes the
// duplicates it still runs.
import type { HostsStore } from '../state/hosts-store.ts';
import type { MultiHostRuntime } from '../runtime/multi-host/index.ts';
import { engineCapacity } from './install.ts';

export interface HostHooks {
  onHostDown(name: string): void;
  onHostUp(name: string): void;
}

export interface MonitorOptions {
  store: HostsStore;
  runtime: MultiHostRuntime;
  /** Converges every app (the release engine serializes per app). */
  reconvergeAll(reason: string): Promise<void>;
  /** Takes a host that just went down out of every route at once, before any replacement exists. */
  routeAround(name: string): Promise<void>;
  hooks: HostHooks;
  intervalMs: number;
  downAfterMs: number;
  log: (line: string) => void;
}

export class HostMonitor {
  private readonly opts: MonitorOptions;
  private timer: NodeJS.Timeout | null = null;
  private readonly lastSeen = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private reconverging: Promise<void> = Promise.resolve();

  constructor(opts: MonitorOptions) {
    this.opts = opts;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.beatAll(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private beatAll(): void {
    for (const host of this.opts.runtime.allHosts()) {
      if (this.inFlight.has(host.name)) continue;
      if (host.local) {
        // Berth's own engine is never down (Berth runs there); only its capacity matters for placement.
        if (host.memoryMB === null) engineCapacity(host.docker).then((c) => this.opts.runtime.setMemory(host.name, c.memoryMB), () => {});
        continue;
      }
      this.inFlight.add(host.name);
      this.beat(host.name).finally(() => this.inFlight.delete(host.name));
    }
  }

  private async beat(name: string): Promise<void> {
    const host = this.opts.runtime.host(name);
    if (!host) return;
    const now = Date.now();
    if (!this.lastSeen.has(name)) this.lastSeen.set(name, now); // a fresh start gives every host the full grace
    try {
      const capacity = await withTimeout(engineCapacity(host.docker), Math.min(this.opts.downAfterMs, 3_000));
      this.lastSeen.set(name, Date.now());
      if (!this.opts.runtime.host(name)) return; // removed meanwhile
      this.opts.store.heartbeat(name, capacity);
      this.opts.runtime.setMemory(name, capacity.memoryMB);
      if (!host.up) this.transition(name, true);
    } catch {
      const silentMs = Date.now() - this.lastSeen.get(name)!;
      if (host.up && silentMs >= this.opts.downAfterMs) this.transition(name, false);
    }
  }

  private transition(name: string, up: boolean): void {
    this.opts.runtime.setUp(name, up);
    this.opts.store.setStatus(name, up ? 'up' : 'down');
    this.opts.log(`host ${name} is ${up ? 'up again' : `down (no heartbeat for ${this.opts.downAfterMs / 1000} s)`}`);
    try {
      if (up) this.opts.hooks.onHostUp(name);
      else this.opts.hooks.onHostDown(name);
    } catch (err) {
      this.opts.log(`host ${name}: ${up ? 'onHostUp' : 'onHostDown'} hook failed: ${(err as Error).message}`);
    }
    // Routing around a dead host does not wait for a converge pass in progress; the pass it triggers
    // waits for it, so the routes that pass sets are never overwritten by the ones read before.
    const rerouted = up ? Promise.resolve() : this.opts.routeAround(name)
      .catch((err) => this.opts.log(`host ${name}: could not route around it: ${(err as Error).message}`));
    // One converge pass at a time; a second transition queues behind the first.
    this.reconverging = Promise.all([this.reconverging, rerouted])
      .then(() => this.opts.reconvergeAll(`host ${name} ${up ? 'up' : 'down'}`));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('heartbeat timed out')), ms); }),
  ]);
}
