// The raw segment an app's new lines are appended to. Lines wait in memory until flush() writes
// them in one write; every ~64 KB written a block is sealed and its index line appended, after the
// data, so the index never points past what is on disk.
import fs from 'node:fs';
import { NEWLINE, timeSpan } from './record.ts';
import { formatRawIndexLine, rawIndexPath, rawPath, readRawIndex, type BlockRef } from './segment.ts';

interface OpenBlock { offset: number; minTs: number; maxTs: number; lines: number }

export class ActiveSegment {
  readonly name: string;
  readonly openedAt: number;
  private readonly dir: string;
  private readonly blockBytes: number;
  private fd: number;
  private indexFd: number;
  private size: number;
  private readonly sealed: BlockRef[];
  private open: OpenBlock;
  private pending: string[] = [];
  private pendingChars = 0;

  private constructor(dir: string, name: string, blockBytes: number, size: number, sealed: BlockRef[], open: OpenBlock) {
    this.dir = dir;
    this.name = name;
    this.blockBytes = blockBytes;
    this.openedAt = Date.now();
    this.fd = fs.openSync(rawPath(dir, name), 'a');
    this.indexFd = fs.openSync(rawIndexPath(dir, name), 'a');
    this.size = size;
    this.sealed = sealed;
    this.open = open;
  }

  static create(dir: string, name: string, blockBytes: number): ActiveSegment {
    fs.writeFileSync(rawPath(dir, name), '');
    fs.writeFileSync(rawIndexPath(dir, name), '');
    return new ActiveSegment(dir, name, blockBytes, 0, [], emptyBlock(0));
  }

  /** Continues a segment after a restart: its sealed blocks from the index, the rest rescanned. */
  static reopen(dir: string, name: string, blockBytes: number): ActiveSegment {
    const file = rawPath(dir, name);
    const data = fs.readFileSync(file);
    // A line torn by a crash mid-write is cut off: everything before it stays valid.
    const size = data.lastIndexOf(NEWLINE) + 1;
    if (size < data.length) fs.truncateSync(file, size);
    const sealed = readRawIndex(rawIndexPath(dir, name)).filter((b) => b.offset + b.length <= size);
    fs.writeFileSync(rawIndexPath(dir, name), sealed.map(formatRawIndexLine).join(''));
    const openOffset = sealed.length ? sealed.at(-1)!.offset + sealed.at(-1)!.length : 0;
    const span = timeSpan(data.subarray(openOffset, size));
    const open = span.lines ? { offset: openOffset, ...span } : emptyBlock(openOffset);
    return new ActiveSegment(dir, name, blockBytes, size, sealed, open);
  }

  get bytes(): number { return this.size + this.pendingChars; }
  get isEmpty(): boolean { return this.bytes === 0; }

  append(line: string, ts: number): void {
    this.pending.push(line);
    this.pendingChars += line.length;
    const open = this.open;
    if (open.lines === 0 || ts < open.minTs) open.minTs = ts;
    if (open.lines === 0 || ts > open.maxTs) open.maxTs = ts;
    open.lines++;
    if (this.size - open.offset + this.pendingChars >= this.blockBytes) {
      this.flush();
      this.seal();
    }
  }

  /** Writes what waits in memory; true when something was written. */
  flush(): boolean {
    if (this.pending.length === 0) return false;
    const data = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingChars = 0;
    fs.writeSync(this.fd, data);
    this.size += data.length;
    return true;
  }

  /** The segment as it is on disk now, for a reader (the fd is the reader's to close). */
  view(): { blocks: BlockRef[]; fd: number } {
    const blocks = [...this.sealed];
    const open = this.open;
    if (this.size > open.offset && open.lines > 0) {
      blocks.push({ offset: open.offset, length: this.size - open.offset, rawLength: this.size - open.offset,
        minTs: open.minTs, maxTs: open.maxTs, lines: open.lines });
    }
    return { blocks, fd: fs.openSync(rawPath(this.dir, this.name), 'r') };
  }

  /** Flushes, seals the last block and closes the files; returns every block, for packing. */
  close(): BlockRef[] {
    this.flush();
    this.seal();
    fs.closeSync(this.fd);
    fs.closeSync(this.indexFd);
    return this.sealed;
  }

  private seal(): void {
    const open = this.open;
    if (this.size <= open.offset) return;
    const block: BlockRef = { offset: open.offset, length: this.size - open.offset, rawLength: this.size - open.offset,
      minTs: open.minTs, maxTs: open.maxTs, lines: open.lines };
    fs.writeSync(this.indexFd, formatRawIndexLine(block));
    this.sealed.push(block);
    this.open = emptyBlock(this.size);
  }
}

function emptyBlock(offset: number): OpenBlock {
  return { offset, minTs: 0, maxTs: 0, lines: 0 };
}
