// The schedulers this installation has, which one runs which app, and the fleet-wide view (every
// scheduler's instances, stats, events) that the console, the log store and metrics read.
import type { ExecOptions, ExecSession, ImageInfo, Instance, InstanceLogOptions, InstanceStats, LogLine, LogOptions, RuntimeEvent } from '../runtime/types.ts';
import { SCHEDULER_NAMES, type Scheduler, type SchedulerName } from './types.ts';
import { mergeEvents } from './merge-events.ts';
import { BerthError } from '../shared/errors.ts';

export interface SchedulersOptions {
  available: Scheduler[];
  /** The scheduler an app runs on (apps.scheduler); undefined: an app the database doesn't know. */
  schedulerOf: (app: string) => string | undefined;
  /** For new apps without --scheduler. */
  defaultName: () => SchedulerName;
}

export class Schedulers {
  private readonly byName = new Map<SchedulerName, Scheduler>();
  private readonly opts: SchedulersOptions;

  constructor(opts: SchedulersOptions) {
    this.opts = opts;
    for (const scheduler of opts.available) this.byName.set(scheduler.name, scheduler);
    if (!this.byName.has('docker')) throw new Error('the docker scheduler is always available');
  }

  names(): SchedulerName[] { return [...this.byName.keys()]; }

  defaultName(): SchedulerName {
    const wanted = this.opts.defaultName();
    return this.byName.has(wanted) ? wanted : 'docker';
  }

  /** The scheduler called `name`, or a 422 that lists the ones this installation has. */
  get(name: unknown): Scheduler {
    const scheduler = typeof name === 'string' ? this.byName.get(name as SchedulerName) : undefined;
    if (scheduler) return scheduler;
    const known = SCHEDULER_NAMES.includes(name as SchedulerName);
    throw new BerthError(422, 'invalid_scheduler', known
      ? `The ${String(name)} scheduler is not set up on this installation (available: ${this.names().join(', ')}).`
      : `Unknown scheduler ${JSON.stringify(name)}: expected one of ${this.names().join(', ')}.`);
  }

  /** The scheduler running `app`; apps the database doesn't know (orphans) are the Docker scheduler's. */
  forApp(app: string): Scheduler {
    const name = this.opts.schedulerOf(app);
    return this.byName.get(name as SchedulerName) ?? this.byName.get('docker')!;
  }

  all(): Scheduler[] { return [...this.byName.values()]; }

  async list(app?: string): Promise<Instance[]> {
    if (app !== undefined) return this.forApp(app).instances(app);
    return (await Promise.all(this.all().map((s) => s.instances()))).flat();
  }

  async stats(): Promise<InstanceStats[]> {
    return (await Promise.all(this.all().map((s) => s.stats()))).flat();
  }

  events(signal: AbortSignal): AsyncIterable<RuntimeEvent> {
    return mergeEvents(this.all().map((s) => s.events(signal)), signal);
  }

  logs(app: string, opts: LogOptions): AsyncIterable<LogLine> {
    return this.forApp(app).logs(app, opts);
  }

  instanceLogs(instance: Pick<Instance, 'id' | 'app' | 'process' | 'index'>, opts: InstanceLogOptions): AsyncIterable<LogLine> {
    return this.forApp(instance.app).instanceLogs(instance, opts);
  }

  exec(instance: Instance, opts: ExecOptions): Promise<ExecSession> {
    return this.forApp(instance.app).exec(instance, opts);
  }

  resolveImage(ref: string): Promise<ImageInfo | null> {
    return this.byName.get('docker')!.resolveImage(ref);
  }
}
