// A dump's way into a file: each piece is hashed and counted as it comes, and the pieces are written in batches
// of BATCH_BYTES (one writev each) instead of one write apiece. A dump arrives in pieces of a few KiB (pg_dump's
// writes, framed one by one by the engine: ~6 KiB on average), and every write is a trip through libuv's thread
// pool; batching them cut the store's share of a capture's CPU time (docs/benchmarks.md, add-ons). The end of
// the stream writes what is left and fsyncs the file; closing it is the caller's (it opened it).
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Bytes gathered before they are written: also the stream's buffer before its writer is told to wait. */
export const BATCH_BYTES = 1024 * 1024;

export class HashedFileWriter extends Writable {
  /** Bytes taken so far. */
  size = 0;
  readonly #hash = createHash('sha256');
  readonly #file: FileHandle;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(file: FileHandle) {
    super({ highWaterMark: BATCH_BYTES });
    this.#file = file;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes < BATCH_BYTES) return done();
    this.#writePending().then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.#writePending().then(() => this.#file.sync()).then(() => done(), done);
  }

  /** The SHA-256 of every byte taken (hex); once, after the end. */
  sha256(): string { return this.#hash.digest('hex'); }

  async #writePending(): Promise<void> {
    const pieces = this.#pending;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (bytes === 0) return;
    const { bytesWritten } = await this.#file.writev(pieces);
    if (bytesWritten !== bytes) throw new Error(`wrote ${bytesWritten} of ${bytes} bytes`);
  }
}
