// One app's log directory: the packed segments, raw segments waiting to be packed, the active
// segment, rotation, packing (one at a time) and retention.
import fs from 'node:fs';
import path from 'node:path';
import { ActiveSegment } from './active-segment.ts';
import { packSegment } from './pack.ts';
import { serializeRecord, type LogRecord } from './record.ts';
import {
  PACKED_EXT, PACKED_INDEX_EXT, RAW_EXT, RAW_INDEX_EXT,
  packedIndexPath, packedPath, rawIndexPath, rawPath, readPackedIndex, segmentName, spanOf,
  type BlockRef, type SegmentView,
} from './segment.ts';

export interface AppLogOptions {
  blockBytes: number;
  segmentBytes: number;
  segmentAgeMs: number;
  retentionMs: number;
  maxBytes: number;
  onError: (err: Error) => void;
}

interface PackedSegment { name: string; blocks: BlockRef[]; bytes: number; minTs: number; maxTs: number }

export class AppLog {
  readonly dir: string;
  private readonly opts: AppLogOptions;
  private packed: PackedSegment[] = [];
  private readonly closing = new Map<string, BlockRef[]>();
  private active: ActiveSegment | null = null;
  private packing: Promise<void> = Promise.resolve();

  constructor(dir: string, opts: AppLogOptions) {
    this.dir = dir;
    this.opts = opts;
    fs.mkdirSync(dir, { recursive: true });
    this.recover();
  }

  append(record: LogRecord): void {
    if (!this.active) this.active = ActiveSegment.create(this.dir, segmentName(record.ts, (n) => this.taken(n)), this.opts.blockBytes);
    this.active.append(serializeRecord(record), record.ts);
    if (this.active.bytes >= this.opts.segmentBytes) this.rotate();
  }

  flush(): boolean {
    return this.active?.flush() ?? false;
  }

  /** Closes the active segment when it is old enough (an idle app's lines get packed too). */
  rotateIfOld(now: number): void {
    if (this.active && !this.active.isEmpty && now - this.active.openedAt >= this.opts.segmentAgeMs) this.rotate();
  }

  /** The segments overlapping [since, until) as they are now, in name order, each with its own fd (closed by the reader). */
  snapshot(since = Number.NEGATIVE_INFINITY, until = Number.POSITIVE_INFINITY): SegmentView[] {
    this.flush();
    const views: SegmentView[] = [];
    const names = new Set<string>();
    for (const p of this.packed) names.add(p.name);
    for (const name of this.closing.keys()) names.add(name);
    if (this.active) names.add(this.active.name);
    for (const name of [...names].sort()) {
      const view = this.viewOf(name);
      if (!view) continue;
      const span = spanOf(view.blocks);
      if (span.maxTs >= since && span.minTs < until) views.push(view);
      else fs.closeSync(view.fd);
    }
    return views;
  }

  totalBytes(): number {
    let total = this.active?.bytes ?? 0;
    for (const p of this.packed) total += p.bytes;
    for (const blocks of this.closing.values()) total += blocks.reduce((sum, b) => sum + b.length, 0);
    return total;
  }

  segmentCount(): { packed: number; raw: number } {
    return { packed: this.packed.length, raw: this.closing.size + (this.active ? 1 : 0) };
  }

  /** Drops packed segments older than the retention, then the oldest ones while over the size limit. */
  enforceRetention(now: number): void {
    const cutoff = now - this.opts.retentionMs;
    for (const segment of this.packed.filter((p) => p.maxTs < cutoff)) this.deletePacked(segment);
    while (this.packed.length > 0 && this.totalBytes() > this.opts.maxBytes) this.deletePacked(this.packed[0]);
  }

  /** Resolves once every segment closed so far is packed. */
  idle(): Promise<void> {
    return this.packing;
  }

  /** Writes everything and closes the active segment (it is reopened, not packed, on the next start). */
  async close(): Promise<void> {
    this.active?.close();
    this.active = null;
    await this.packing;
  }

  private rotate(): void {
    const active = this.active;
    if (!active) return;
    this.active = null;
    const blocks = active.close();
    this.closing.set(active.name, blocks);
    this.schedulePack(active.name, blocks);
  }

