// The Runtime contract over several Docker engines: the local one (host "local") and every registered
// host, each a DockerRuntime of its own. New instances go where src/placement says; instances on hosts
// that are down are left out of every listing (the converger recreates them elsewhere), and those on
// draining hosts are listed as evicted (the converger replaces them, then stops them).
import type Docker from 'dockerode';
import type { AttachedRun, AttachedRunSpec, ImageInfo, Instance, InstanceLogOptions, InstanceSpec, InstanceStats, LogLine, LogOptions, OneOffSpec, Runtime } from '../types.ts';
import { DockerRuntime } from '../docker/index.ts';
import { chooseHost, noRoomReason, type HostLoad } from '../../placement/index.ts';
import { ensureImageOnHost, pullableRef } from './image-distribution.ts';
import { mergeLogs } from './merge-logs.ts';

export const LOCAL_HOST = 'local';

export interface EngineHost {
  name: string;
  address: string;
  docker: Docker;
  runtime: DockerRuntime;
  local: boolean;
  up: boolean;
  draining: boolean;
  memoryMB: number | null;
}

export interface MultiHostOptions {
  local: { docker: Docker; runtime: DockerRuntime };
  /** host:port of Berth's registry as this server pushes to it, and as hosts pull from it. */
  registry: string;
  registryAdvertise: string;
  pullTimeoutMs: number;
  /** Credential hosts pull with (src/registry/credentials.ts engineAuth); none while the registry has no auth. */
  registryAuth?: Record<string, string>;
  log: (line: string) => void;
}

type Reservation = { app: string; release: number; memoryMB: number | null };

export class MultiHostRuntime implements Runtime {
  private readonly hosts = new Map<string, EngineHost>();
  private readonly opts: MultiHostOptions;
  /** Last full listing, kept current by start/remove: placement decides synchronously from it. */
  private known: Instance[] = [];
  private readonly reservations = new Map<string, Reservation[]>();

  constructor(opts: MultiHostOptions) {
    this.opts = opts;
    this.hosts.set(LOCAL_HOST, {
      name: LOCAL_HOST, address: '127.0.0.1', docker: opts.local.docker, runtime: opts.local.runtime,
      local: true, up: true, draining: false, memoryMB: null,
    });
  }

  addHost(host: Omit<EngineHost, 'local'>): void {
    this.hosts.set(host.name, { ...host, local: false });
  }

  removeHost(name: string): void {
    if (name !== LOCAL_HOST) this.hosts.delete(name);
  }

  host(name: string): EngineHost | undefined {
    return this.hosts.get(name);
  }

  allHosts(): EngineHost[] {
    return [...this.hosts.values()];
  }

  setUp(name: string, up: boolean): void {
    const host = this.hosts.get(name);
    if (host) host.up = up;
  }

  setDraining(name: string, draining: boolean): void {
    const host = this.hosts.get(name);
    if (host) host.draining = draining;
  }

  setMemory(name: string, memoryMB: number): void {
    const host = this.hosts.get(name);
    if (host) host.memoryMB = memoryMB;
  }

  async start(spec: InstanceSpec): Promise<Instance> {
    const distributable = this.hosts.size > 1 && (await pullableRef(this.opts.local.docker, spec.image, this.opts)) !== null;
    const host = this.place(spec, distributable);
    const reservation: Reservation = { app: spec.app, release: spec.release, memoryMB: spec.memoryMB };
    const reserved = this.reservations.get(host.name) ?? [];
    reserved.push(reservation);
    this.reservations.set(host.name, reserved);
    try {
      if (!host.local) await ensureImageOnHost(host, spec.image, this.opts);
      const instance = this.tag(await host.runtime.start(spec), host);
      this.known.push(instance);
      return instance;
    } finally {
      reserved.splice(reserved.indexOf(reservation), 1);
    }
  }

  async remove(id: string, timeoutSec: number): Promise<void> {
    const where = this.known.find((i) => i.id === id)?.hostName;
    const host = where ? this.hosts.get(where) : undefined;
    // A down host cannot be reached; its leftovers are removed by the converge after it comes back.
    if (host && !host.up) return;
    const targets = host ? [host] : this.upHosts();
    await Promise.all(targets.map((h) => h.runtime.remove(id, timeoutSec)));
    this.known = this.known.filter((i) => i.id !== id);
  }

