// Just enough of the tar format (ustar + pax + GNU long names) to index a `git archive` and write
// a few generated files: the builder never unpacks a source tree, it only reads a handful of small
// files from it and hands the rest to Docker unchanged.
import type { FileHandle } from 'node:fs/promises';

export const BLOCK = 512;

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface TarEntry {
  path: string;              // normalised: no leading "./" or "/", no trailing "/"
  type: EntryType;
  /** Byte range of the whole entry, including pax/long-name headers that precede it. */
  start: number;
  end: number;
  dataOffset: number;
  size: number;
}

interface Header {
  name: string;
  typeflag: string;
  size: number;
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

function cString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? length : nul).toString('utf8');
}

/** Numeric fields are octal text, or big-endian base-256 when the first byte has its high bit set. */
function numberField(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if (field[0]! & 0x80) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/g, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOf(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

function parseHeader(block: Buffer, offset: number): Header {
  if (numberField(block, 148, 8) !== checksumOf(block)) {
    throw new Error(`source is not a valid tar archive (bad header checksum at byte ${offset})`);
  }
  const name = cString(block, 0, 100);
  const isUstar = block.subarray(257, 262).toString('latin1') === 'ustar';
  const prefix = isUstar ? cString(block, 345, 155) : '';
  return {
    name: prefix ? `${prefix}/${name}` : name,
    typeflag: String.fromCharCode(block[156]!) || '0',
    size: numberField(block, 124, 12),
  };
}

/** pax records: "<length> <key>=<value>\n", length counting the whole record. */
export function parsePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = parseInt(data.subarray(at, space).toString('latin1'), 10);
    if (!(length > 0)) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return records;
}

export function normalisePath(name: string): string {
  // Trailing slashes by hand: /\/+$/ backtracks quadratically on a long run of slashes inside a name.
  let end = name.length;
  while (end > 0 && name[end - 1] === '/') end--;
  return name.slice(0, end).replace(/^(\.\/|\/)+/, '');
}

function entryType(typeflag: string): EntryType {
  if (typeflag === '0' || typeflag === '\0' || typeflag === '7') return 'file';
  if (typeflag === '5') return 'dir';
  if (typeflag === '2') return 'symlink';
  return 'other';
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  if (bytesRead < length) throw new Error(`source tar archive is truncated (at byte ${position})`);
  return buffer;
}

/** Lists the entries of a tar file. Global pax headers (git's commit comment) are skipped. */
export async function indexTar(file: FileHandle, fileSize: number): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  let offset = 0;
  let start = 0;
  let longName: string | null = null;
  while (offset + BLOCK <= fileSize) {
    const block = await readAt(file, offset, BLOCK);
    if (block.every((byte) => byte === 0)) break; // end-of-archive marker
    const header = parseHeader(block, offset);
    const dataOffset = offset + BLOCK;
    const end = dataOffset + padded(header.size);
    if (header.typeflag === 'x' || header.typeflag === 'L') {
      const data = await readAt(file, dataOffset, header.size);
      longName = header.typeflag === 'L' ? cString(data, 0, data.length) : (parsePax(data).path ?? longName);
    } else if (header.typeflag === 'g') {
      start = end;
    } else {
      entries.push({ path: normalisePath(longName ?? header.name), type: entryType(header.typeflag), start, end, dataOffset, size: header.size });
      longName = null;
      start = end;
    }
    offset = end;
  }
  return entries;
}

export async function readEntry(file: FileHandle, entry: TarEntry): Promise<Buffer> {
  return readAt(file, entry.dataOffset, entry.size);
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'latin1');
}

/** A regular file as ustar header + data + padding. Names must fit ustar's 100 bytes (ours do). */
export function fileRecord(name: string, content: Buffer, mode = 0o644): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  writeOctal(header, 100, 8, mode);
  writeOctal(header, 108, 8, 0);       // uid
  writeOctal(header, 116, 8, 0);       // gid
  writeOctal(header, 124, 12, content.length);
  writeOctal(header, 136, 12, 0);      // mtime: constant, so generated files never bust the layer cache
  header.write('0', 156, 1, 'latin1');
  header.write('ustar\u000000', 257, 8, 'latin1');
  writeOctal(header, 148, 8, checksumOf(header));
  return Buffer.concat([header, content, Buffer.alloc(padded(content.length) - content.length)]);
}

export const endOfArchive = () => Buffer.alloc(2 * BLOCK);
