// App logs through the Log API: a merged tail of every pod, optionally followed (the Docker runtime's
// LogFollower picks up new pods and reopens restarted ones), and one pod's log from a time on (the log store).
import type { Readable } from 'node:stream';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Instance, InstanceLogOptions, LogLine, LogOptions } from '../../runtime/types.ts';
import type { LoggedContainer } from '../../runtime/docker/logs.ts';
import { LogFollower, type LogCursor } from '../../runtime/docker/log-follower.ts';
import { mergeTail } from '../../runtime/docker/log-decoder.ts';
import type { Cluster } from './client.ts';
import { CONTAINER } from './manifests.ts';
import { TextLogDecoder } from './log-lines.ts';
import { streamGet, StreamError } from './stream.ts';

export interface LogSource {
  cluster: Cluster;
  namespace: string;
  /** The app's pods now, as instances (identity and whether the container runs). */
  instances: () => Promise<Instance[]>;
}

export async function* readLogs(source: LogSource, opts: LogOptions): AsyncGenerator<LogLine> {
  if (opts.signal?.aborted) return;
  const list = async (): Promise<LoggedContainer[]> => (await source.instances()).map((i) => ({
    id: i.id, identity: { app: i.app, process: i.process, index: i.index }, running: i.state === 'running',
  }));
  const tail = (pod: LoggedContainer) => tailOf(source, pod, opts.tail);
  if (!opts.follow) {
    const perPod = await Promise.all((await list()).map(tail));
    yield* mergeTail(perPod.flat(), opts.tail);
    return;
  }
  const follower = new LogFollower({
    list, tail,
    follow: (pod, cursor, signal) => follow(source, pod.id, cursor, signal),
    decoder: (pod) => new TextLogDecoder(pod.identity),
    tailCount: opts.tail,
    signal: opts.signal,
  });
  yield* follower.lines();
}

/** One pod's log from `since` on (inclusive), followed until its container stops. */
export async function* podLogs(source: Omit<LogSource, 'instances'>, instance: Pick<Instance, 'id' | 'app' | 'process' | 'index'>, opts: InstanceLogOptions): AsyncGenerator<LogLine> {
  let stream: Readable;
  try {
    stream = await follow(source, instance.id, opts.since ? { time: opts.since, seen: 0 } : null, opts.signal);
  } catch (err) {
    if (opts.signal.aborted || (err instanceof StreamError && (err.status === 404 || err.status === 400))) return;
    throw err;
  }
  const decoder = new TextLogDecoder({ app: instance.app, process: instance.process, index: instance.index });
  try {
    for await (const chunk of stream) {
      for (const line of decoder.push(chunk as Buffer)) {
        // sinceTime has a second's precision on some API servers: drop what came before `since`.
        if (!opts.since || line.time >= opts.since) yield line;
      }
    }
    yield* decoder.end();
  } catch (err) {
    if (!opts.signal.aborted) throw err;
  } finally {
    stream.destroy();
  }
}

async function tailOf(source: LogSource, pod: LoggedContainer, tail: number): Promise<LogLine[]> {
  if (tail === 0) return [];
  const core: CoreV1Api = source.cluster.core;
  let text: string;
  try {
    text = await core.readNamespacedPodLog({
      name: pod.id, namespace: source.namespace, container: CONTAINER, timestamps: true, ...(tail > 0 ? { tailLines: tail } : {}),
    });
  } catch {
    return []; // gone, or its container has not started yet: nothing to show
  }
  const decoder = new TextLogDecoder(pod.identity);
  return [...decoder.push(Buffer.from(text, 'utf8')), ...decoder.end()];
}

function follow(source: Omit<LogSource, 'instances'>, pod: string, cursor: LogCursor | null, signal: AbortSignal): Promise<Readable> {
  return streamGet(source.cluster, `/api/v1/namespaces/${source.namespace}/pods/${encodeURIComponent(pod)}/log`, {
    container: CONTAINER, follow: 'true', timestamps: 'true', ...(cursor ? { sinceTime: cursor.time } : {}),
  }, signal);
}
