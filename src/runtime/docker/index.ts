// The Docker implementation of the Runtime contract, talking to the local engine through its socket.
import Docker from 'dockerode';
import { NOTHING_PREPARED, type AttachedRun, type AttachedRunSpec, type ExecOptions, type ExecSession, type ImageInfo, type Instance, type InstanceLogOptions, type InstancePreparation, type InstanceSpec, type InstanceStats, type LogLine, type LogOptions, type OneOffSpec, type Runtime, type RuntimeEvent } from '../types.ts';
import { engineEvents } from './events.ts';
import { openExec } from './exec.ts';
import { runToCompletion } from './one-off.ts';
import { startAttached } from './attached-run.ts';
import { Semaphore } from '../../shared/semaphore.ts';
import { attachedRunOptions, createOptions, DEFAULT_HARDENING, inHolder, oneOffOptions, type Hardening } from './container-config.ts';
import { NetworkHolders, type Holder } from './holders.ts';
import { ignoreWhen, isAlreadyStopped, isNotFound, isRemovalInProgress, withDeadline } from './errors.ts';
import { requireLocalImage, resolveImage } from './images.ts';
import { assignedIp, containerName, instanceFromInspect, LABEL, listedName, managedLabelFilter } from './labels.ts';
import { isAddonContainer } from './service-options.ts';
import { AppNetworks, type NetworkPlacement } from './berth-network.ts';
import { readLogs } from './logs.ts';
import { followInstanceLogs } from './instance-logs.ts';
import { listeningPorts } from './listening-ports.ts';
import { StatsReader } from './stats.ts';
import { holdRunNumber, releaseRunNumber, type RunNumbers } from '../../shared/run-numbers.ts';

/** Where web ports are published and the router (and health checks) reach them: this machine only. */
const LOOPBACK = '127.0.0.1';

export interface DockerRuntimeOptions {
  socketPath: string;
  /** This Berth installation's id (label berth.owner): several installations may share one engine. */
  owner: string;
  /** A ready engine client (one the caller shares); default: one on socketPath. */
  docker?: Docker;
  /** Upper bound for pulling a missing image in resolveImage. */
  pullTimeoutMs?: number;
  /** Upper bound for any other single engine call (a stop gets its grace period on top). */
  requestTimeoutMs?: number;
  /**
   * Address range of the installation's app networks (local engine only): each app's containers join a network
   * of their own carved from it, at an address Berth assigns, and the router reaches web instances there.
   * Without it they stay on the default bridge (host port only).
   */
  networkSubnet?: string;
  /** Limits of every container started here; default DEFAULT_HARDENING. */
  hardening?: Partial<Hardening>;
  /**
   * With app networks: the image network holders run `sleep` from (src/runtime/docker/holders.ts), never pulled;
   * unset or absent from the engine: every container sets its network up itself.
   */
  holderImage?: string;
  /** How long an app keeps network holders ready after its last push (default 10 minutes). */
  holderIdleMs?: number;
  log?: (line: string) => void;
}

export class DockerRuntime implements Runtime {
  private readonly docker: Docker;
  private readonly owner: string;
  // Docker 20.10's libnetwork deadlocks under many concurrent container creates/stops/removes
  // (seen here: 40+ parallel removes wedged the engine); a few at a time is as fast and safe.
  private readonly containerOps = new Semaphore(4);
  private readonly pullTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly statsReader: StatsReader;
  private readonly networks: AppNetworks | null;
  private readonly holders: NetworkHolders | null;
  private readonly hardening: Hardening;
  private readonly log: (line: string) => void;
  /** run.N numbers chosen but whose container may not exist yet, per app. */
  private readonly runIndexes: RunNumbers = new Map();

  constructor(opts: DockerRuntimeOptions) {
    this.docker = opts.docker ?? new Docker({ socketPath: opts.socketPath });
    this.owner = opts.owner;
    this.pullTimeoutMs = opts.pullTimeoutMs ?? 120_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
    // Stats get a short deadline of their own: a reading that late is useless for a 10 s series anyway.
    this.statsReader = new StatsReader(this.docker, { owner: this.owner, requestMs: Math.min(this.requestTimeoutMs, 10_000) });
    this.hardening = { ...DEFAULT_HARDENING, ...opts.hardening };
    this.log = opts.log ?? (() => {});
    this.networks = opts.networkSubnet === undefined ? null : new AppNetworks({
      docker: this.docker, owner: this.owner, subnet: opts.networkSubnet, call: (what, request) => this.call(what, request),
    });
    this.holders = this.networks && opts.holderImage ? new NetworkHolders({
      docker: this.docker, owner: this.owner, image: opts.holderImage, requestMs: this.requestTimeoutMs, log: opts.log,
      idleMs: opts.holderIdleMs ?? 10 * 60_000,
      place: (app, create) => this.createPlaced(app, create as (placement: NetworkPlacement | null) => Promise<Docker.Container>),
      queue: (work) => this.containerOps.run(work),
      call: (what, request) => this.call(what, request),
      remove: async (app, id) => {
        await this.forceRemove(id);
        await this.releaseNetwork(app);
      },
    }) : null;
  }

