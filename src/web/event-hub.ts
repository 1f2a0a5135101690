// What the web console's open pages are told: a summary of each app whenever it changes (deploy
// started / finished / failed, instances up or down, a build started) and each instance event from the
// engine (started, crashed, stopped). Work happens only while someone listens: engine events wake a
// diff at once, and a slow poll catches what has no engine event (a release row turning failed).
import type { Services } from '../api/services.ts';
import type { User } from '../state/auth-store.ts';
import type { RuntimeEvent } from '../runtime/types.ts';
import { appStatus } from '../api/views.ts';
import type { EngineAccess } from './engines.ts';

export interface AppSummary {
  name: string;
  status: string;
  currentRelease: number | null;
  deployingRelease: number | null;
  instances: number;
  lastDeployAt: string | null;
  build: { id: number; status: string } | null;
}

export type HubEvent = { type: 'app'; app: string; data: AppSummary } | { type: 'app-deleted'; app: string; data: { name: string } }
  | { type: 'instance'; app: string; data: RuntimeEvent };

interface Subscriber { user: User; send: (event: HubEvent) => void }

const POLL_MS = 1500;
const SETTLE_MS = 150;

type HubServices = Pick<Services, 'apps' | 'releases' | 'builds' | 'schedulers' | 'access' | 'log'>;

export class EventHub {
  private readonly s: HubServices;
  private readonly subscribers = new Set<Subscriber>();
  private last = new Map<string, string>();
  private abort: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;
  private diffing: Promise<void> | null = null;
  private again = false;

  private readonly engines: EngineAccess;

  constructor(s: HubServices, engines: EngineAccess) { this.s = s; this.engines = engines; }

  /** Starts delivering events the user may see; call the returned function to stop. */
  subscribe(user: User, send: (event: HubEvent) => void): () => void {
    const sub = { user, send };
    this.subscribers.add(sub);
    if (this.subscribers.size === 1) this.startWatching();
    return () => {
      this.subscribers.delete(sub);
      if (this.subscribers.size === 0) this.stopWatching();
    };
  }

  private startWatching(): void {
    this.abort = new AbortController();
    this.last = new Map();
    void this.diff();
    this.timer = setInterval(() => void this.diff(), POLL_MS);
    void this.followEngine(this.abort.signal);
  }

  private stopWatching(): void {
    this.abort?.abort();
    this.abort = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async followEngine(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (const event of this.engines.events(signal)) {
          this.publish({ type: 'instance', app: event.app, data: event });
          setTimeout(() => void this.diff(), SETTLE_MS);
        }
      } catch (err) {
        if (!signal.aborted) this.s.log(`engine events broke off (${(err as Error).message}); reconnecting`);
      }
      if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** One diff at a time; a request during one runs one more right after it. */
  private diff(): Promise<void> {
    if (this.diffing) { this.again = true; return this.diffing; }
    this.diffing = this.diffOnce().catch((err) => this.s.log(`console events: ${(err as Error).message}`)).finally(() => {
      this.diffing = null;
      if (this.again && this.subscribers.size) { this.again = false; void this.diff(); }
    });
    return this.diffing;
  }

  private async diffOnce(): Promise<void> {
    const instances = await this.s.schedulers.list();
    const seen = new Set<string>();
    for (const app of this.s.apps.list()) {
      seen.add(app.name);
      const mine = instances.filter((i) => i.app === app.name);
      const lastBuild = this.s.builds.list(app.id, 1)[0];
      const summary: AppSummary = {
        name: app.name,
        status: appStatus(app, this.s.apps.formation(app.id), mine, this.s.releases.list(app.id, 1)[0]),
        currentRelease: app.currentRelease,
        deployingRelease: app.deployingRelease,
        instances: mine.filter((i) => i.state === 'running').length,
        lastDeployAt: app.lastDeployAt,
        build: lastBuild ? { id: lastBuild.id, status: lastBuild.status } : null,
      };
      const key = JSON.stringify(summary);
      if (this.last.get(app.name) !== key) {
        this.last.set(app.name, key);
        this.publish({ type: 'app', app: app.name, data: summary });
      }
    }
    for (const name of [...this.last.keys()].filter((n) => !seen.has(n))) {
      this.last.delete(name);
      this.publish({ type: 'app-deleted', app: name, data: { name } });
    }
  }

  private publish(event: HubEvent): void {
    for (const sub of this.subscribers) {
      if (!this.s.access.canSee(sub.user, event.app)) continue;
      try { sub.send(event); } catch { /* a closed stream unsubscribes itself */ }
    }
  }
}
