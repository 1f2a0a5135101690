// The Docker scheduler: Berth's own rollout (src/releases/converge.ts) over the local Docker engine
// (src/runtime/docker). Instances are containers; the converger starts, health-checks, routes and drains them itself.
import { NOTHING_PREPARED, type Runtime, type Instance, type InstanceLogOptions, type InstancePreparation, type LogLine, type LogOptions, type ExecOptions, type ExecSession, type InstanceStats, type RuntimeEvent, type ImageInfo } from '../../runtime/types.ts';
import type { Converger } from '../../releases/converge.ts';
import type { AttachedRun, AttachedRunRequest, DeployRequest, OneOffRequest, Progress, ReleaseToRun, Scheduler } from '../types.ts';

const toTargetRelease = (r: ReleaseToRun) => ({ version: r.version, image: r.imageId, config: r.config, containerPort: r.containerPort });

export class DockerScheduler implements Scheduler {
  readonly name = 'docker' as const;
  readonly runtime: Runtime;
  private readonly converger: Converger;

  constructor(opts: { runtime: Runtime; converger: Converger }) {
    this.runtime = opts.runtime;
    this.converger = opts.converger;
  }

  async deploy(req: DeployRequest, progress?: Progress): Promise<void> {
    await this.converger.converge({
      app: req.app, formation: req.formation, hostnames: req.hostnames, health: req.health, drainInBackground: req.drainInBackground, maintenance: req.maintenance,
      releasePhase: req.releasePhase,
      release: req.release && toTargetRelease(req.release),
      canary: req.canary ? { release: toTargetRelease(req.canary.release), routing: req.canary.routing } : null,
    }, progress);
  }

  prepareDeploy(app: string, instances: number): InstancePreparation {
    return this.runtime.prepareInstances?.(app, instances) ?? NOTHING_PREPARED;
  }

  async destroy(app: string): Promise<void> {
    await this.converger.retire(app);
    await this.runtime.dropPrepared?.(app);
  }

  async stop(app: string): Promise<void> {
    await this.converger.stopAll(app);
    await this.runtime.dropPrepared?.(app);
  }

  stopInstances(app: string, instances: Instance[]): Promise<void> {
    return this.converger.stopInstances(app, instances);
  }

  instances(app?: string): Promise<Instance[]> {
    return this.runtime.list(app);
  }

  async apps(): Promise<string[]> {
    return [...new Set((await this.runtime.list()).map((i) => i.app))];
  }

  logs(app: string, opts: LogOptions): AsyncIterable<LogLine> {
    return this.runtime.logs(app, opts);
  }

  instanceLogs(instance: Pick<Instance, 'id' | 'app' | 'process' | 'index'>, opts: InstanceLogOptions): AsyncIterable<LogLine> {
    if (!this.runtime.instanceLogs) throw new Error('this Docker runtime cannot follow single instances');
    return this.runtime.instanceLogs(instance, opts);
  }

  exec(instance: Instance, opts: ExecOptions): Promise<ExecSession> {
    if (!this.runtime.exec) throw new Error(`the engine running ${instance.name} offers no terminal`);
    return this.runtime.exec(instance.id, opts);
  }

  runOnce(req: OneOffRequest, onLine: (line: string) => void): Promise<number> {
    return this.runtime.runOnce({
      app: req.app, release: req.release.version, image: req.release.imageId, command: req.command,
      env: { ...req.release.config, ...req.env }, memoryMB: req.memoryMB, timeoutSec: req.timeoutSec,
    }, onLine);
  }

  runAttached(req: AttachedRunRequest): Promise<AttachedRun> {
    if (!this.runtime.runAttached) throw new Error('this Docker runtime cannot attach to one-offs');
    return this.runtime.runAttached({
      app: req.app, release: req.release.version, image: req.release.imageId, command: req.command,
      env: { ...req.release.config, ...req.env }, memoryMB: req.memoryMB, timeoutSec: req.timeoutSec, tty: req.tty, cols: req.cols, rows: req.rows,
    });
  }

  async runs(app: string): Promise<Instance[]> {
    return (await this.runtime.runs?.(app)) ?? [];
  }

  async removeLeftoverOneOffs(): Promise<string[]> {
    return (await this.runtime.removeLeftoverOneOffs?.()) ?? [];
  }

  stats(): Promise<InstanceStats[]> {
    return this.runtime.stats();
  }

  /** The engine's events; none from a runtime without them. */
  async *events(signal: AbortSignal): AsyncIterable<RuntimeEvent> {
    if (this.runtime.events) yield* this.runtime.events(signal);
  }

  resolveImage(ref: string): Promise<ImageInfo | null> {
    return this.runtime.resolveImage(ref);
  }
}
