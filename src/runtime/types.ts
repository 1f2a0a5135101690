// The runtime contract: everything Berth needs from a container platform, and nothing more.
// Docker (src/runtime/docker) implements it today; a Kubernetes driver will implement the same.

/** One instance Berth wants running: one container of one process type of one release. */
export interface InstanceSpec {
  app: string;
  release: number;              // release version (vN)
  process: string;              // process type: web, worker, ...
  index: number;                // 1-based: web.1, web.2, ...
  generation: number;           // bumped by ps:restart so instances get replaced
  image: string;                // image id (sha256:...) or reference
  command: string[] | null;     // null: the image's own CMD
  env: Record<string, string>;  // config vars plus PORT, DYNO, BERTH_* (already merged)
  containerPort: number | null; // the PORT the app listens on (web only)
  hostPort: number | null;      // published on 127.0.0.1, chosen by Berth so restarts keep it
  memoryMB: number | null;
  cpus: number | null;
}

export type InstanceState = 'created' | 'running' | 'restarting' | 'exited' | 'dead' | 'paused' | 'removing';

export interface Instance {
  id: string;                   // container id
  name: string;                 // container name, e.g. berth-hello-v3-web-1-g0
  app: string;
  release: number;
  process: string;
  index: number;
  generation: number;
  image: string;
  host: string;                 // address the router reaches it on (127.0.0.1 for the local engine)
  hostName?: string;            // the node it runs on (the Kubernetes scheduler's); unset on the local Docker engine
  hostPort: number | null;
  /** Reached without docker-proxy: its address on the local engine's Berth network. null: only via host:hostPort. */
  privateAddress?: { host: string; port: number } | null;
  memoryMB: number | null;
  cpus: number | null;
  state: InstanceState;
  startedAt: string | null;     // ISO time
  restartCount: number;
}

export interface ImageInfo {
  id: string;
  digest: string | null;
  exposedPorts: number[];       // TCP ports the image declares (EXPOSE)
  labels?: Record<string, string>; // the image's labels (berth.app: the app Berth built it for)
}

