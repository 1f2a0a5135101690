// Which runtime holds an add-on's service: the one of the scheduler its app ran on when it was created (kept in
// addons.scheduler), for the add-on's whole life. Addons and the backup engine speak to one ServiceRuntime; this
// one hands each call to the add-on's own. A service is reachable only from apps on its scheduler.
import { BerthError } from '../shared/errors.ts';
import type { ServiceExec, ServiceExecResult, ServiceRuntime, ServiceSpec, ServiceStatus } from './service-runtime.ts';
import type { ExecSession } from '../runtime/types.ts';

export interface RuntimeLookup {
  /** The scheduler an app runs on; undefined: no such app. */
  schedulerOfApp(app: string): string | undefined;
  /** The scheduler holding an add-on; undefined: no such add-on (yet). */
  schedulerOfAddon(name: string): string | undefined;
}

/** The runtime for a scheduler, or a 422 that says the scheduler is not set up here. */
export function runtimeFor(runtimes: Partial<Record<string, ServiceRuntime>>, scheduler: string): ServiceRuntime {
  const runtime = runtimes[scheduler];
  if (!runtime) throw new BerthError(422, 'invalid_scheduler', `Add-ons on the ${scheduler} scheduler are not set up on this installation.`);
  return runtime;
}

/** An app may use an add-on only on the add-on's own scheduler: a Docker network and a cluster's pod network do not meet. */
export function checkSameScheduler(addon: { name: string; scheduler: string }, app: { name: string; scheduler: string }): void {
  if (addon.scheduler === app.scheduler) return;
  throw new BerthError(422, 'scheduler_mismatch',
    `The add-on ${addon.name} runs on the ${addon.scheduler} scheduler and ${app.name} on ${app.scheduler}: a service is reachable only ` +
    `from apps on its own scheduler (move ${app.name} with apps:scheduler, or attach the service by --url if it is reachable from there).`);
}

export class ServiceRuntimes implements ServiceRuntime {
  readonly #runtimes: Partial<Record<string, ServiceRuntime>>;
  readonly #lookup: RuntimeLookup;

  constructor(runtimes: Partial<Record<string, ServiceRuntime>>, lookup: RuntimeLookup) {
    this.#runtimes = runtimes;
    this.#lookup = lookup;
  }

  /** The runtime of an add-on, or of the app it is being made for (before its row exists). */
  of(name: string, app?: string): ServiceRuntime {
    const scheduler = this.#lookup.schedulerOfAddon(name) ?? (app === undefined ? undefined : this.#lookup.schedulerOfApp(app)) ?? 'docker';
    return runtimeFor(this.#runtimes, scheduler);
  }

  start(spec: ServiceSpec): Promise<string> { return this.of(spec.name, spec.app).start(spec); }
  waitReady(name: string, timeoutMs: number): Promise<void> { return this.of(name).waitReady(name, timeoutMs); }

  connect(name: string, app: string): Promise<string> {
    const addonScheduler = this.#lookup.schedulerOfAddon(name) ?? 'docker';
    checkSameScheduler({ name, scheduler: addonScheduler }, { name: app, scheduler: this.#lookup.schedulerOfApp(app) ?? 'docker' });
    return this.of(name).connect(name, app);
  }

  disconnect(name: string, app: string): Promise<void> { return this.of(name, app).disconnect(name, app); }
  remove(name: string, apps: string[]): Promise<void> { return this.of(name, apps[0]).remove(name, apps); }
  status(name: string): Promise<ServiceStatus> { return this.of(name).status(name); }
  openClient(name: string, command: string[], size: { cols: number; rows: number }): Promise<ExecSession> { return this.of(name).openClient(name, command, size); }
  exec(name: string, run: ServiceExec): Promise<ServiceExecResult> { return this.of(name).exec(name, run); }
}