  /** Chooses the app networks' address range if this runtime has one (at startup: a clash shows at once). */
  async prepare(): Promise<void> {
    await this.networks?.prepare();
    // From now on, instances a dockerd restart left down beside their running holder are started again.
    this.holders?.watch();
  }

  /** Starts instances that are down while their network holder runs (what the watch does every few seconds); their names. */
  async reviveJoined(): Promise<string[]> {
    return (await this.holders?.revive()) ?? [];
  }

  start(spec: InstanceSpec): Promise<Instance> {
    return this.containerOps.run(() => this.startNow(spec));
  }

  remove(id: string, timeoutSec: number): Promise<void> {
    return this.containerOps.run(() => this.removeGracefully(id, timeoutSec));
  }

  private async startNow(spec: InstanceSpec): Promise<Instance> {
    await requireLocalImage(this.docker, spec.image, this.requestTimeoutMs);
    const name = containerName(spec);
    await this.removeLeftover(name);
    const create = (placement: NetworkPlacement | null) => this.call(`creating ${name}`, (abortSignal) =>
      this.docker.createContainer({ ...createOptions(spec, this.owner, LOOPBACK, placement, this.hardening), abortSignal }));
    const { container, holder } = await this.createJoiningOrPlaced(spec.app, create, (joined) => this.call(`creating ${name}`, (abortSignal) =>
      this.docker.createContainer({ ...inHolder(createOptions(spec, this.owner, LOOPBACK, null, this.hardening), joined, spec.containerPort), abortSignal })));
    try {
      await this.call(`starting ${name}`, (abortSignal) => container.start({ abortSignal }));
    } catch (err) {
      await this.removeWithHolder(spec.app, container.id, holder);
      throw err;
    }
    const info = await this.call(`inspecting ${name}`, (abortSignal) => container.inspect({ abortSignal }));
    return instanceFromInspect(info, LOOPBACK);
  }

  private async removeGracefully(id: string, timeoutSec: number): Promise<void> {
    const labels = this.networks ? (await this.inspect(id))?.Config.Labels : undefined;
    const container = this.docker.getContainer(id);
    const graceMs = timeoutSec * 1000;
    await this.call(`stopping ${id}`, (abortSignal) => container.stop({ t: timeoutSec, abortSignal }), graceMs)
      .catch(ignoreWhen((err) => isNotFound(err) || isAlreadyStopped(err)));
    await this.forceRemove(id);
    if (labels?.[LABEL.joins]) await this.forceRemove(labels[LABEL.joins]);
    if (labels?.[LABEL.app]) await this.releaseNetwork(labels[LABEL.app]);
  }

  /** A container that failed to start or ended (a one-off): it goes, with the holder it joined, and the app's network if that was all. */
  private async removeWithHolder(app: string, id: string | null, holder: Holder | null): Promise<void> {
    if (id) await this.forceRemove(id).catch(() => {});
    if (holder) await this.forceRemove(holder.id).catch(() => {});
    await this.releaseNetwork(app);
  }

  /** In one of the app's prepared holders when there is one; else placed on its own (or on the default bridge). */
  private async createJoiningOrPlaced(app: string, create: (placement: NetworkPlacement | null) => Promise<Docker.Container>,
    createInHolder: (holder: Holder) => Promise<Docker.Container>): Promise<{ container: Docker.Container; holder: Holder | null }> {
    const holder = (await this.holders?.claim(app)) ?? null;
    if (!holder) return { container: await this.createPlaced(app, create), holder: null };
    try {
      const container = await createInHolder(holder);
      this.holders!.joined(holder);
      return { container, holder };
    } catch (err) {
      // Not in that holder, then: on its own, as without one (a fault of the container itself shows again there).
      this.log(`${app}: could not join network holder ${holder.id.slice(0, 12)} (${(err as Error).message}); placing it on its own`);
      await this.holders!.discard(app, holder);
      return { container: await this.createPlaced(app, create), holder: null };
    }
  }

  prepareInstances(app: string, count: number): InstancePreparation {
    return this.holders?.prepare(app, count) ?? NOTHING_PREPARED;
  }

  async dropPrepared(app: string): Promise<void> {
    await this.holders?.drop(app);
  }

