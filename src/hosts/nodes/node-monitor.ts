// Heartbeats of a cluster: every few seconds the nodes are read; one whose kubelet stopped answering (not Ready, or
// its lease not renewed: node-view.ts) is a host down, reported once to the alert engine (host_down), and handed to
// the k3s scheduler, which takes its pods and node port out of every route at once; then Berth's app pods there are
// replaced on the nodes that answer (lost-plan.ts), without waiting for the cluster's own eviction.

export interface LostNode { name: string; address: string | null }

/** Who hears about lost nodes and their return (the alert engine's host_down); called once per transition. */
export interface HostHooks {
  onHostDown(name: string): void;
  onHostUp(name: string): void;
}

export interface NodeMonitorOptions {
  lostNodes(): Promise<LostNode[]>;
  onHostDown(name: string): void;
  onHostUp(name: string): void;
  /** Every check's lost nodes (the routes follow them). */
  routeAround(lost: LostNode[]): Promise<void>;
  intervalMs: number;
  log: (line: string) => void;
}

/** Which nodes became lost and which came back, from the names reported last time. */
export function lostChanges(reported: ReadonlySet<string>, lost: string[]): { down: string[]; up: string[] } {
  const now = new Set(lost);
  return { down: [...now].filter((n) => !reported.has(n)).sort(), up: [...reported].filter((n) => !now.has(n)).sort() };
}

export class NodeMonitor {
  private readonly opts: NodeMonitorOptions;
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private failing = false;

  constructor(opts: NodeMonitorOptions) {
    this.opts = opts;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.tick(), 0);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One check (the timer's; tests call it directly). */
  async check(): Promise<void> {
    const lost = await this.opts.lostNodes();
    const { down, up } = lostChanges(this.reported, lost.map((n) => n.name));
    for (const name of up) {
      this.reported.delete(name);
      this.opts.log(`node ${name} answers again`);
      this.opts.onHostUp(name);
    }
    for (const name of down) {
      this.reported.add(name);
      this.opts.log(`node ${name} is lost (its kubelet does not answer): routed around it`);
      this.opts.onHostDown(name);
    }
    await this.opts.routeAround(lost);
  }

  private async tick(): Promise<void> {
    try {
      await this.check();
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.opts.log(`nodes: reading the cluster's nodes failed: ${(err as Error).message}`);
      this.failing = true;
    }
    if (this.timer) {
      this.timer = setTimeout(() => this.tick(), this.opts.intervalMs);
      this.timer.unref();
    }
  }
}
