// The scheduler contract: what Berth asks of whatever runs its apps, at the level of "run this release".
// Like Dokku's scheduler-deploy / -run / -enter / -logs triggers: the Docker scheduler (src/scheduler/docker)
// rolls containers out itself; the Kubernetes scheduler (src/scheduler/kubernetes) hands a Deployment to the
// cluster. Everything above (deployer, API, console, log store, metrics) talks to this contract only.
// The conformance suite (test/scheduler/conformance.case.ts) is run against every implementation.
import type {
  AttachedRun, ExecOptions, ExecSession, ImageInfo, Instance, InstanceLogOptions, InstancePreparation, InstanceStats, LogLine, LogOptions, RuntimeEvent,
} from '../runtime/types.ts';
import type { FormationEntry } from '../state/schema.ts';
import type { CanaryRouting, MaintenancePage } from '../router/types.ts';

export type { AttachedRun, ExecOptions, ExecSession, ImageInfo, Instance, InstancePreparation, InstanceStats, LogLine, LogOptions, RuntimeEvent };

import type { SchedulerName } from './names.ts';

export { SCHEDULER_NAMES, type SchedulerName } from './names.ts';

export type Progress = (line: string) => void;

/** The release an app should run: its image and the config it runs with. */
export interface ReleaseToRun {
  version: number;
  /** The image as the local engine knows it (sha256:… id or a reference). */
  imageId: string;
  /** The image's reference (REGISTRY/APP:vN for pushed builds, or what `deploy --image` named); null: only the id. */
  imageRef: string | null;
  config: Record<string, string>;
  /** The PORT web instances listen on. */
  containerPort: number | null;
}

/** What the app should look like once deploy resolves. Scale and restart are deploys too (quantities, generations). */
export interface DeployRequest {
  app: string;
  /** null: the app runs nothing (no image yet); its route answers 503. */
  release: ReleaseToRun | null;
  formation: FormationEntry[];
  /** APP.<domain> plus custom domains: the router sends these to the app's upstream. */
  hostnames: string[];
  /** HEALTHCHECK_PATH / HEALTHCHECK_TIMEOUT resolved against the installation's defaults. */
  health: { path: string; timeoutSec: number };
  /**
   * Return once the new release serves; the old instances drain and stop afterwards (a `git push` returns
   * without waiting out the drain). The app's next change leaves them to it; destroy and stop wait for them.
   */
  drainInBackground?: boolean;
  /** Set: the route answers this 503 page while the instances keep running (maintenance:on). */
  maintenance?: MaintenancePage | null;
  /**
   * The release phase (`release:` command, predeploy), already running. Nothing may change what serves, and no
   * process but a web instance awaiting its first route may start, until it succeeded; if it fails, deploy throws
   * its error and the previous release keeps serving. A scheduler may start web instances meanwhile or simply wait.
   */
  releasePhase?: Promise<void> | null;
  /**
   * Set: a canary release runs beside `release`: its web instances (as many as the formation's web) start and pass
   * the health check like any new instances, then the edge sends them the requests `routing` picks (a second
   * workload behind the same route; on Kubernetes a second Deployment and Service). Absent on a later deploy: the
   * canary's instances drain and stop. Promoting is a deploy whose `release` is the canary's.
   */
  canary?: CanaryToRun | null;
}

export interface CanaryToRun {
  release: ReleaseToRun;
  routing: CanaryRouting;
}

/** A command run to completion in a fresh instance of a release: the release phase, `berth run`. */
export interface OneOffRequest {
  app: string;
  release: ReleaseToRun;
  command: string[];
  /** Added to the release's config (DYNO, BERTH_PROCESS, …). */
  env: Record<string, string>;
  memoryMB: number | null;
  /** Killed after this long: a hung migration must not hold the deploy forever. */
  timeoutSec: number;
}

/** `berth run`: a one-off attached to its caller, with a TTY or not; run.N among the app's processes. */
export interface AttachedRunRequest extends OneOffRequest {
  tty: boolean;
  cols: number;
  rows: number;
}

export interface Scheduler {
  readonly name: SchedulerName;
  /**
   * Makes the app run exactly `req`: starts what is missing, waits until new web instances pass the health
   * check, moves traffic, retires the rest. Progress lines go to `git push` as remote: lines. On failure it
   * throws BerthError(422, 'release_failed') and the previous release keeps serving, untouched.
   */
  deploy(req: DeployRequest, progress?: Progress): Promise<void>;
  /**
   * A deploy of the app starting `instances` new processes (web instances, the release command) comes soon, its image
   * not built yet: readies what can be ready without it (the Docker scheduler: network namespaces they join, kept
   * ready for the app's next push too). Optional; the deploy works the same without it. end() once it returned.
   */
  prepareDeploy?(app: string, instances: number): InstancePreparation;
  /** Takes the app off the router and removes everything it runs here. Unknown apps are not an error. */
  destroy(app: string): Promise<void>;
  /**
   * Removes everything the app runs here but leaves its route alone: the app moved to another scheduler,
   * which already serves it. Old instances get the drain period first.
   */
  stop(app: string): Promise<void>;
  /**
   * Stops these instances of the app (ps:stop) with the usual grace period; the next deploy of the same
   * formation starts fresh ones (a Kubernetes Deployment does so by itself).
   */
  stopInstances(app: string, instances: Instance[]): Promise<void>;
  /** Instances (state, host, restarts) of one app, or of every app this scheduler runs. */
  instances(app?: string): Promise<Instance[]>;
  /** Apps this scheduler runs anything for (reconcile removes those the database doesn't know). */
  apps(): Promise<string[]>;
  /** Log lines of all the app's instances, oldest first; with follow, new instances are picked up too. */
  logs(app: string, opts: LogOptions): AsyncIterable<LogLine>;
  /** One instance's log from `since` on, followed until it stops (the log store's collector). */
  instanceLogs(instance: Pick<Instance, 'id' | 'app' | 'process' | 'index'>, opts: InstanceLogOptions): AsyncIterable<LogLine>;
  /** A process with a TTY inside a running instance (web terminal, `berth run` into an instance). */
  exec(instance: Instance, opts: ExecOptions): Promise<ExecSession>;
  /** Runs a one-off to its end, passing each output line on; resolves with its exit code. */
  runOnce(req: OneOffRequest, onLine: (line: string) => void): Promise<number>;
  /** `berth run`: a one-off attached to its caller; no output is lost even when the command ends at once. */
  runAttached(req: AttachedRunRequest): Promise<AttachedRun>;
  /** The app's running `berth run` one-offs as run.N (ps lists them, ps:stop stops them). */
  runs(app: string): Promise<Instance[]>;
  /** At start (reconcile): removes one-offs a stopped Berth left behind, nobody attached to them; their names. */
  removeLeftoverOneOffs(): Promise<string[]>;
  /** One reading of every running instance's counters (all apps). */
  stats(): Promise<InstanceStats[]>;
  /** Instance changes until the signal aborts (console live updates, log collection). */
  events(signal: AbortSignal): AsyncIterable<RuntimeEvent>;
  /** null when the image does not exist here and cannot be pulled. */
  resolveImage(ref: string): Promise<ImageInfo | null>;
}
