// Synthetic app log lines for the log store benchmarks: 4 web instances, ~130 bytes of NDJSON each,
// mostly requests, 2 % errors on stderr, status=500 on every 31st line, spread evenly over a span.
import type { LogRecord } from '../../src/logstore/record.ts';

const PATHS = ['/api/items', '/api/users', '/checkout', '/static/app.js', '/health', '/api/search?q=boat'];

/** Line i of `lines` spread over [start, start + spanMs). */
export function syntheticRecord(i: number, start: number, lines: number, spanMs: number): LogRecord {
  const n = (i * 2654435761) >>> 0;
  const instance = `web.${(n % 4) + 1}`;
  const text = n % 50 === 0
    ? `Error: connection to db refused (attempt ${n % 7}) request_id=${n.toString(16)}`
    : `${n % 9 === 0 ? 'POST' : 'GET'} ${PATHS[n % PATHS.length]}/${n % 10_000} status=${n % 31 === 0 ? 500 : 200} ${n % 120}ms`;
  return { ts: start + Math.floor((i * spanMs) / lines), process: 'web', instance, release: 42, stream: n % 50 === 0 ? 'stderr' : 'stdout', text };
}
