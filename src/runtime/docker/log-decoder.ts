// Turns the engine's raw log bytes into LogLines.
// Non-TTY containers multiplex stdout/stderr into frames: an 8-byte header
// [stream type, 0, 0, 0, payload length (uint32 BE)] followed by the payload.
// With timestamps on, the engine writes one frame per log message, each starting with its stamp.
// A line longer than 16 KiB is stored as several partial messages (each stamped, only the last
// ending in a newline), so text is collected per stream until a newline completes the line.
// Chunk boundaries can fall anywhere: frames are buffered until complete.
import type { LogLine } from '../types.ts';
import type { InstanceIdentity } from './labels.ts';

type StreamName = LogLine['stream'];
const HEADER_BYTES = 8;
const NEWLINE = 0x0a;

interface PartialLine { time: string; chunks: Buffer[] }

export class LogDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private readonly partial: Record<StreamName, PartialLine | null> = { stdout: null, stderr: null };
  private readonly identity: InstanceIdentity;

  constructor(identity: InstanceIdentity) {
    this.identity = identity;
  }

  /** Complete lines found in this chunk (and what earlier chunks left over). */
  push(chunk: Buffer): LogLine[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const lines: LogLine[] = [];
    for (;;) {
      const frame = this.nextFrame();
      if (!frame) break;
      for (const line of this.readFrame(frame.stream, frame.payload)) lines.push(line);
    }
    return lines;
  }

  /** At end of stream: whatever was written without a final newline. */
  end(): LogLine[] {
    const lines: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.partial[stream];
      this.partial[stream] = null;
      if (rest) lines.push(this.toLogLine(stream, rest.time, Buffer.concat(rest.chunks)));
    }
    return lines;
  }

  private nextFrame(): { stream: StreamName; payload: Buffer } | null {
    if (this.pending.length < HEADER_BYTES) return null;
    const size = this.pending.readUInt32BE(4);
    if (this.pending.length < HEADER_BYTES + size) return null;
    const stream: StreamName = this.pending[0] === 2 ? 'stderr' : 'stdout';
    const payload = this.pending.subarray(HEADER_BYTES, HEADER_BYTES + size);
    this.pending = this.pending.subarray(HEADER_BYTES + size);
    return { stream, payload };
  }

  // Splitting bytes (not strings) keeps multi-byte characters that straddle frames intact.
  private readFrame(stream: StreamName, payload: Buffer): LogLine[] {
    const { time, body } = splitTimestamp(payload);
    const lines: LogLine[] = [];
    let partial = this.partial[stream];
    let rest = body;
    let newline: number;
    while ((newline = rest.indexOf(NEWLINE)) !== -1) {
      const text = rest.subarray(0, newline);
      // A continued line keeps the stamp of its first part.
      lines.push(this.toLogLine(stream, partial?.time ?? time, partial ? Buffer.concat([...partial.chunks, text]) : text));
      partial = null;
      rest = rest.subarray(newline + 1);
    }
    if (rest.length) {
      const copy = Buffer.from(rest);
      partial = partial ? { time: partial.time, chunks: [...partial.chunks, copy] } : { time, chunks: [copy] };
    }
    this.partial[stream] = partial;
    return lines;
  }

  private toLogLine(stream: StreamName, time: string, text: Buffer): LogLine {
    const line = text.toString('utf8').replace(/\r$/, '');
    return { time, app: this.identity.app, process: this.identity.process, index: this.identity.index, stream, line };
  }
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) /;
const LONGEST_STAMP = 'YYYY-MM-DDTHH:MM:SS.NNNNNNNNN+HH:MM '.length;

/**
 * Splits "2024-05-01T10:00:00.123456789Z text" into an ISO time and the text.
 * UTC stamps keep all nine fractional digits (zero-padded, so times compare as strings);
 * stamps with an offset are converted to UTC at millisecond precision. No stamp: now.
 */
export function splitTimestamp(payload: Buffer): { time: string; body: Buffer } {
  const match = RFC3339.exec(payload.subarray(0, LONGEST_STAMP).toString('latin1'));
  if (!match) return { time: nanoIso(new Date()), body: payload };
  const [stamp, seconds, fraction = '', zone] = match;
  const body = payload.subarray(stamp.length);
  if (zone === 'Z') return { time: `${seconds}.${fraction.padEnd(9, '0')}Z`, body };
  return { time: nanoIso(new Date(stamp.trim())), body };
}

/** ISO time with nine fractional digits, the form every LogLine time takes. */
export function nanoIso(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** The engine's `since` parameter format: "<unix seconds>.<nanoseconds>". */
export function toDockerSince(isoTime: string): string {
  const match = /^(.*?)(?:\.(\d{1,9}))?Z$/.exec(isoTime);
  const seconds = Math.floor(Date.parse(`${match?.[1] ?? isoTime}Z`) / 1000);
  return `${seconds}.${(match?.[2] ?? '').padEnd(9, '0')}`;
}

/** Merges lines of several instances by time (stable for equal stamps) and keeps the newest `tail`. */
export function mergeTail(lines: LogLine[], tail: number): LogLine[] {
  const sorted = lines.toSorted((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return tail >= 0 ? sorted.slice(Math.max(0, sorted.length - tail)) : sorted;
}
