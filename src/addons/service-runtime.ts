// What an add-on's service needs from the place it runs: the contract the Docker executor (docker-services.ts)
// implements today and a Kubernetes one (a StatefulSet of one) implements next. Addons and the backup engine
// speak only this, so neither knows which scheduler holds the service.
import type { Readable, Writable } from 'node:stream';
import type { ServiceSpec } from '../runtime/docker/service-options.ts';
import type { ExecSession } from '../runtime/types.ts';

export type { ServiceSpec };
/** `down`: the machine holding the service's data is lost; the service waits for it, it never moves without its data. */
export type ServiceStatus = 'starting' | 'up' | 'unhealthy' | 'stopped' | 'missing' | 'down';

/** A non-interactive command run inside the service (a dump or a restore): streamed both ways, never buffered. */
export interface ServiceExec {
  command: string[];
  /** Piped to the command's stdin, which is closed at its end; without it stdin is closed at once. */
  stdin?: Readable;
  /** Receives the command's stdout as it comes (a dump); without it stdout is discarded. */
  stdout?: Writable;
  /** Extra environment for the command (on top of the service's own). */
  env?: Record<string, string>;
}

/** How a ServiceExec ended: the exit code and the last few KiB of stderr (for the error a user sees). */
export interface ServiceExecResult { exitCode: number; stderrTail: string }

export interface ServiceRuntime {
  /** Creates the service's storage and the service itself, reachable from the app; returns its address there. */
  start(spec: ServiceSpec): Promise<string>;
  /** Resolves once the service accepts connections; rejects if it stops or the time runs out. */
  waitReady(name: string, timeoutMs: number): Promise<void>;
  /** Makes the service reachable from another app (addons:attach); returns its address there. */
  connect(name: string, app: string): Promise<string>;
  /** Takes that reach away again (addons:detach). */
  disconnect(name: string, app: string): Promise<void>;
  /** The service and its data go; the attached apps' access with them. */
  remove(name: string, apps: string[]): Promise<void>;
  status(name: string): Promise<ServiceStatus>;
  /** An interactive client with a TTY inside the service (addons:connect). */
  openClient(name: string, command: string[], size: { cols: number; rows: number }): Promise<ExecSession>;
  /** Runs a command inside the service without a TTY, streaming stdin/stdout (backups and restores). */
  exec(name: string, run: ServiceExec): Promise<ServiceExecResult>;
}
