// Log reading across every instance of an app: a merged tail, optionally followed live.
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { LogLine, LogOptions } from '../types.ts';
import { isNotFound, withDeadline } from './errors.ts';
import { identityFromLabels, managedLabelFilter, type InstanceIdentity } from './labels.ts';
import { LogDecoder, mergeTail, toDockerSince } from './log-decoder.ts';
import { LogFollower, type LogCursor } from './log-follower.ts';

export interface LoggedContainer {
  id: string;
  identity: InstanceIdentity;
  running: boolean;
}

/** Which containers to read, and how long one engine call may take. */
export interface LogScope { owner: string; app: string; requestMs: number }

export async function* readLogs(docker: Docker, scope: LogScope, opts: LogOptions): AsyncGenerator<LogLine> {
  if (opts.signal?.aborted) return;
  const engine = new LogEngine(docker, scope);
  if (!opts.follow) {
    const containers = await engine.list(opts.signal);
    const perContainer = await Promise.all(containers.map((c) => engine.tail(c, opts.tail, opts.signal)));
    yield* mergeTail(perContainer.flat(), opts.tail);
    return;
  }
  const follower = new LogFollower({
    list: (signal) => engine.list(signal),
    tail: (container, signal) => engine.tail(container, opts.tail, signal),
    follow: (container, cursor, signal) => engine.follow(container.id, cursor, signal),
    tailCount: opts.tail,
    signal: opts.signal,
  });
  yield* follower.lines();
}

/** The engine calls log reading needs, each bounded by the request deadline. */
class LogEngine {
  private readonly docker: Docker;
  private readonly scope: LogScope;
  private readonly requestMs: number;

  constructor(docker: Docker, scope: LogScope) {
    this.docker = docker;
    this.scope = scope;
    this.requestMs = scope.requestMs;
  }

  async list(signal?: AbortSignal): Promise<LoggedContainer[]> {
    const filters = { label: managedLabelFilter(this.scope.owner, this.scope.app) };
    const containers = await withDeadline(`listing containers of ${this.scope.app}`, this.requestMs,
      (abortSignal) => this.docker.listContainers({ all: true, filters, abortSignal }), signal);
    return containers.map((c) => ({ id: c.Id, identity: identityFromLabels(c.Labels), running: c.State === 'running' }));
  }

  /** The last `tail` lines of one container (all of them when tail is negative); none for a vanished container. */
  async tail(container: LoggedContainer, tail: number, signal?: AbortSignal): Promise<LogLine[]> {
    if (tail === 0) return [];
    try {
      const raw = await withDeadline(`reading logs of ${container.id}`, this.requestMs, (abortSignal) =>
        this.docker.getContainer(container.id).logs({
          stdout: true, stderr: true, timestamps: true, follow: false, abortSignal,
          ...(tail > 0 ? { tail } : {}),
        }), signal);
      const decoder = new LogDecoder(container.identity);
      // docker-modem hands back a Buffer unless the body happens to parse as JSON (impossible for framed output).
      return [...decoder.push(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))), ...decoder.end()];
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  /** A live stream from the cursor on; the deadline only covers opening it, `signal` ends it. */
  async follow(id: string, cursor: LogCursor | null, signal: AbortSignal): Promise<Readable> {
    const opening = new AbortController();
    const timer = setTimeout(() => opening.abort(new Error(`the Docker engine did not open the log stream of ${id}`)), this.requestMs);
    try {
      // docker-modem resolves follow requests with the raw http.IncomingMessage.
      return (await this.docker.getContainer(id).logs({
        stdout: true, stderr: true, timestamps: true, follow: true,
        abortSignal: AbortSignal.any([signal, opening.signal]),
        // No cursor: from the very first line. `since` is inclusive; the follower drops the repeats.
        ...(cursor ? { since: toDockerSince(cursor.time) } : {}),
      })) as Readable;
    } finally {
      clearTimeout(timer);
    }
  }
}