export interface LogLine {
  time: string;                 // ISO time with sub-second precision, as the engine stamped it
  app: string;
  process: string;
  index: number;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface LogOptions { tail: number; follow: boolean; signal?: AbortSignal }

/** A container run to completion: the release phase, and later `berth run`. */
export interface OneOffSpec {
  app: string;
  release: number;
  image: string;
  command: string[];
  env: Record<string, string>;
  memoryMB: number | null;
  timeoutSec: number;            // killed after this long: a hung migration must not hold the deploy forever
}

/** `berth run`: a one-off attached to its caller (stdin in, output out), with a TTY or not; run.N in its app. */
export interface AttachedRunSpec extends OneOffSpec {
  tty: boolean;
  cols: number;
  rows: number;
}

/** A running attached one-off. Without a TTY, stdout and stderr stay apart. */
export interface AttachedRun {
  /** run.N: N is the lowest number no other run of the app holds. */
  name: string;
  stdout: NodeJS.ReadableStream;
  stderr: NodeJS.ReadableStream;
  write(data: Buffer): void;
  /** Closes the command's stdin (a pipe's end). */
  endInput(): void;
  resize(cols: number, rows: number): Promise<void>;
  /** Sends the signal to the command (Ctrl-C without a TTY: SIGINT). */
  signal(name: 'SIGINT' | 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Resolves with the command's exit code once it ended (killed at the time limit: 137); the container is gone by then. */
  exited: Promise<number>;
}

/** Cumulative resource counters of one running instance at one moment; rates come from two readings. */
export interface InstanceStats {
  id: string;                   // container id
  app: string;
  process: string;
  index: number;
  at: number;                   // epoch ms the engine read the counters
  cpuNs: number;                // CPU time used since start, all cores
  memoryBytes: number;          // working set (without reclaimable page cache)
  memoryLimitBytes: number | null;
  rxBytes: number;
  txBytes: number;
  blockReadBytes: number;
  blockWriteBytes: number;
}

/** A change of one instance as the engine reports it: the web console's pages update from these. */
export interface RuntimeEvent {
  time: string;                 // ISO
  app: string;
  process: string;
  index: number;
  container: string;            // container name
  action: 'start' | 'die' | 'stop' | 'kill' | 'oom' | 'destroy';
  exitCode: number | null;
}

export interface ExecOptions { command: string[]; cols: number; rows: number; env?: Record<string, string> }

/** An interactive process with a TTY inside a running instance (the web terminal). */
export interface ExecSession {
  output: NodeJS.ReadableStream;
  write(data: string | Buffer): void;
  resize(cols: number, rows: number): Promise<void>;
  /** Ends the process and everything it started; safe to call twice. */
  close(): Promise<void>;
  /** Resolves when the process ended (or the stream broke). */
  ended: Promise<void>;
}

export interface Runtime {
  /** Creates and starts the container; resolves once the engine reports it started. */
  start(spec: InstanceSpec): Promise<Instance>;
  /** Stops (SIGTERM, then SIGKILL after timeoutSec) and removes. Unknown ids are not an error. */
  remove(id: string, timeoutSec: number): Promise<void>;
  /** Berth-managed instances, optionally of one app. */
  list(app?: string): Promise<Instance[]>;
  /** null when the image is not present and cannot be pulled. */
  resolveImage(ref: string): Promise<ImageInfo | null>;
  /** Log lines of every instance of the app, oldest first; with follow, new instances are picked up too. */
  logs(app: string, opts: LogOptions): AsyncIterable<LogLine>;
  /** Runs a one-off container to its end, passing each output line on; resolves with its exit code. */
  runOnce(spec: OneOffSpec, onLine: (line: string) => void): Promise<number>;
  /** `berth run`: a one-off attached to its caller. Optional: drivers without it refuse `berth run`. */
  runAttached?(spec: AttachedRunSpec): Promise<AttachedRun>;
  /** The app's `berth run` one-offs now running, as run.N instances (never part of list()). Optional. */
  runs?(app: string): Promise<Instance[]>;
  /** Removes one-offs left by a Berth that stopped while they ran (nobody is attached to them now); their names. */
  removeLeftoverOneOffs?(): Promise<string[]>;
  /** One reading of every running Berth instance (all apps): one call per collection round. */
  stats(): Promise<InstanceStats[]>;
  /** Engine events of Berth's instances until the signal aborts. Optional: drivers without it give no live updates. */
  events?(signal: AbortSignal): AsyncIterable<RuntimeEvent>;
  /** A shell with a TTY in one of Berth's running instances. Optional: drivers without it offer no terminal. */
  exec?(containerId: string, opts: ExecOptions): Promise<ExecSession>;
  /**
   * One instance's log from `since` on (inclusive, an ISO time as in LogLine.time; null: from its first line),
   * followed until the container stops. Optional: without it the log store collects nothing from this driver.
   */
  instanceLogs?(instance: Pick<Instance, 'id' | 'app' | 'process' | 'index'>, opts: InstanceLogOptions): AsyncIterable<LogLine>;
  /**
   * Readies what `count` instances (or one-offs) of the app about to start can use before their image exists, so
   * they start faster: a push calls it before building. Optional; starts work the same without it.
   */
  prepareInstances?(app: string, count: number): InstancePreparation;
  /** Removes whatever prepareInstances keeps ready for the app (it is destroyed, or moved to another scheduler). Optional. */
  dropPrepared?(app: string): Promise<void>;
  /** TCP ports a running instance listens on (a failed health check says so); null when that cannot be seen. Optional. */
  listeningPorts?(instance: Pick<Instance, 'id'>): Promise<number[] | null>;
}

/** What a runtime readies ahead of a deploy (src/runtime/docker/holders.ts); end() once the deploy returned. */
export interface InstancePreparation {
  /** Resolves (never rejects) once everything that could be readied is. */
  ready: Promise<void>;
  /** Resolves (never rejects) once the runtime has done what it does after the deploy (readies the next one). */
  end(): Promise<void>;
}

/** What a runtime or scheduler without anything to ready answers. */
export const NOTHING_PREPARED: InstancePreparation = { ready: Promise.resolve(), end: async () => {} };

export interface InstanceLogOptions { since: string | null; signal: AbortSignal }