  private schedulePack(name: string, blocks: BlockRef[]): void {
    this.packing = this.packing.then(async () => {
      try {
        const index = await packSegment(this.dir, name, blocks);
        this.addPacked(name, index.blocks);
        this.enforceRetention(Date.now());
      } catch (err) {
        this.opts.onError(new Error(`packing log segment ${path.join(this.dir, name)} failed: ${(err as Error).message}`));
      } finally {
        this.closing.delete(name);
      }
    });
  }

  private addPacked(name: string, blocks: BlockRef[]): void {
    const bytes = fileSize(packedPath(this.dir, name)) + fileSize(packedIndexPath(this.dir, name));
    this.packed.push({ name, blocks, bytes, ...spanOf(blocks) });
    this.packed.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  private deletePacked(segment: PackedSegment): void {
    // Index first: a .seg without its .idx is an unfinished pack and is cleaned up at the next start.
    fs.rmSync(packedIndexPath(this.dir, segment.name), { force: true });
    fs.rmSync(packedPath(this.dir, segment.name), { force: true });
    this.packed = this.packed.filter((p) => p !== segment);
  }

  private viewOf(name: string): SegmentView | null {
    if (this.active?.name === name) return { name, packed: false, ...this.active.view() };
    const packed = this.packed.find((p) => p.name === name);
    if (packed) return openView(name, true, packed.blocks, packedPath(this.dir, name));
    const blocks = this.closing.get(name);
    if (blocks) {
      // Packing may have just removed the raw file; then its packed form is complete on disk.
      return openView(name, false, blocks, rawPath(this.dir, name)) ??
        openView(name, true, readPackedIndex(packedIndexPath(this.dir, name)).blocks, packedPath(this.dir, name));
    }
    return null;
  }

  private taken(name: string): boolean {
    return this.active?.name === name || this.closing.has(name) || this.packed.some((p) => p.name === name);
  }

  /** Picks up after a stop or crash: finished packs kept, unfinished ones redone, the newest raw segment continued. */
  private recover(): void {
    const files = fs.readdirSync(this.dir);
    const has = new Set(files);
    const raws: string[] = [];
    for (const file of files) {
      if (file.endsWith('.tmp')) fs.rmSync(path.join(this.dir, file), { force: true });
      else if (file.endsWith(RAW_INDEX_EXT)) continue;
      else if (file.endsWith(PACKED_INDEX_EXT)) {
        const name = file.slice(0, -PACKED_INDEX_EXT.length);
        if (has.has(name + PACKED_EXT)) this.addPacked(name, readPackedIndex(path.join(this.dir, file)).blocks);
      } else if (file.endsWith(PACKED_EXT)) {
        const name = file.slice(0, -PACKED_EXT.length);
        if (!has.has(name + PACKED_INDEX_EXT)) fs.rmSync(path.join(this.dir, file), { force: true });
      } else if (file.endsWith(RAW_EXT)) raws.push(file.slice(0, -RAW_EXT.length));
    }
    raws.sort();
    for (const name of raws) {
      if (has.has(name + PACKED_INDEX_EXT)) {
        fs.rmSync(rawPath(this.dir, name), { force: true });
        fs.rmSync(rawIndexPath(this.dir, name), { force: true });
      }
    }
    const unpacked = raws.filter((name) => !has.has(name + PACKED_INDEX_EXT));
    const newest = unpacked.pop();
    for (const name of unpacked) {
      // Reopening seals whatever the crash left after the last sealed block.
      const blocks = ActiveSegment.reopen(this.dir, name, this.opts.blockBytes).close();
      this.closing.set(name, blocks);
      this.schedulePack(name, blocks);
    }
    if (newest) this.active = ActiveSegment.reopen(this.dir, newest, this.opts.blockBytes);
  }
}

function openView(name: string, packed: boolean, blocks: BlockRef[], file: string): SegmentView | null {
  try {
    return { name, packed, blocks, fd: fs.openSync(file, 'r') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function fileSize(file: string): number {
  try { return fs.statSync(file).size; } catch { return 0; }
}
