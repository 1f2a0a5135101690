// App lifecycle events (Dokku's post-create / post-deploy / post-delete): each subsystem subscribes and looks
// after its own state, so adding one (add-ons, review apps) means a subscription, not an edit of the wiring.
export interface AppLifecycle {
  created: { app: string; appId: number };
  released: { app: string; appId: number; version: number };
  destroyed: { app: string; appId: number };
  /** apps:rename: `app` is the new name, `from` the old one; the app already runs and answers as `app`. */
  renamed: { app: string; appId: number; from: string };
}

type Handler<K extends keyof AppLifecycle> = (event: AppLifecycle[K]) => void | Promise<void>;

export class AppEvents {
  private readonly handlers: { [K in keyof AppLifecycle]: Handler<K>[] } = { created: [], released: [], destroyed: [], renamed: [] };
  private readonly log: (line: string) => void;

  constructor(log: (line: string) => void = () => {}) { this.log = log; }

  on<K extends keyof AppLifecycle>(name: K, handler: Handler<K>): void {
    this.handlers[name].push(handler);
  }

  /** Runs every subscriber; one failing is logged and does not keep the others from running. */
  async emit<K extends keyof AppLifecycle>(name: K, event: AppLifecycle[K]): Promise<void> {
    await Promise.all(this.handlers[name].map(async (handler) => {
      try {
        await handler(event);
      } catch (err) {
        this.log(`${name} ${event.app}: a subscriber failed: ${(err as Error).message}`);
      }
    }));
  }
}
