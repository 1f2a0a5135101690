// Stored records in the API's log line shape ({time, process, index, instance, release, stream, line},
// the live stream's shape plus instance and release), and a live continuation fed by the store.
import type { LogStore } from './store.ts';
import type { LogQuery } from './range-reader.ts';
import { NEWLINE, type LogRecord } from './record.ts';

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

// Lines are stored in arrival order; instances are read side by side, so neighbours can be a little out
// of time order. Holding lines back this long (in log time) lets the API hand them out in time order.
const REORDER_WINDOW_MS = 10_000;

/** NDJSON text in the API shape, in time order within the reorder window, for the chunks the store gives. */
export async function* apiNdjson(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let held: LogRecord[] = [];
  let newest = Number.NEGATIVE_INFINITY;
  const release = (upTo: number): string => {
    held.sort((a, b) => a.ts - b.ts); // stable, and nearly sorted already
    let n = 0;
    while (n < held.length && held[n].ts <= upTo) n++;
    const out = held.slice(0, n).map((r) => `${JSON.stringify(toApiLine(r))}\n`).join('');
    held = held.slice(n);
    return out;
  };
  for await (const chunk of chunks) {
    for (let start = 0; start < chunk.length;) {
      let end = chunk.indexOf(NEWLINE, start);
      if (end === -1) end = chunk.length;
      const record = JSON.parse(chunk.toString('utf8', start, end)) as LogRecord;
      if (record.ts > newest) newest = record.ts;
      held.push(record);
      start = end + 1;
    }
    const out = release(newest - REORDER_WINDOW_MS);
    if (out) yield out;
  }
  const rest = release(Number.POSITIVE_INFINITY);
  if (rest) yield rest;
}

export function recordMatches(r: LogRecord, q: LogQuery): boolean {
  if (q.process && r.process !== q.process) return false;
  if (q.instance && r.instance !== q.instance) return false;
  if (q.grep && !r.text.includes(q.grep)) return false;
  return (q.since === undefined || r.ts >= q.since) && (q.until === undefined || r.ts < q.until);
}

// A client this far behind a live follow is cut off rather than buffered without end.
const MAX_QUEUED = 50_000;

/**
 * Lines appended to the app's store from this call on (subscribe in the same tick as the read the
 * follow continues, so nothing falls between them), until the signal aborts.
 */
export function followStore(store: LogStore, app: string, filter: LogQuery, signal: AbortSignal): AsyncGenerator<ApiLogLine> {
  const queue: LogRecord[] = [];
  let wake: (() => void) | null = null;
  let overflow = false;
  const unsubscribe = store.subscribe(app, (record) => {
    if (!recordMatches(record, filter)) return;
    if (queue.length >= MAX_QUEUED) overflow = true;
    else queue.push(record);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  return (async function* () {
    try {
      while (!signal.aborted && !overflow) {
        const record = queue.shift();
        if (record) yield toApiLine(record);
        else await new Promise<void>((resolve) => { wake = resolve; });
        wake = null;
      }
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
    }
  })();
}