  /** On the app's own network at an address of its own when this runtime has app networks; else on the default bridge. */
  private createPlaced(app: string, create: (placement: NetworkPlacement | null) => Promise<Docker.Container>): Promise<Docker.Container> {
    return this.networks ? this.networks.place(app, (network) => this.assignedIps(app, network), create) : create(null);
  }

  /**
   * Drops the app's network once no container of it is left. The instance is gone either way: a network that
   * could not be removed now goes with the app's next removal.
   */
  private async releaseNetwork(app: string): Promise<void> {
    await this.networks?.release(app, async () => (await this.containersOf(app)).length > 0).catch(() => {});
  }

  /** Every container of the app (instances and one-offs), running or not. */
  private containersOf(app: string): Promise<Docker.ContainerInfo[]> {
    return this.call('listing containers', (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { label: [`${LABEL.owner}=${this.owner}`, `${LABEL.app}=${app}`] }, abortSignal }));
  }

  /**
   * Addresses taken on the app's network: those its containers hold (assigned ones, running or not, and any the
   * engine gave), and those of whatever else joined it (an add-on's data service, attached apps' services).
   */
  private async assignedIps(app: string, network: string): Promise<string[]> {
    const [containers, members] = await Promise.all([this.containersOf(app), this.call('listing containers', (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { network: [network] }, abortSignal }))]);
    return [...containers, ...members].flatMap((c) => [assignedIp(c.Labels), c.NetworkSettings?.Networks?.[network]?.IPAddress || null])
      .filter((ip) => ip !== null);
  }

  /** A container that is not the app's (an add-on's service) joins the app's network at a free address; null: no app networks. */
  joinAppNetwork<T>(app: string, join: (placement: NetworkPlacement) => Promise<T>): Promise<T> | null {
    return this.networks ? this.networks.place(app, (network) => this.assignedIps(app, network), join) : null;
  }

  /** The Docker network of the app's containers; null: no app networks. */
  appNetworkName(app: string): string | null {
    return this.networks?.nameOf(app) ?? null;
  }

  /** After a service left the app's network: the network goes if nothing of the app is left on it. */
  releaseAppNetwork(app: string): Promise<void> {
    return this.releaseNetwork(app);
  }

  async list(app?: string): Promise<Instance[]> {
    const containers = await this.call('listing containers', (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { label: managedLabelFilter(this.owner, app) }, abortSignal }));
    // An add-on's data service is no instance, even if someone labelled it berth.managed: the converger and
    // reconcile's orphan removal (both work from this list) must never stop it.
    const instanceContainers = containers.filter((c) => !isAddonContainer(c.Labels));
    // listContainers lacks RestartCount and StartedAt, so each one is inspected (in parallel).
    const instances = (await Promise.all(instanceContainers.map((c) => this.inspectInstance(c.Id)))).filter((instance) => instance !== null);
    // One in a holder that stopped (removed by hand, killed) has no network left: it is down, and replaced as such.
    const joined = instanceContainers.filter((c) => c.Labels[LABEL.joins]);
    const holderStates = joined.length && this.holders ? await this.holders.states(app) : null;
    if (holderStates) {
      for (const c of joined) {
        if (holderStates.get(c.Labels[LABEL.joins]) === 'running') continue;
        const instance = instances.find((i) => i.id === c.Id);
        if (instance) instance.state = 'exited';
      }
    }
    return instances;
  }

  resolveImage(ref: string): Promise<ImageInfo | null> {
    return resolveImage(this.docker, ref, { requestMs: this.requestTimeoutMs, pullMs: this.pullTimeoutMs });
  }

  /** Release-phase and one-off containers join the app's network too, with its limits (memory by default). */
  async runOnce(spec: OneOffSpec, onLine: (line: string) => void): Promise<number> {
    const what = `creating a one-off container of ${spec.app}`;
    const { container, holder } = await this.createJoiningOrPlaced(spec.app,
      (placement) => this.call(what, (abortSignal) => this.docker.createContainer({ ...oneOffOptions(spec, this.owner, placement, this.hardening), abortSignal })),
      (joined) => this.call(what, (abortSignal) => this.docker.createContainer({ ...inHolder(oneOffOptions(spec, this.owner, null, this.hardening), joined, null), abortSignal })));
    try {
      return await runToCompletion(container, spec.timeoutSec, onLine);
    } finally {
      await this.removeWithHolder(spec.app, null, holder); // runToCompletion removed the container itself
    }
  }

  /** `berth run`: run.N, N the lowest number no other run of the app holds (numbers being handed out count too). */
  async runAttached(spec: AttachedRunSpec): Promise<AttachedRun> {
    const held = (await this.oneOffs(spec.app)).filter((c) => c.Labels[LABEL.process] === 'run').map((c) => Number(c.Labels[LABEL.index]));
    const taken = new Set([...held, ...(this.runIndexes.get(spec.app) ?? [])]);
    let index = 1;
    while (taken.has(index)) index++;
    holdRunNumber(this.runIndexes, spec.app, index);
    try {
      const container = await this.createPlaced(spec.app, (placement) => this.call(`creating run.${index} of ${spec.app}`, (abortSignal) =>
        this.docker.createContainer({ ...attachedRunOptions(spec, index, this.owner, placement, this.hardening), abortSignal })));
      let run: AttachedRun;
      try {
        run = await startAttached(container, { ...spec, name: `run.${index}` });
      } catch (err) {
        await this.forceRemove(container.id);
        await this.releaseNetwork(spec.app);
        throw err;
      }
      void run.exited.catch(() => {}).finally(() => this.releaseNetwork(spec.app));
      return run;
    } finally {
      releaseRunNumber(this.runIndexes, spec.app, index); // the container holds its label from here on
    }
  }

  /** At start: whatever one-off is left ran for a Berth that is gone, and nobody is attached to it now. */
  async removeLeftoverOneOffs(): Promise<string[]> {
    const leftovers = await this.call('listing one-off containers', (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { label: [`${LABEL.oneOff}=1`, `${LABEL.owner}=${this.owner}`] }, abortSignal }));
    for (const c of leftovers) await this.forceRemove(c.Id);
    const apps = new Set(leftovers.map((c) => c.Labels[LABEL.app]).filter(Boolean));
    for (const app of apps) await this.releaseNetwork(app);
    const holders = (await this.holders?.removeUnjoined()) ?? [];
    return [...leftovers.map(listedName), ...holders];
  }

  async runs(app: string): Promise<Instance[]> {
    const runs = (await this.oneOffs(app)).filter((c) => c.Labels[LABEL.process] === 'run');
    return (await Promise.all(runs.map((c) => this.inspectInstance(c.Id)))).filter((i) => i !== null);
  }

  /** The app's one-off containers (release phase, `berth run`). */
  private oneOffs(app: string): Promise<Docker.ContainerInfo[]> {
    return this.call('listing one-off containers', (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { label: [`${LABEL.oneOff}=1`, `${LABEL.owner}=${this.owner}`, `${LABEL.app}=${app}`] }, abortSignal }));
  }

  logs(app: string, opts: LogOptions): AsyncIterable<LogLine> {
    return readLogs(this.docker, { owner: this.owner, app, requestMs: this.requestTimeoutMs }, opts);
  }

  stats(): Promise<InstanceStats[]> {
    return this.statsReader.readAll();
  }

  events(signal: AbortSignal): AsyncIterable<RuntimeEvent> {
    return engineEvents(this.docker, this.owner, signal);
  }

  exec(containerId: string, opts: ExecOptions): Promise<ExecSession> {
    return openExec(this.docker, this.owner, containerId, opts);
  }

  instanceLogs(instance: Pick<Instance, 'id' | 'app' | 'process' | 'index'>, opts: InstanceLogOptions): AsyncIterable<LogLine> {
    return followInstanceLogs(this.docker, instance, opts, this.requestTimeoutMs);
  }

  listeningPorts(instance: Pick<Instance, 'id'>): Promise<number[] | null> {
    return listeningPorts(this.docker, instance.id);
  }

  /** null when the container disappeared between listing and inspecting. */
  private async inspectInstance(id: string): Promise<Instance | null> {
    const info = await this.inspect(id);
    return info && instanceFromInspect(info, LOOPBACK);
  }

  private async inspect(idOrName: string): Promise<Docker.ContainerInspectInfo | null> {
    try {
      return await this.call(`inspecting ${idOrName}`, (abortSignal) => this.docker.getContainer(idOrName).inspect({ abortSignal }));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** A container already holding the name (e.g. from a crash mid-deploy) would make create fail. */
  private async removeLeftover(name: string): Promise<void> {
    const existing = await this.inspect(name);
    if (!existing) return;
    const owner = existing.Config.Labels?.[LABEL.owner];
    if (owner !== this.owner) {
      throw new Error(`container ${name} already exists and is not this Berth installation's (owner: ${owner ?? 'none'}); refusing to replace it`);
    }
    await this.forceRemove(existing.Id);
  }

  private async forceRemove(idOrName: string): Promise<void> {
    await this.call(`removing ${idOrName}`, (abortSignal) =>
      this.docker.getContainer(idOrName).remove({ force: true, v: true, abortSignal }))
      .catch(ignoreWhen((err) => isNotFound(err) || isRemovalInProgress(err)));
  }

  private call<T>(what: string, request: (signal: AbortSignal) => Promise<T>, extraMs = 0): Promise<T> {
    return withDeadline(what, this.requestTimeoutMs + extraMs, request);
  }
}
