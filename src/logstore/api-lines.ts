// Stored records in the API's log line shape ({time, process, index, instance, release, stream, line},
// the live stream's shape plus instance and release), and a live continuation fed by the store.
import type { LogStore } from './store.ts';
import type { LogQuery } from './range-reader.ts';
import type { LogRecord } from './record.ts';
import { toApiChunk, toApiLine, type ApiLogLine } from './api-shape.ts';
import { HeldLines } from './reorder.ts';

export { toApiLine, type ApiLogLine } from './api-shape.ts';

// Holding lines back this long (in log time) lets the API hand them out in time order.
const REORDER_WINDOW_MS = 10_000;

/** NDJSON in the API shape, in time order within the reorder window, for the chunks the store gives. */
export async function* apiNdjson(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const held = new HeldLines();
  for await (const chunk of chunks) {
    held.add(toApiChunk(chunk));
    yield* held.release(held.newest - REORDER_WINDOW_MS);
  }
  yield* held.release(Number.POSITIVE_INFINITY);
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
