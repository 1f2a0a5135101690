// The pushed source tree, spooled to a temp file so it can be inspected (detection needs a few small
// files) and then streamed to Docker as the build context, without ever holding it in memory.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { startPreparation, type PreparedSource } from './planning-worker.ts';
import { endOfArchive, fileRecord, readEntry, type TarEntry } from './tar.ts';

/** Where Berth's generated files live in the build context (replacing the user's own `.berth/`, if any). */
export const GENERATED_DIR = '.berth';

/** Manifests are small; a huge one is a mistake (or an attack) and is refused, not read. */
const MAX_READ_BYTES = 1024 * 1024;
const COPY_CHUNK_BYTES = 64 * 1024;

export interface SourceTree {
  /** True when the path exists (any type: file, directory, symlink). */
  has(path: string): boolean;
  /** Names of the entries directly inside a directory ('' for the root), sorted. */
  list(dir: string): string[];
  /** Content of a regular file as UTF-8, or null when it is missing or not a regular file. */
  readText(path: string): Promise<string | null>;
  /**
   * The build context: the source's entries that its .dockerignore leaves in (and those in `alwaysKeep`,
   * like the Dockerfile, as `docker build` does), then the generated files under `.berth/`.
   */
  context(generated: Record<string, Buffer>, alwaysKeep?: string[]): Readable;
  dispose(): Promise<void>;
}

export async function spoolSource(source: Readable, signal?: AbortSignal): Promise<SourceTree> {
  // Start consuming at once: a child process's stdout (git archive) that nobody reads when the
  // child exits is drained and its data lost, so no await may come before the pipeline.
  const file = path.join(os.tmpdir(), `berth-source-${randomUUID()}.tar`);
  // Indexing and .dockerignore run in a worker with a deadline (their cost is the pusher's to choose), started
  // now so that its boot overlaps the spooling.
  const preparation = startPreparation({ signal });
  try {
    try {
      await pipeline(source, createWriteStream(file, { flags: 'wx', mode: 0o600 }), { signal });
    } catch (err) {
      preparation.cancel();
      throw err;
    }
    const prepared = await preparation.prepare(file);
    return sourceTree(await open(file, 'r'), prepared, file);
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
}

function isGenerated(entryPath: string): boolean {
  return entryPath === GENERATED_DIR || entryPath.startsWith(`${GENERATED_DIR}/`);
}

function sourceTree(handle: FileHandle, { entries, dirs: dirList, ignored }: PreparedSource, file: string): SourceTree {
  const byPath = new Map(entries.map((entry) => [entry.path, entry]));
  const dirs = new Set(dirList);
  return {
    has: (p) => byPath.has(p) || dirs.has(p),
    list: (dir) => childNames([...byPath.keys(), ...dirs], dir),
    async readText(p) {
      const entry = byPath.get(p);
      if (!entry || entry.type !== 'file') return null;
      if (entry.size > MAX_READ_BYTES) throw new Error(`${p} is larger than ${MAX_READ_BYTES} bytes`);
      return (await readEntry(handle, entry)).toString('utf8');
    },
    context(generated, alwaysKeep = []) {
      const keep = new Set(alwaysKeep);
      const replacesGenerated = Object.keys(generated).length > 0;
      const kept = entries.filter((entry, i) => (ignored[i] === 0 || keep.has(entry.path)) && !(replacesGenerated && isGenerated(entry.path)));
      return Readable.from(contextChunks(handle, kept, generated));
    },
    async dispose() {
      await handle.close().catch(() => {});
      await rm(file, { force: true });
    },
  };
}

function childNames(paths: string[], dir: string): string[] {
  const prefix = dir === '' ? '' : `${dir.replace(/\/+$/, '')}/`;
  const names = new Set<string>();
  for (const p of paths) {
    if (!p.startsWith(prefix) || p === prefix) continue;
    const name = p.slice(prefix.length).split('/')[0]!;
    if (name !== '') names.add(name);
  }
  return [...names].sort();
}

async function* contextChunks(handle: FileHandle, entries: TarEntry[], generated: Record<string, Buffer>): AsyncGenerator<Buffer> {
  for (const entry of entries) yield* byteRange(handle, entry.start, entry.end);
  for (const [name, content] of Object.entries(generated)) yield fileRecord(`${GENERATED_DIR}/${name}`, content);
  yield endOfArchive();
}

async function* byteRange(handle: FileHandle, start: number, end: number): AsyncGenerator<Buffer> {
  for (let at = start; at < end; at += COPY_CHUNK_BYTES) {
    const length = Math.min(COPY_CHUNK_BYTES, end - at);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, at);
    if (bytesRead < length) throw new Error('source tar archive is truncated');
    yield buffer;
  }
}
