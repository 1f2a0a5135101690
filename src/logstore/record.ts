// One stored log line and its on-disk form: an NDJSON line whose first field is the time, so a
// range read can compare times without parsing JSON, and process/instance filters can match bytes.

export type LogStream = 'stdout' | 'stderr' | 'router';

export interface LogRecord {
  ts: number;          // ms since the epoch
  process: string;     // web, worker, router
  instance: string;    // web.2 (for router lines: the app's host)
  release: number | null;
  stream: LogStream;
  text: string;
}

const TS_PREFIX = '{"ts":';
export const NEWLINE = 0x0a;

/** The record as one line, fields always in this order (filters rely on it), newline included. */
export function serializeRecord(r: LogRecord): string {
  return `${TS_PREFIX}${Math.trunc(r.ts)},"process":${JSON.stringify(r.process)},"instance":${JSON.stringify(r.instance)},` +
    `"release":${r.release ?? 'null'},"stream":"${r.stream}","text":${JSON.stringify(r.text)}}\n`;
}

export function parseRecord(line: string | Buffer): LogRecord {
  return JSON.parse(typeof line === 'string' ? line : line.toString('utf8')) as LogRecord;
}

/** The time of the line starting at `start` in `buf`, read straight from its bytes; NaN for a line that is not a record. */
export function tsAt(buf: Buffer, start: number): number {
  let i = start + TS_PREFIX.length;
  let ts = 0;
  let digits = 0;
  for (; i < buf.length; i++, digits++) {
    const c = buf[i];
    if (c < 0x30 || c > 0x39) break;
    ts = ts * 10 + (c - 0x30);
  }
  return digits > 0 && buf[start] === 0x7b ? ts : Number.NaN;
}

/** Min and max time of the whole lines in `buf` (NaN when there are none). */
export function timeSpan(buf: Buffer): { minTs: number; maxTs: number; lines: number } {
  let minTs = Number.POSITIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  let lines = 0;
  for (let start = 0; start < buf.length;) {
    const end = buf.indexOf(NEWLINE, start);
    if (end === -1) break;
    const ts = tsAt(buf, start);
    if (ts < minTs) minTs = ts;
    if (ts > maxTs) maxTs = ts;
    lines++;
    start = end + 1;
  }
  return lines ? { minTs, maxTs, lines } : { minTs: Number.NaN, maxTs: Number.NaN, lines: 0 };
}
