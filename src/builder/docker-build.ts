// One `docker build` through the Engine API (legacy builder: its layer cache is all we need),
// with the output streamed line by line, errors turned into exceptions, and a deadline.
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { BuildError } from './errors.ts';
import { engineMessages, messageError, outputLines } from './engine-stream.ts';

export interface EngineBuild {
  context: Readable;
  tag: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  progress: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs: number;
}

/** Lines of output kept to explain a failure. */
const CONTEXT_LINES = 20;

/** Builds and tags the image; resolves with the id of the image the engine reports it built. */
export async function engineBuild(docker: Docker, build: EngineBuild): Promise<string> {
  const deadline = AbortSignal.timeout(build.timeoutMs);
  const signal = build.signal ? AbortSignal.any([build.signal, deadline]) : deadline;
  const recent: string[] = [];
  const emit = (line: string) => {
    recent.push(line);
    if (recent.length > CONTEXT_LINES) recent.shift();
    build.progress(line);
  };
  try {
    signal.throwIfAborted();
    const output = await docker.buildImage(build.context, {
      t: build.tag,
      dockerfile: build.dockerfile,
      buildargs: build.buildArgs,
      labels: build.labels,
      rm: true,
      forcerm: true,
      abortSignal: signal,
    });
    return await followBuild(output as Readable, emit, recent);
  } catch (err) {
    build.context.destroy();
    if (deadline.aborted) throw new BuildError(`build timed out after ${Math.round(build.timeoutMs / 1000)} s${tail(recent)}`);
    if (build.signal?.aborted) throw new BuildError('build aborted');
    if (err instanceof BuildError) throw err;
    // The engine refuses some builds outright (no such Dockerfile, bad base image name) with an HTTP error.
    if (isEngineRefusal(err)) throw new BuildError(`build failed: ${engineReason(err)}${tail(recent)}`);
    throw err;
  }
}

async function followBuild(output: Readable, emit: (line: string) => void, recent: string[]): Promise<string> {
  let imageId: string | null = null;
  for await (const message of engineMessages(output)) {
    const failure = messageError(message);
    if (failure) throw new BuildError(`build failed: ${failure}${tail(recent)}`);
    if (typeof message.aux?.ID === 'string') imageId = message.aux.ID;
    for (const line of outputLines(message.stream ?? message.status ?? '')) if (!isBuilderChatter(line)) emit(line);
  }
  // An output that just stops (the engine went away) is no success, even if an older image has the tag.
  if (imageId === null) throw new BuildError(`build ended without producing an image${tail(recent)}`);
  return imageId;
}

/** The builder's container bookkeeping says nothing to the pusher; layer ids and "Using cache" stay. */
function isBuilderChatter(line: string): boolean {
  return /^\s*---> Running in [0-9a-f]+$/.test(line) || /^Removing intermediate container [0-9a-f]+$/.test(line);
}

function isEngineRefusal(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'statusCode' in err && Number(err.statusCode) >= 400 && Number(err.statusCode) < 600;
}

/** docker-modem puts the engine's JSON answer in `json`; its message is the useful part. */
function engineReason(err: unknown): string {
  const json = (err as { json?: { message?: string } }).json;
  return json?.message ?? (err as Error).message;
}

function tail(recent: string[]): string {
  return recent.length > 0 ? `\n--- last build output ---\n${recent.join('\n')}` : '';
}
