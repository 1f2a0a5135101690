// Segment files of one app's log. A segment is named by the time of its first line (zero-padded so
// names sort by time) and comes in two forms:
//   NAME.log + NAME.log.idx  raw NDJSON being appended to; the .idx lists its sealed blocks, one per line
//   NAME.seg + NAME.idx      closed: every block compressed on its own (zstd), the .idx (JSON) points at them
// Either way a block covers ~64 KB of whole lines and records its min/max time, so a range read
// decompresses only the blocks that overlap the range.
import fs from 'node:fs';
import path from 'node:path';

export interface BlockRef {
  offset: number;     // in the segment file (compressed bytes for packed segments)
  length: number;
  rawLength: number;  // uncompressed bytes
  minTs: number;
  maxTs: number;
  lines: number;
}

export interface PackedIndex { codec: 'zstd'; blocks: BlockRef[] }

/** What a reader needs to read one segment; an open fd keeps it readable even if it is packed or deleted meanwhile. */
export interface SegmentView {
  name: string;
  packed: boolean;
  blocks: BlockRef[];
  fd: number;
}

export const RAW_EXT = '.log';
export const RAW_INDEX_EXT = '.log.idx';
export const PACKED_EXT = '.seg';
export const PACKED_INDEX_EXT = '.idx';

export function segmentName(firstTs: number, taken: (name: string) => boolean): string {
  let ts = Math.max(0, Math.trunc(firstTs));
  // Two segments starting in the same millisecond: the later one takes the next free name (names only order them).
  while (taken(String(ts).padStart(15, '0'))) ts++;
  return String(ts).padStart(15, '0');
}

export const rawPath = (dir: string, name: string) => path.join(dir, name + RAW_EXT);
export const rawIndexPath = (dir: string, name: string) => path.join(dir, name + RAW_INDEX_EXT);
export const packedPath = (dir: string, name: string) => path.join(dir, name + PACKED_EXT);
export const packedIndexPath = (dir: string, name: string) => path.join(dir, name + PACKED_INDEX_EXT);

export function formatRawIndexLine(b: BlockRef): string {
  return `${b.offset} ${b.length} ${b.minTs} ${b.maxTs} ${b.lines}\n`;
}

/** The sealed blocks of a raw segment; a torn last line (crash while writing it) is ignored. */
export function readRawIndex(file: string): BlockRef[] {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return []; }
  const blocks: BlockRef[] = [];
  for (const line of text.split('\n')) {
    const parts = line.split(' ').map(Number);
    if (parts.length !== 5 || parts.some((n) => !Number.isFinite(n))) continue;
    const [offset, length, minTs, maxTs, lines] = parts;
    blocks.push({ offset, length, rawLength: length, minTs, maxTs, lines });
  }
  return blocks;
}

export function readPackedIndex(file: string): PackedIndex {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as PackedIndex;
}

export function spanOf(blocks: BlockRef[]): { minTs: number; maxTs: number } {
  let minTs = Number.POSITIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  for (const b of blocks) {
    if (b.minTs < minTs) minTs = b.minTs;
    if (b.maxTs > maxTs) maxTs = b.maxTs;
  }
  return { minTs, maxTs };
}
