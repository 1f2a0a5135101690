// Network holders, like a Kubernetes pod's pause container: a small container that only holds a network
// namespace on an app's network. Setting a namespace up is most of what starting a container costs here (two
// at once: ~1.1 s each on 2 cores, against ~0.2 s to join a running one), so before a push's image is built
// an app that is pushed to keeps one holder ready per web instance a release starts, and one for its release
// command; the new containers join them, and the push's critical path loses the namespace setup (docs/benchmarks.md,
// section 5). A joined holder lives as long as its container; ready ones are topped up after each push and go
// after BERTH_NETWORK_HOLDERS_IDLE without one, or with the app.
import type Docker from 'dockerode';
import type { InstancePreparation } from '../types.ts';
import type { NetworkPlacement } from './berth-network.ts';
import { holderOptions } from './container-config.ts';
import { inspectLocalImage } from './images.ts';
import { LABEL, listedName } from './labels.ts';

export interface Holder { id: string; ip: string }

/** How often instances that are down while their holder runs are started again (see revive). */
const REVIVE_MS = 5000;
/** A joined instance still only created after this long was not started by dockerd: revive may start it. */
const NEVER_STARTED_S = 60;

export interface HolderDeps {
  docker: Docker;
  owner: string;
  /** The image holders run `sleep` from (BERTH_STACK_GENERIC); never pulled: without it there are no holders. */
  image: string;
  requestMs: number;
  /** Creates the container at a free address on the app's network (under the app's network lock). */
  place: (app: string, create: (placement: NetworkPlacement) => Promise<Docker.Container>) => Promise<Docker.Container>;
  /** Runs one container operation in the engine's bounded queue. */
  queue: <T>(work: () => Promise<T>) => Promise<T>;
  call: <T>(what: string, request: (signal: AbortSignal) => Promise<T>) => Promise<T>;
  /** Removes a container and, if it was the app's last, the app's network. */
  remove: (app: string, id: string) => Promise<void>;
  /** How long an app keeps holders ready after its last push. */
  idleMs: number;
  log?: (line: string) => void;
}

export class NetworkHolders {
  private readonly deps: HolderDeps;
  /** Started and not joined yet, per app: a start takes the oldest. */
  private readonly idle = new Map<string, Holder[]>();
  /** Apps that keep holders ready: how many, until when (each prepare moves the end). */
  private readonly kept = new Map<string, { count: number; expiry: NodeJS.Timeout }>();
  /** Taken for a container being created: not joined yet, not idle either. */
  private readonly claimed = new Set<string>();
  /** The app's top-up in progress: one at a time per app. */
  private readonly filling = new Map<string, Promise<void>>();
  private imagePresent: Promise<boolean> | null = null;
  private reviving: NodeJS.Timeout | null = null;

  constructor(deps: HolderDeps) {
    this.deps = deps;
  }

  /**
   * Readies `count` holders for the app (those left from its last deploy count) and keeps that many ready for its next
   * deploy, for idleMs after this one: end(), once the deploy returned, tops them up again. Those started now, beside
   * the image build, take about as much from the build as they save the start (the build's own container sets a
   * namespace up too, and the kernel does one at a time): the ones kept from the last push make the next one faster.
   * Never fails.
   */
  prepare(app: string, count: number): InstancePreparation {
    const previous = this.kept.get(app);
    if (previous) clearTimeout(previous.expiry);
    const expiry = setTimeout(() => void this.drop(app), this.deps.idleMs);
    expiry.unref();
    this.kept.set(app, { count, expiry });
    return { ready: this.topUp(app), end: () => this.topUp(app) };
  }

  /** Removes the app's ready holders and keeps none any more (the app is destroyed, moved, or idle long enough). */
  async drop(app: string): Promise<void> {
    const kept = this.kept.get(app);
    if (kept) clearTimeout(kept.expiry);
    this.kept.delete(app);
    await this.filling.get(app);
    const left = this.idle.get(app) ?? [];
    this.idle.delete(app);
    await Promise.all(left.map((h) => this.deps.remove(app, h.id)));
  }

  /** Starts holders until the app has as many ready as it keeps; resolves when they run (never rejects). */
  private topUp(app: string): Promise<void> {
    const run = (this.filling.get(app) ?? Promise.resolve()).then(async () => {
      const missing = (this.kept.get(app)?.count ?? 0) - this.idleOf(app).length;
      if (missing <= 0 || !(await this.hasImage())) return;
      await Promise.all(Array.from({ length: missing }, async () => {
        try {
          const holder = await this.start(app);
          if (this.kept.has(app)) this.idleOf(app).push(holder);
          else await this.deps.remove(app, holder.id); // dropped meanwhile
        } catch (err) {
          this.deps.log?.(`${app}: a network holder did not start (${(err as Error).message}); its instance starts on its own`);
        }
      }));
    });
    this.filling.set(app, run);
    void run.finally(() => { if (this.filling.get(app) === run) this.filling.delete(app); });
    return run;
  }

  /**
   * A running holder of the app nobody joined, taken for one container; null: none (it is placed on its own).
   * joined() or discard() once that container was created or not.
   */
  async claim(app: string): Promise<Holder | null> {
    for (let holder = this.idleOf(app).shift(); holder; holder = this.idleOf(app).shift()) {
      this.claimed.add(holder.id);
      // The engine accepts a container in a missing holder's namespace and fails only its start: look first.
      const running = await this.deps.call('inspecting a network holder', (abortSignal) => this.deps.docker.getContainer(holder!.id).inspect({ abortSignal }))
        .then((info) => info.State.Running, () => false);
      if (running) {
        if (!this.idleOf(app).length) this.idle.delete(app);
        return holder;
      }
      this.deps.log?.(`${app}: network holder ${holder.id.slice(0, 12)} is not running (removed or stopped by hand?); it goes`);
      await this.discard(app, holder);
    }
    this.idle.delete(app);
    return null;
  }

