// Reading a time range (plus filters) out of a snapshot of segments. Only blocks whose time span
// overlaps the range are read; consecutive ones in one read. A block wholly inside the range with
// no line filter is passed on as it is, so a plain window streams at the speed of decompression.
import fs from 'node:fs';
import { decompressBlock } from './pack.ts';
import { NEWLINE, tsAt } from './record.ts';
import type { BlockRef, SegmentView } from './segment.ts';

export interface LogQuery {
  since?: number;     // ms, inclusive
  until?: number;     // ms, exclusive
  process?: string;
  instance?: string;
  grep?: string;      // substring of the text, case-sensitive
  limit?: number;     // at most this many lines
}

const MAX_READ_BYTES = 4 * 1024 * 1024;

interface LineFilter {
  since: number;
  until: number;
  process: Buffer | null;
  instance: Buffer | null;
  grep: Buffer | null;
}

const TEXT_FIELD = Buffer.from(',"text":"');

/** NDJSON chunks of the matching lines, segment by segment in time order; closes the snapshot's fds. */
export async function* readRange(segments: SegmentView[], query: LogQuery): AsyncGenerator<Buffer> {
  const filter: LineFilter = {
    since: query.since ?? Number.NEGATIVE_INFINITY,
    until: query.until ?? Number.POSITIVE_INFINITY,
    process: query.process ? Buffer.from(`"process":${JSON.stringify(query.process)},`) : null,
    instance: query.instance ? Buffer.from(`"instance":${JSON.stringify(query.instance)},`) : null,
    // Stored text is JSON-escaped, so the escaped needle matches exactly where the text contains the plain one.
    grep: query.grep ? Buffer.from(JSON.stringify(query.grep).slice(1, -1)) : null,
  };
  const lineFiltered = Boolean(filter.process || filter.instance || filter.grep);
  let left = query.limit ?? Number.POSITIVE_INFINITY;
  try {
    for (const segment of segments) {
      const wanted = segment.blocks.filter((b) => b.maxTs >= filter.since && b.minTs < filter.until);
      for await (const [block, data] of readBlocks(segment, wanted)) {
        if (left <= 0) return;
        const whole = !lineFiltered && block.minTs >= filter.since && block.maxTs < filter.until;
        const out = whole ? data : filterLines(data, filter);
        if (out.length === 0) continue;
        const { chunk, lines } = takeLines(out, left, whole ? block.lines : undefined);
        left -= lines;
        yield chunk;
      }
    }
  } finally {
    for (const segment of segments) fs.close(segment.fd, () => {});
  }
}

/** The uncompressed bytes of each wanted block, reading runs of adjacent blocks at once. */
async function* readBlocks(segment: SegmentView, blocks: BlockRef[]): AsyncGenerator<[BlockRef, Buffer]> {
  for (let i = 0; i < blocks.length;) {
    let j = i + 1;
    while (j < blocks.length && blocks[j].offset === blocks[j - 1].offset + blocks[j - 1].length &&
      blocks[j].offset + blocks[j].length - blocks[i].offset <= MAX_READ_BYTES) j++;
    const start = blocks[i].offset;
    const length = blocks[j - 1].offset + blocks[j - 1].length - start;
    const buf = Buffer.allocUnsafe(length);
    const { bytesRead } = await readAt(segment.fd, buf, start);
    for (let k = i; k < j; k++) {
      const b = blocks[k];
      if (b.offset - start + b.length > bytesRead) return; // the file is shorter than its index says: stop at what exists
      const raw = buf.subarray(b.offset - start, b.offset - start + b.length);
      yield [b, segment.packed ? decompressBlock(raw) : raw];
    }
    i = j;
  }
}

function readAt(fd: number, buf: Buffer, position: number): Promise<{ bytesRead: number }> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, buf.length, position, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead })));
  });
}

function filterLines(data: Buffer, f: LineFilter): Buffer {
  return f.grep ? grepLines(data, f.grep, f) : scanLines(data, f);
}

/** With a grep, jump from occurrence to occurrence of the needle (memchr speed) and check only those lines. */
function grepLines(data: Buffer, needle: Buffer, f: LineFilter): Buffer {
  const kept: Buffer[] = [];
  for (let from = 0; from < data.length;) {
    const hit = data.indexOf(needle, from);
    if (hit === -1) break;
    const start = data.lastIndexOf(NEWLINE, hit) + 1;
    let end = data.indexOf(NEWLINE, hit);
    if (end === -1) end = data.length - 1;
    if (matches(data, start, end, f)) kept.push(data.subarray(start, end + 1));
    from = end + 1;
  }
  return kept.length === 1 ? kept[0] : Buffer.concat(kept);
}

function scanLines(data: Buffer, f: LineFilter): Buffer {
  const kept: Buffer[] = [];
  let runStart = -1;
  let start = 0;
  for (; start < data.length;) {
    let end = data.indexOf(NEWLINE, start);
    if (end === -1) end = data.length - 1;
    if (matches(data, start, end, f)) {
      if (runStart === -1) runStart = start;
    } else if (runStart !== -1) {
      kept.push(data.subarray(runStart, start));
      runStart = -1;
    }
    start = end + 1;
  }
  if (runStart !== -1) kept.push(data.subarray(runStart, start));
  return kept.length === 1 ? kept[0] : Buffer.concat(kept);
}

function matches(data: Buffer, start: number, end: number, f: LineFilter): boolean {
  const ts = tsAt(data, start);
  if (!(ts >= f.since && ts < f.until)) return false;
  if (f.process && !includesWithin(data, f.process, start, end)) return false;
  if (f.instance && !includesWithin(data, f.instance, start, end)) return false;
  if (f.grep) {
    const line = data.subarray(start, end);
    const text = line.indexOf(TEXT_FIELD);
    if (text === -1 || line.indexOf(f.grep, text + TEXT_FIELD.length) === -1) return false;
  }
  return true;
}

// Searching a view of the line only: indexOf on the whole block would scan past the line on every miss.
function includesWithin(data: Buffer, needle: Buffer, start: number, end: number): boolean {
  return data.subarray(start, end).indexOf(needle) !== -1;
}

/** At most `max` lines of the chunk (`known`: its line count, when already known, to skip counting). */
function takeLines(chunk: Buffer, max: number, known?: number): { chunk: Buffer; lines: number } {
  if (!Number.isFinite(max)) return { chunk, lines: known ?? 0 };
  let lines = 0;
  for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) {
    lines++;
    if (lines === max) return { chunk: chunk.subarray(0, at + 1), lines };
  }
  return { chunk, lines };
}
