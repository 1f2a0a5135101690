// App lifecycle events (Dokku's post-create / post-deploy / post-delete): each subsystem subscribes and looks
// after its own state, so adding one (add-ons, review apps) means a subscription, not an edit of the wiring.
export interface AppLifecycle {
  created: { app: string; appId: number };
  released: { app: string; appId: number; version: number };
  destroyed: { app: string; appId: number };
  /** apps:rename: `app` is the new name, `from` the old one; the app already runs and answers as `app`. */
  renamed: { app: string; appId: number; from: string };
}

/**
 * Questions asked before a change (Dokku's pre-deploy triggers): a subscriber that throws refuses it, and its
 * error (a BerthError, with its status) is what the user gets; nothing has changed yet.
 */
export interface AppVetoes {
  /** apps:scheduler: the app is about to move from one scheduler to another. */
  moving: { app: string; appId: number; from: string; to: string };
}

type Handler<K extends keyof AppLifecycle> = (event: AppLifecycle[K]) => void | Promise<void>;

export class AppEvents {
  private readonly handlers: { [K in keyof AppLifecycle]: Handler<K>[] } = { created: [], released: [], destroyed: [], renamed: [] };
  private readonly vetoes: { [K in keyof AppVetoes]: ((event: AppVetoes[K]) => void)[] } = { moving: [] };
  private readonly log: (line: string) => void;

  constructor(log: (line: string) => void = () => {}) { this.log = log; }

  on<K extends keyof AppLifecycle>(name: K, handler: Handler<K>): void {
    this.handlers[name].push(handler);
  }

  /** A subscriber that may refuse the change by throwing (see AppVetoes). */
  veto<K extends keyof AppVetoes>(name: K, handler: (event: AppVetoes[K]) => void): void {
    this.vetoes[name].push(handler);
  }

  /** Asks every veto subscriber in turn; the first refusal is thrown to the caller. */
  ask<K extends keyof AppVetoes>(name: K, event: AppVetoes[K]): void {
    for (const handler of this.vetoes[name]) handler(event);
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
