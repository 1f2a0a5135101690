// Berth picks the host port of every web instance itself: Docker would give a restarted container a new
// ephemeral port, and the router's upstream would go stale. A port is free when no Berth instance holds it,
// no rollout in flight reserved it, and nothing else on the machine listens on it.
import net from 'node:net';

export class PortAllocator {
  private readonly reserved = new Set<number>();
  private cursor: number;
  private readonly lo: number;
  private readonly hi: number;

  constructor(range: [number, number]) {
    [this.lo, this.hi] = range;
    this.cursor = this.lo;
  }

  async allocate(inUse: Iterable<number>): Promise<number> {
    const taken = new Set(inUse);
    const size = this.hi - this.lo + 1;
    for (let tried = 0; tried < size; tried++) {
      const port = this.cursor;
      this.cursor = port >= this.hi ? this.lo : port + 1;
      if (taken.has(port) || this.reserved.has(port)) continue;
      if (!(await canBind(port))) continue;
      this.reserved.add(port);
      return port;
    }
    throw new Error(`No free host port left in ${this.lo}-${this.hi}.`);
  }

  /** Called once the instance holding the port is listed by the runtime, or was never created. */
  release(port: number): void {
    this.reserved.delete(port);
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
