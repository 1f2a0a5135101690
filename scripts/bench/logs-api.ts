// The stored-log API's own speed: a real Berth server (from sources) answers GET /apps/:app/logs?since&until
// for a one-hour window of ~1M lines out of a store prepared on disk for an app created through the API.
// Measured as a client sees it: time to the first line and MB/s of the API's NDJSON, next to the store's
// own read of the same window in this process (what scripts/bench/logstore.ts measures).
//   node scripts/bench/logs-api.ts   (BENCH_LOG_LINES=3000000 over 3 h)
import path from 'node:path';
import { LogStore } from '../../src/logstore/store.ts';
import { apiNdjson, toApiLine } from '../../src/logstore/api-lines.ts';
import type { LogRecord } from '../../src/logstore/record.ts';
import { syntheticRecord } from './log-lines.ts';
import { main, printTable, withStack } from './lib.ts';

const LINES = Number(process.env.BENCH_LOG_LINES ?? 3_000_000);
const SPAN_MS = 3 * 3_600_000;
const ROUNDS = 3;
const mbps = (bytes: number, ms: number) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;

interface Read { firstMs: number; totalMs: number; bytes: number; lines: number }

/** Reads everything; times count from t0 (for the API: from sending the request). */
async function drain(chunks: AsyncIterable<Uint8Array>, t0 = performance.now()): Promise<Read> {
  let firstMs = -1;
  let bytes = 0;
  let lines = 0;
  for await (const chunk of chunks) {
    if (firstMs < 0) firstMs = performance.now() - t0;
    bytes += chunk.length;
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  }
  return { firstMs, totalMs: performance.now() - t0, bytes, lines };
}

/** The route's shaping before byte-level conversion: JSON.parse, toApiLine, JSON.stringify, sort per chunk (for comparison). */
async function* parseAndStringify(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let held: LogRecord[] = [];
  let newest = Number.NEGATIVE_INFINITY;
  const release = (upTo: number): string => {
    held.sort((a, b) => a.ts - b.ts);
    let n = 0;
    while (n < held.length && held[n].ts <= upTo) n++;
    const out = held.slice(0, n).map((r) => `${JSON.stringify(toApiLine(r))}\n`).join('');
    held = held.slice(n);
    return out;
  };
  for await (const chunk of chunks) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      const record = JSON.parse(line) as LogRecord;
      if (record.ts > newest) newest = record.ts;
      held.push(record);
    }
    yield release(newest - 10_000);
  }
  yield release(Number.POSITIVE_INFINITY);
}

const encoded = async function* (strings: AsyncIterable<string>) { for await (const s of strings) yield Buffer.from(s); };

main('logs-api', () => withStack({}, async ({ berth, app }) => {
  const name = app('logs');
  await berth.ok('POST', '/apps', { name });
  // The server has not opened this app's log (nothing of it runs), so it reads what is written here.
  const dir = path.join(berth.dataDir, 'logs');
  const store = new LogStore({ dir, retentionDays: 30, maxBytesPerApp: 100 * 1024 ** 3 });
  const start = Date.now() - SPAN_MS - 60_000;
  const t0 = performance.now();
  for (let i = 0; i < LINES; i++) store.append(name, syntheticRecord(i, start, LINES, SPAN_MS));
  store.flush();
  await store.idle();
  console.log(`${LINES.toLocaleString('en')} lines over 3 h stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const since = start + 3_600_000;
  const until = since + 3_600_000;
  const url = `${berth.url}/api/v1/apps/${name}/logs?since=${new Date(since).toISOString()}&until=${new Date(until).toISOString()}`;
  const viaApi = async (): Promise<Read> => {
    const t0 = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${berth.token}` } });
    if (res.status !== 200) throw new Error(`GET logs → ${res.status} ${await res.text()}`);
    return drain(res.body!, t0);
  };
  const stored: Read[] = [];
  const api: Read[] = [];
  const shapedBefore: Read[] = [];
  const shapedNow: Read[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    stored.push(await drain(store.read(name, { since, until })));
    shapedBefore.push(await drain(encoded(parseAndStringify(store.read(name, { since, until })))));
    shapedNow.push(await drain(apiNdjson(store.read(name, { since, until }))));
    api.push(await viaApi());
  }
  await store.close();
  const best = (reads: Read[]) => reads.toSorted((a, b) => a.totalMs - b.totalMs)[0];
  const row = (label: string, reads: Read[]) => {
    const b = best(reads);
    return [label, b.lines.toLocaleString('en'), `${(b.bytes / 1e6).toFixed(0)} MB`,
      reads.map((r) => r.firstMs.toFixed(1)).join(' / ') + ' ms', reads.map((r) => r.totalMs.toFixed(0)).join(' / ') + ' ms',
      mbps(b.bytes, b.totalMs)];
  };
  printTable(`1 h window out of ${LINES.toLocaleString('en')} lines (${ROUNDS} rounds)`,
    ['read', 'lines', 'bytes', 'first line', 'whole window', 'best rate'], [
      row('store (LogStore.read, stored NDJSON, in process)', stored),
      row('store + parse/stringify per line (the shaping before), in process', shapedBefore),
      row('store + byte-level shaping (apiNdjson now), in process', shapedNow),
      row('GET /apps/:app/logs?since&until (API NDJSON over HTTP)', api),
    ]);
}));
