// Writes a backup archive as a tar stream, entry by entry, keeping each entry's size and sha256 for the
// manifest that closes it. Entries are streamed (a repository pack or an image layer is never held whole).
import fs from 'node:fs';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { EntryDigest, MANIFEST_ENTRY, entryNameProblem, type BackupManifest, type ManifestEntry } from './layout.ts';

const GONE = 'the backup\'s reader went away (the download was cancelled or cut off)';

export class ArchiveWriter {
  readonly #pack: tar.Pack = tar.pack();
  /** The archive's bytes, as a node stream (tar-stream's own are streamx streams). */
  readonly output: Readable = Readable.from(this.#pack);
  readonly entries: Record<string, ManifestEntry> = {};
  readonly #mtime = new Date();

  constructor() {
    this.#pack.on('error', () => {}); // a cancelled download: each entry's own error ends the backup (addStream)
  }

  has(name: string): boolean { return Object.hasOwn(this.entries, name); }

  addBuffer(name: string, content: Buffer): Promise<void> {
    return this.addStream(name, content.length, Readable.from([content]));
  }

  /**
   * A file as it is when opened: its size is read from the open descriptor and exactly that many bytes are
   * written, so a log appended to meanwhile stays a valid entry. A file gone before it was opened is skipped.
   */
  async addFile(name: string, file: string): Promise<boolean> {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return false;
      const source = stat.size === 0 ? Readable.from([]) : handle.createReadStream({ start: 0, end: stat.size - 1, autoClose: false });
      await this.addStream(name, stat.size, source);
      return true;
    } finally {
      await handle.close();
    }
  }

  /** One entry of `size` bytes from `source`; fewer or more bytes fail the backup (never a silently short entry). */
  async addStream(name: string, size: number, source: Readable): Promise<void> {
    const problem = entryNameProblem(name);
    if (problem) throw new Error(`backup entry ${name} has ${problem}`);
    if (this.has(name)) throw new Error(`backup entry ${name} written twice`);
    const tap = new EntryDigest();
    // tar-stream's entries are streamx streams: written to by hand, with the same backpressure node's pipe would
    // give. A reader that goes away (a download cancelled) destroys the pack and its entry: that ends the backup.
    if (this.#pack.destroyed) throw new Error(GONE);
    const entry = this.#pack.entry({ name, size, mode: 0o600, mtime: this.#mtime, type: 'file' });
    const written = new Promise<void>((resolve, reject) => {
      entry.on('error', reject);
      entry.on('finish', () => resolve());
      entry.on('close', () => reject(new Error(GONE))); // after finish: no effect
    });
    written.catch(() => {}); // awaited below; an early failure must not count as unhandled meanwhile
    try {
      for await (const chunk of source.pipe(tap)) {
        if (tap.bytes > size) break;
        if (!entry.write(chunk)) await Promise.race([new Promise<void>((resolve) => entry.once('drain', () => resolve())), written]);
      }
    } catch (err) {
      source.destroy(); // a layer's HTTP body or a file stream is not left open
      throw err;
    }
    if (tap.bytes !== size) {
      entry.destroy();
      throw new Error(`backup entry ${name}: ${tap.bytes} bytes read, ${size} expected`);
    }
    (entry as unknown as { end(): void }).end();
    await written;
    this.entries[name] = { size, sha256: tap.sha256() };
  }

  /** Writes the manifest (with every entry's checksum) as the last entry and ends the archive. */
  async finish(manifest: Omit<BackupManifest, 'entries'>): Promise<void> {
    const text = Buffer.from(`${JSON.stringify({ ...manifest, entries: this.entries }, null, 1)}\n`);
    if (this.#pack.destroyed) throw new Error(GONE);
    await new Promise<void>((resolve, reject) => {
      this.#pack.entry({ name: MANIFEST_ENTRY, size: text.length, mode: 0o600, mtime: this.#mtime }, text, (err) => (err ? reject(err) : resolve()));
    });
    this.#pack.finalize();
  }
}
