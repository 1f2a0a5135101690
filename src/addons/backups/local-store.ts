// The local backup store: BERTH_DATA_DIR/backups/ADDON/ID.dump. A put streams into a temp file beside the key,
// hashing as it goes, fsyncs it and renames it into place (then fsyncs the directory), so a crash or a full
// disk leaves a stray temp file at worst (swept at startup), never a partial dump under a key.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { notFound } from '../../shared/errors.ts';
import { HashedFileWriter } from './hashed-file.ts';
import { assertBackupKey, type BackupStore, type StoredObject } from './store.ts';

const TEMP_MARK = '.partial-';
/**
 * A restore's checksum pass reads 1 MiB at a time into one buffer. The streams (a restore's feed into the service, a
 * download) keep the default 64 KiB reads: with 1 MiB ones each read's fresh buffer lingered until a GC, and the
 * server's RSS rose by 20-30 MB during a 39 MB restore instead of staying within 3 MB (docs/benchmarks.md, add-ons).
 */
const HASH_BUFFER_BYTES = 1024 * 1024;

export class LocalBackupStore implements BackupStore {
  readonly kind = 'local' as const;
  readonly #root: string;
  constructor(root: string) { this.#root = root; }

  async put(key: string, body: Readable): Promise<StoredObject> {
    const target = this.#path(key);
    await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    const temp = `${path.dirname(target)}/${TEMP_MARK}${randomBytes(6).toString('hex')}-${path.basename(target)}`;
    let file: FileHandle | null = null;
    try {
      file = await fsp.open(temp, 'wx', 0o600);
      const writer = new HashedFileWriter(file);
      // The writer's end fsyncs the file's data, so the rename never publishes unwritten bytes.
      await pipeline(body, writer);
      await file.close();
      file = null;
      await fsp.rename(temp, target);
      await syncDirectory(path.dirname(target));
      return { size: writer.size, sha256: writer.sha256() };
    } catch (err) {
      await file?.close().catch(() => {});
      await fsp.rm(temp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Readable> {
    return (await this.#open(key)).createReadStream();
  }

  /**
   * The SHA-256 of the bytes under key, read through one buffer: a restore's checksum pass reads the whole dump
   * as fast as the disk gives it, and a stream's fresh buffer per read left tens of MB of garbage in the server's
   * RSS until a GC came round.
   */
  async sha256(key: string): Promise<string> {
    const handle = await this.#open(key);
    try {
      const hash = createHash('sha256');
      const buffer = Buffer.allocUnsafe(HASH_BUFFER_BYTES);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) return hash.digest('hex');
        hash.update(buffer.subarray(0, bytesRead));
      }
    } finally {
      await handle.close();
    }
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.#path(key), { force: true });
  }

  /** Temp files a crash left behind (a put that never finished); run at startup before any put. */
  async sweepPartials(): Promise<number> {
    let swept = 0;
    const dirs = await fsp.readdir(this.#root, { withFileTypes: true }).catch(() => [] as fs.Dirent[]);
    for (const dir of dirs.filter((d) => d.isDirectory())) {
      const inside = path.join(this.#root, dir.name);
      for (const name of await fsp.readdir(inside)) {
        if (!name.startsWith(TEMP_MARK)) continue;
        await fsp.rm(path.join(inside, name), { force: true });
        swept++;
      }
    }
    return swept;
  }

  #open(key: string): Promise<FileHandle> {
    return fsp.open(this.#path(key), 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw notFound(`No stored backup under ${key}.`);
      throw err;
    });
  }

  #path(key: string): string {
    assertBackupKey(key);
    return path.join(this.#root, key);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try { await handle.sync(); } finally { await handle.close(); }
}
