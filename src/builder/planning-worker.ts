// Source preparation whose cost grows with what a push contains (indexing the source tar, matching every
// path against .dockerignore) runs in a worker thread with a deadline, so a hostile repository slows only
// its own build and never the server's event loop (API, git, every other team's deploys).
//
// The worker runs this same module: from sources, this file; in dist/berth-server.mjs and dist/berth, this
// module bundled alone, baked in by scripts/build.mjs as source text (dist/berth has no file to start a worker
// from, and starting one from the server bundle would load all of the server for each build).
import { open } from 'node:fs/promises';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { dockerignoreFilter } from './dockerignore.ts';
import { BuildError } from './errors.ts';
import { indexTar, readEntry, type TarEntry } from './tar.ts';

/** This module bundled on its own as CommonJS; defined in dist/berth-server.mjs and dist/berth. */
declare const BERTH_PLANNING_WORKER: string | undefined;

export const BUILD_WORKER_ARG = 'build-worker';
const ROLE = 'berth-source-preparation';
export const PLANNING_DEADLINE_MS = 60_000;
/** A .dockerignore larger than this is not a list of patterns; refused like other oversized manifests. */
const MAX_DOCKERIGNORE_BYTES = 1024 * 1024;

export interface PreparedSource {
  entries: TarEntry[];
  /** Every directory that holds an entry (git archive lists directories, other tar producers may not). */
  dirs: string[];
  /** 1 where .dockerignore leaves the entry out of the build context. */
  ignored: Uint8Array;
}

export interface PrepareOptions {
  deadlineMs?: number;
  signal?: AbortSignal;
}

/** Indexes the spooled source tar and applies its .dockerignore, in a worker that is ended at the deadline. */
export function prepareSource(tarFile: string, options: PrepareOptions = {}): Promise<PreparedSource> {
  return startPreparation(options).prepare(tarFile);
}

export interface Preparation {
  /** Hands the spooled tar to the worker; the deadline runs from here. Once only. */
  prepare(tarFile: string): Promise<PreparedSource>;
  /** Ends the worker when its tar will never come (the spooling failed). */
  cancel(): void;
}

/**
 * Starts the worker before its tar exists: booting a thread and loading its modules costs tens of ms (hundreds on
 * a busy machine), which this way overlap the spooling of the source instead of following it.
 */
export function startPreparation(options: PrepareOptions = {}): Preparation {
  const deadlineMs = options.deadlineMs ?? PLANNING_DEADLINE_MS;
  const embedded = typeof BERTH_PLANNING_WORKER === 'string' ? BERTH_PLANNING_WORKER : undefined;
  const worker = new Worker(embedded ?? new URL(import.meta.url), {
    eval: embedded !== undefined,
    workerData: { role: ROLE },
    argv: [BUILD_WORKER_ARG],
    // A source with millions of entries fails its own build, not the server.
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  });
  // Until prepare() listens, an early end of the worker is kept for it to report.
  let earlyEnd: Error | null = null;
  const onEarlyError = (err: Error) => { earlyEnd ??= err; };
  const onEarlyExit = (code: number) => { earlyEnd ??= new Error(`exit code ${code}`); };
  worker.once('error', onEarlyError).once('exit', onEarlyExit);
  return {
    cancel: () => { void worker.terminate(); },
    prepare: (tarFile) => new Promise((resolve, reject) => {
      worker.off('error', onEarlyError).off('exit', onEarlyExit);
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        void worker.terminate();
        fn();
      };
      const timer = setTimeout(() => finish(() => reject(new BuildError(
        `build planning took longer than ${deadlineMs / 1000} s (indexing the source and applying .dockerignore); `
        + 'simplify .dockerignore or push fewer files'))), deadlineMs);
      const onAbort = () => finish(() => reject(new BuildError('build aborted')));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (earlyEnd) return finish(() => reject(new Error(`source preparation failed: ${earlyEnd!.message}`)));
      worker.once('message', (message: { ok: PreparedSource } | { buildError: string } | { error: string }) => finish(() => {
        if ('ok' in message) resolve(message.ok);
        else if ('buildError' in message) reject(new BuildError(message.buildError));
        else reject(new Error(`source preparation failed: ${message.error}`));
      }));
      worker.once('error', (err) => finish(() => reject(new Error(`source preparation failed: ${err.message}`))));
      worker.once('exit', (code) => finish(() => reject(new Error(`source preparation ended without an answer (exit code ${code})`))));
      worker.postMessage({ tarFile });
    }),
  };
}

/** The worker's side: everything here runs off the server's event loop. */
async function prepare(tarFile: string): Promise<PreparedSource> {
  const handle = await open(tarFile, 'r');
  try {
    const entries = await indexTar(handle, (await handle.stat()).size);
    const ignoreEntry = entries.find((e) => e.path === '.dockerignore' && e.type === 'file');
    if (ignoreEntry && ignoreEntry.size > MAX_DOCKERIGNORE_BYTES) throw new BuildError(`.dockerignore is larger than ${MAX_DOCKERIGNORE_BYTES} bytes`);
    const text = ignoreEntry ? (await readEntry(handle, ignoreEntry)).toString('utf8') : null;
    const keep = dockerignoreFilter(text, []);
    const ignored = new Uint8Array(entries.length);
    entries.forEach((entry, i) => { ignored[i] = keep(entry.path) ? 0 : 1; });
    return { entries, dirs: directoriesOf(entries), ignored };
  } finally {
    await handle.close();
  }
}

/** Each entry's ancestors, walking up only until one is already known: linear in the paths' total length. */
function directoriesOf(entries: TarEntry[]): string[] {
  const dirs = new Set<string>();
  for (const { path } of entries) {
    for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) {
      const dir = path.slice(0, slash);
      if (dirs.has(dir)) break;
      dirs.add(dir);
    }
  }
  return [...dirs];
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  const answer = (tarFile: string) => prepare(tarFile).then(
    (ok) => parentPort!.postMessage({ ok }),
    (err: unknown) => parentPort!.postMessage(err instanceof BuildError ? { buildError: err.message } : { error: err instanceof Error ? err.message : String(err) }),
  );
  // The tar comes by message (the worker starts before it is spooled); a server started from an older copy of
  // this file, still running while its sources are updated, hands it over in workerData.
  const { tarFile } = workerData as { tarFile?: string };
  if (tarFile !== undefined) void answer(tarFile);
  else parentPort!.once('message', (message: { tarFile: string }) => void answer(message.tarFile));
}
