// Stored NDJSON lines turned into the API's line shape by byte work, not JSON.parse + JSON.stringify:
//   stored {"ts":N,"process":P,"instance":I,"release":R,"stream":S,"text":T}
//   API    {"time":"ISO","process":P,"index":X,"instance":I,"release":R,"stream":S,"line":T}
// P, I, S and T are copied as the JSON they already are (re-encoding a parsed JSON string gives the same
// text). A line that does not have the stored layout goes through JSON.parse, as before this existed.
import { NEWLINE, tsAt, type LogRecord } from './record.ts';

/** A log line as the API hands it out: the live stream's shape plus instance and release. */
export interface ApiLogLine {
  time: string;
  process: string;
  index: number | null;
  instance: string;
  release: number | null;
  stream: string;
  line: string;
}

export function toApiLine(r: LogRecord): ApiLogLine {
  const index = /\.(\d+)$/.exec(r.instance);
  return { time: new Date(r.ts).toISOString(), process: r.process, index: index ? Number(index[1]) : null,
    instance: r.instance, release: r.release, stream: r.stream, line: r.text };
}

/** A chunk of stored lines in API form: the bytes, each line's time, and where each line starts (plus the end). */
export interface ApiChunk { buf: Buffer; ts: Float64Array; starts: Uint32Array; lines: number }

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const DOT = 0x2e;
const PROCESS_KEY = Buffer.from(',"process":');
const INSTANCE_KEY = Buffer.from(',"instance":');
const RELEASE_KEY = Buffer.from(',"release":');
const STREAM_KEY = Buffer.from(',"stream":');
const TEXT_KEY = Buffer.from(',"text":');
const TIME_OPEN = Buffer.from('{"time":"');
const INDEX_KEY = Buffer.from(',"index":');
const LINE_KEY = Buffer.from(',"line":');
const NULL = Buffer.from('null');
// The API form adds at most this much to a line: the ISO time (up to 27 bytes) for the ts, and the index field.
const GROWTH = 64;

/** Converts every whole line of a chunk of stored NDJSON. */
export function toApiChunk(chunk: Buffer): ApiChunk {
  let count = chunk.length > 0 && chunk[chunk.length - 1] !== NEWLINE ? 1 : 0; // a last line without its newline
  for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) count++;
  let out: Buffer = Buffer.allocUnsafe(chunk.length + count * GROWTH);
  const ts = new Float64Array(count);
  const starts = new Uint32Array(count + 1);
  let pos = 0;
  let n = 0;
  for (let start = 0; start < chunk.length && n < count;) {
    let end = chunk.indexOf(NEWLINE, start);
    if (end === -1) end = chunk.length;
    starts[n] = pos;
    const written = writeApiLine(chunk, start, end, out, pos);
    if (written >= 0) {
      ts[n] = tsAt(chunk, start);
      pos = written;
    } else {
      // Not the stored layout: parse it (throws on a line that is not JSON at all, as the API always did).
      const record = JSON.parse(chunk.toString('utf8', start, end)) as LogRecord;
      const text = Buffer.from(`${JSON.stringify(toApiLine(record))}\n`);
      if (pos + text.length > out.length) out = grow(out, pos + text.length + (count - n) * GROWTH);
      pos += text.copy(out, pos);
      ts[n] = record.ts;
    }
    n++;
    start = end + 1;
  }
  starts[n] = pos;
  return { buf: out.subarray(0, pos), ts, starts, lines: n };
}

function grow(buf: Buffer, size: number): Buffer {
  const bigger = Buffer.allocUnsafe(size);
  buf.copy(bigger);
  return bigger;
}

let isoSecond = Number.NaN;
let isoPrefix = Buffer.alloc(0); // "2026-11-25T17:00:00." of isoSecond

/** Writes the API form of the stored line [start, end) at `pos`; the new end, or -1 when the layout is not the stored one. */
function writeApiLine(src: Buffer, start: number, end: number, out: Buffer, pos: number): number {
  const ts = tsAt(src, start);
  if (!Number.isFinite(ts)) return -1;
  let at = start + 6; // past {"ts":
  while (src[at] >= 0x30 && src[at] <= 0x39) at++;
  if (!startsWith(src, at, PROCESS_KEY)) return -1;
  const processStart = at;
  at = skipString(src, at + PROCESS_KEY.length, end);
  if (at < 0 || !startsWith(src, at, INSTANCE_KEY)) return -1;
  const instanceStart = at;
  at = skipString(src, at + INSTANCE_KEY.length, end);
  if (at < 0 || !startsWith(src, at, RELEASE_KEY)) return -1;
  const instanceEnd = at;
  at += RELEASE_KEY.length;
  while (at < end && src[at] !== COMMA) at++;
  if (!startsWith(src, at, STREAM_KEY)) return -1;
  at = skipString(src, at + STREAM_KEY.length, end);
  if (at < 0 || !startsWith(src, at, TEXT_KEY)) return -1;
  const textStart = at + TEXT_KEY.length;
  // Line form: textStart..end holds the text's JSON and the closing brace.

  const second = Math.floor(ts / 1000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString();
    isoSecond = second;
    isoPrefix = Buffer.from(iso.slice(0, iso.length - 4)); // without "000Z"
  }
  pos = put(TIME_OPEN, out, pos);
  pos = put(isoPrefix, out, pos);
  const ms = ts - second * 1000;
  out[pos++] = 0x30 + Math.floor(ms / 100);
  out[pos++] = 0x30 + (Math.floor(ms / 10) % 10);
  out[pos++] = 0x30 + (ms % 10);
  out[pos++] = 0x5a; // Z
  out[pos++] = QUOTE;
  pos = copy(src, processStart, instanceStart, out, pos);
  pos = put(INDEX_KEY, out, pos);
  pos = writeIndex(src, instanceEnd - 1, out, pos);
  pos = copy(src, instanceStart, textStart - TEXT_KEY.length, out, pos);
  pos = put(LINE_KEY, out, pos);
  pos = copy(src, textStart, end, out, pos);
  out[pos++] = NEWLINE;
  return pos;
}

/** The instance's trailing number ("web.2" → 2) as /\.(\d+)$/ finds it; `closeQuote` is the instance JSON's last byte. */
function writeIndex(src: Buffer, closeQuote: number, out: Buffer, pos: number): number {
  let first = closeQuote;
  while (src[first - 1] >= 0x30 && src[first - 1] <= 0x39) first--;
  if (first === closeQuote || src[first - 1] !== DOT) return put(NULL, out, pos);
  while (first < closeQuote - 1 && src[first] === 0x30) first++; // Number("07") is 7
  return copy(src, first, closeQuote, out, pos);
}

/** Past the JSON string starting at `at` (its opening quote); -1 when there is none. */
function skipString(src: Buffer, at: number, end: number): number {
  if (src[at] !== QUOTE) return -1;
  for (let i = at + 1; i < end; i++) {
    const c = src[i];
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return -1;
}

function startsWith(src: Buffer, at: number, key: Buffer): boolean {
  for (let i = 0; i < key.length; i++) if (src[at + i] !== key[i]) return false;
  return true;
}

function put(bytes: Buffer, out: Buffer, pos: number): number {
  for (let i = 0; i < bytes.length; i++) out[pos + i] = bytes[i];
  return pos + bytes.length;
}

// Short runs by hand: a native copy per field costs more than the bytes themselves.
function copy(src: Buffer, from: number, to: number, out: Buffer, pos: number): number {
  if (to - from > 48) return pos + src.copy(out, pos, from, to);
  for (let i = from; i < to; i++) out[pos++] = src[i];
  return pos;
}
