// Serialises every state change of one app (deploy, config, scale, rollback, restart, destroy), so two
// releases of an app never interleave, while different apps proceed in parallel.
export class AppLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(app: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(app) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const tail = next.catch(() => undefined);
    this.tails.set(app, tail);
    tail.then(() => { if (this.tails.get(app) === tail) this.tails.delete(app); });
    return next;
  }

  busy(app: string): boolean {
    return this.tails.has(app);
  }
}
