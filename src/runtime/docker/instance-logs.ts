// One container's log as a stream of LogLines from a point in time on, followed until the container
// stops: what the log store's collector reads, each container from its own saved position.
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Instance, InstanceLogOptions, LogLine } from '../types.ts';
import { isNotFound } from './errors.ts';
import { LogDecoder, toDockerSince } from './log-decoder.ts';

export async function* followInstanceLogs(
  docker: Docker,
  instance: Pick<Instance, 'id' | 'app' | 'process' | 'index'>,
  opts: InstanceLogOptions,
  openTimeoutMs: number,
): AsyncGenerator<LogLine> {
  const opening = new AbortController();
  const timer = setTimeout(() => opening.abort(new Error(`the Docker engine did not open the log stream of ${instance.id}`)), openTimeoutMs);
  let stream: Readable;
  try {
    // docker-modem resolves follow requests with the raw http.IncomingMessage.
    stream = (await docker.getContainer(instance.id).logs({
      stdout: true, stderr: true, timestamps: true, follow: true,
      abortSignal: AbortSignal.any([opts.signal, opening.signal]),
      ...(opts.since ? { since: toDockerSince(opts.since) } : {}),
    })) as Readable;
  } catch (err) {
    if (isNotFound(err) || opts.signal.aborted) return;
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const decoder = new LogDecoder({ app: instance.app, process: instance.process, index: instance.index });
  try {
    for await (const chunk of stream) yield* decoder.push(chunk as Buffer);
    yield* decoder.end();
  } catch (err) {
    if (!opts.signal.aborted) throw err;
  } finally {
    stream.destroy();
  }
}