  /** Its container exists now (and names it in its berth.netns label). */
  joined(holder: Holder): void {
    this.claimed.delete(holder.id);
  }

  /** The container meant to join it could not be created there (the holder may be broken): it goes. */
  async discard(app: string, holder: Holder): Promise<void> {
    this.claimed.delete(holder.id);
    await this.deps.remove(app, holder.id).catch(() => {});
  }

  /**
   * Starts the instances that are down while their holder runs. When dockerd starts, it starts every container at
   * once, and one that joins a holder fails if its holder is not up yet; the engine does not try again. Berth does,
   * every REVIVE_MS (dockerd's restarts come without Berth's). Only instances (berth.managed): a one-off that ended
   * must never run twice. Their names.
   */
  async revive(): Promise<string[]> {
    const [listed, states] = await Promise.all([
      this.deps.call('listing stopped instances', (abortSignal) => this.deps.docker.listContainers({
        all: true, abortSignal,
        filters: { label: [LABEL.joins, `${LABEL.owner}=${this.deps.owner}`, `${LABEL.managed}=1`], status: ['exited', 'created'] },
      })),
      this.states(),
    ]);
    // A container that is only created may be one a start is about to start: starting it first would fail that start.
    const createdBefore = Date.now() / 1000 - NEVER_STARTED_S;
    const down = listed.filter((c) => c.State === 'exited' || c.Created < createdBefore);
    const revived: string[] = [];
    for (const c of down.filter((c) => states.get(c.Labels[LABEL.joins]) === 'running')) {
      const name = listedName(c);
      try {
        await this.deps.call(`starting ${name} again`, (abortSignal) => this.deps.docker.getContainer(c.Id).start({ abortSignal }));
        revived.push(name);
        this.deps.log?.(`${name} was down while its network holder ran (the engine restarted?): started it again`);
      } catch (err) {
        // Removed meanwhile (a deploy retiring it), or it cannot start: the next round, or its app's next change.
        if (!/no such container|already started|is marked for removal/i.test((err as Error).message)) this.deps.log?.(`${name}: ${(err as Error).message}`);
      }
    }
    return revived;
  }

  /** Revives every REVIVE_MS from now on, for as long as the process runs (once, however often it is called). */
  watch(): void {
    this.reviving ??= setInterval(() => { this.revive().catch(() => { /* the engine is down: next round */ }); }, REVIVE_MS).unref();
  }

  /** States of this installation's holders (of one app) by id (a joined container is down when its holder is). */
  async states(app?: string): Promise<Map<string, string>> {
    const holders = await this.list(app);
    return new Map(holders.map((c) => [c.Id, c.State]));
  }

  /** At start: holders no container joins any more (a Berth stopped mid-push, a crash mid-removal); their names. */
  async removeUnjoined(): Promise<string[]> {
    const [holders, joiners] = await Promise.all([this.list(), this.deps.call('listing containers', (abortSignal) =>
      this.deps.docker.listContainers({ all: true, filters: { label: [LABEL.joins, `${LABEL.owner}=${this.deps.owner}`] }, abortSignal }))]);
    const joined = new Set(joiners.map((c) => c.Labels[LABEL.joins]));
    const ours = new Set([...[...this.idle.values()].flat().map((h) => h.id), ...this.claimed]);
    const unjoined = holders.filter((c) => !joined.has(c.Id) && !ours.has(c.Id));
    for (const c of unjoined) await this.deps.remove(c.Labels[LABEL.app] ?? '', c.Id);
    return unjoined.map(listedName);
  }

  private list(app?: string): Promise<Docker.ContainerInfo[]> {
    const label = [`${LABEL.holder}=1`, `${LABEL.owner}=${this.deps.owner}`, ...(app === undefined ? [] : [`${LABEL.app}=${app}`])];
    return this.deps.call('listing network holders', (abortSignal) => this.deps.docker.listContainers({ all: true, filters: { label }, abortSignal }));
  }

  private async start(app: string): Promise<Holder> {
    return this.deps.queue(async () => {
      let ip = '';
      const container = await this.deps.place(app, (placement) => {
        ip = placement.ip;
        return this.deps.call(`creating a network holder of ${app}`, (abortSignal) =>
          this.deps.docker.createContainer({ ...holderOptions(app, this.deps.owner, this.deps.image, placement), abortSignal }));
      });
      try {
        await this.deps.call(`starting a network holder of ${app}`, (abortSignal) => container.start({ abortSignal }));
      } catch (err) {
        await this.deps.remove(app, container.id);
        throw err;
      }
      return { id: container.id, ip };
    });
  }

  private hasImage(): Promise<boolean> {
    this.imagePresent ??= inspectLocalImage(this.deps.docker, this.deps.image, this.deps.requestMs).then((found) => {
      if (!found) this.deps.log?.(`network holders need the image ${this.deps.image} (BERTH_STACK_GENERIC); without it each instance sets its network up itself`);
      return found !== null;
    }, () => {
      this.imagePresent = null; // the engine did not answer: ask again next time
      return false;
    });
    return this.imagePresent;
  }

  private idleOf(app: string): Holder[] {
    let list = this.idle.get(app);
    if (!list) this.idle.set(app, list = []);
    return list;
  }
}