  async list(app?: string): Promise<Instance[]> {
    const perHost = await Promise.all(this.upHosts().map(async (host) => {
      try {
        return (await host.runtime.list(app)).map((i) => this.tag(i, host));
      } catch (err) {
        if (host.local) throw err;
        // The heartbeat decides when a host is down; until then one failed listing only leaves it out.
        this.opts.log(`listing instances on host ${host.name} failed: ${(err as Error).message}`);
        return [];
      }
    }));
    const instances = perHost.flat();
    if (app === undefined) this.known = instances;
    else this.known = [...this.known.filter((i) => i.app !== app), ...instances];
    return instances;
  }

  resolveImage(ref: string): Promise<ImageInfo | null> {
    return this.opts.local.runtime.resolveImage(ref);
  }

  logs(app: string, opts: LogOptions): AsyncIterable<LogLine> {
    const hosts = this.upHosts();
    if (hosts.length === 1) return hosts[0].runtime.logs(app, opts);
    return mergeLogs(hosts.map((h) => h.runtime.logs(app, opts)), opts);
  }

  /** Followed on the engine the instance runs on (from the last listing; the local one when unknown). */
  instanceLogs(instance: Pick<Instance, 'id' | 'app' | 'process' | 'index'>, opts: InstanceLogOptions): AsyncIterable<LogLine> {
    const where = this.known.find((i) => i.id === instance.id)?.hostName ?? LOCAL_HOST;
    return (this.hosts.get(where) ?? this.hosts.get(LOCAL_HOST)!).runtime.instanceLogs(instance, opts);
  }

  /** Asked of the engine the instance runs on, like instanceLogs. */
  listeningPorts(instance: Pick<Instance, 'id'>): Promise<number[] | null> {
    const where = this.known.find((i) => i.id === instance.id)?.hostName ?? LOCAL_HOST;
    return (this.hosts.get(where) ?? this.hosts.get(LOCAL_HOST)!).runtime.listeningPorts(instance);
  }

  /** One-off containers (release phase) run on the local engine, where the image was built. */
  runOnce(spec: OneOffSpec, onLine: (line: string) => void): Promise<number> {
    return this.opts.local.runtime.runOnce(spec, onLine);
  }

  /** `berth run` runs on the local engine, like the release phase. */
  runAttached(spec: AttachedRunSpec): Promise<AttachedRun> {
    return this.opts.local.runtime.runAttached(spec);
  }

  runs(app: string): Promise<Instance[]> {
    return this.opts.local.runtime.runs(app);
  }

  removeLeftoverOneOffs(): Promise<string[]> {
    return this.opts.local.runtime.removeLeftoverOneOffs();
  }

  async stats(): Promise<InstanceStats[]> {
    const perHost = await Promise.all(this.upHosts().map((h) => h.runtime.stats().catch(() => [])));
    return perHost.flat();
  }

  /** Placement input for every host, counting starts still in flight. */
  loads(app: string, release: number): HostLoad[] {
    return this.allHosts().map((host) => {
      const here = this.known.filter((i) => i.hostName === host.name && !i.evicted);
      const pending = this.reservations.get(host.name) ?? [];
      const all = [...here, ...pending];
      return {
        name: host.name,
        healthy: host.up && !host.draining,
        memoryMB: host.memoryMB,
        reservedMB: all.reduce((sum, i) => sum + (i.memoryMB ?? 0), 0),
        instances: all.length,
        siblings: all.filter((i) => i.app === app && i.release === release).length,
      };
    });
  }

  private place(spec: InstanceSpec, distributable: boolean): EngineHost {
    // An image that is not in Berth's registry (a local-only `deploy --image`) can only run here.
    const loads = this.loads(spec.app, spec.release).filter((l) => distributable || l.name === LOCAL_HOST);
    const name = chooseHost(loads, spec.memoryMB);
    if (!name) throw new Error(`cannot place ${spec.process}.${spec.index} of ${spec.app}: ${noRoomReason(loads, spec.memoryMB)}`);
    return this.hosts.get(name)!;
  }

  private upHosts(): EngineHost[] {
    return this.allHosts().filter((h) => h.up);
  }

  private tag(instance: Instance, host: EngineHost): Instance {
    return { ...instance, hostName: host.name, evicted: host.draining };
  }
}
