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

/** Lines of a step's output kept to explain its failure. */
const CONTEXT_LINES = 20;
/** A failing step is named by this much of its instruction: generated ones can be long. */
const STEP_CHARS = 80;
// npm's closing summary of a failed script repeats the command; the app's own last line says more.
const TRAILER = /^npm (error|ERR!)\s*($|code |path |command |errno |signal |Lifecycle script |A complete log )|A complete log of this run/;
const STEP_LINE = /^Step (\d+\/\d+) : (.*)$/;

/** Where the build is: the step running and what it printed so far (the last CONTEXT_LINES lines). */
export class BuildProgress {
  step: string | null = null;
  instruction: string | null = null;
  output: string[] = [];

  see(line: string): void {
    const step = STEP_LINE.exec(line);
    if (step) {
      this.step = step[1];
      this.instruction = step[2];
      this.output = [];
      return;
    }
    this.output.push(line);
    if (this.output.length > CONTEXT_LINES) this.output.shift();
  }

  /** "at step 5/8 (RUN npm run build)", or "" before the first step. */
  where(): string {
    if (!this.step || this.instruction === null) return '';
    const text = this.instruction.length > STEP_CHARS ? `${this.instruction.slice(0, STEP_CHARS)}…` : this.instruction;
    return ` at step ${this.step} (${text})`;
  }
}

/**
 * The failure said once, for a pusher who just saw the output stream by: the step, and the error in the app's
 * words (the step's last line) rather than the engine's "The command '/bin/sh -c …' returned a non-zero code".
 */
export function failureMessage(progress: BuildProgress, engineError: string): string {
  const exit = /^The command .* returned a non-zero code: (\d+)$/s.exec(engineError.trim());
  if (!exit) return `build failed${progress.where()}: ${engineError}`;
  const said = progress.output.filter((l) => !TRAILER.test(l)).at(-1)?.trim();
  return `build failed${progress.where()}: ${said ? `${said} (exit code ${exit[1]})` : `exit code ${exit[1]}`}`;
}

/** Builds and tags the image; resolves with the id of the image the engine reports it built. */
export async function engineBuild(docker: Docker, build: EngineBuild): Promise<string> {
  const deadline = AbortSignal.timeout(build.timeoutMs);
  const signal = build.signal ? AbortSignal.any([build.signal, deadline]) : deadline;
  const progress = new BuildProgress();
  const emit = (line: string) => {
    progress.see(line);
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
    return await followBuild(output as Readable, emit, progress);
  } catch (err) {
    build.context.destroy();
    if (deadline.aborted) throw new BuildError(`build timed out after ${Math.round(build.timeoutMs / 1000)} s${progress.where()}`, progress.instruction);
    if (build.signal?.aborted) throw new BuildError('build aborted');
    if (err instanceof BuildError) throw err;
    // The engine refuses some builds outright (no such Dockerfile, bad base image name) with an HTTP error.
    if (isEngineRefusal(err)) throw new BuildError(failureMessage(progress, engineReason(err)), progress.instruction);
    throw err;
  }
}

async function followBuild(output: Readable, emit: (line: string) => void, progress: BuildProgress): Promise<string> {
  let imageId: string | null = null;
  for await (const message of engineMessages(output)) {
    const failure = messageError(message);
    if (failure) throw new BuildError(failureMessage(progress, failure), progress.instruction);
    if (typeof message.aux?.ID === 'string') imageId = message.aux.ID;
    for (const line of outputLines(message.stream ?? message.status ?? '')) if (!isBuilderChatter(line)) emit(line);
  }
  // An output that just stops (the engine went away) is no success, even if an older image has the tag.
  if (imageId === null) throw new BuildError(`build ended without producing an image${progress.where()}`, progress.instruction);
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
