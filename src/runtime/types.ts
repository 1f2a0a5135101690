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
  hostPort: number | null;
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
}
