// Log store benchmark: ingest rate (and the CPU it costs), then a one-hour window out of 10 million
// stored lines (~1 GB raw, spread over 10 hours): time to the first line and streaming throughput,
// against `grep` over the same lines as one raw NDJSON file. Everything lives in a temp dir under
// /var/tmp, deleted at the end.
//   export PATH=/opt/berth/node/bin:$PATH; node scripts/bench/logstore.ts
//   BENCH_LOG_LINES=1000000 node scripts/bench/logstore.ts   (a quicker run)
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogStore } from '../../src/logstore/store.ts';
import type { LogRecord } from '../../src/logstore/record.ts';
import { syntheticRecord } from './log-lines.ts';

const LINES = Number(process.env.BENCH_LOG_LINES ?? 10_000_000);
const SPAN_MS = 10 * 3_600_000;
const APP = 'bench';
const dir = fs.mkdtempSync(path.join('/var/tmp', 'berth-bench-logs-'));
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const mb = (bytes: number) => bytes / 1e6;

const record = (i: number, start: number): LogRecord => syntheticRecord(i, start, LINES, SPAN_MS);

function run(cmd: string, args: string[]): Promise<{ ms: number; stdout: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => execFile(cmd, args, { maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: 'C' } },
    (err, stdout) => (err && err.code !== 1 ? reject(err) : resolve({ ms: performance.now() - t0, stdout }))));
}

async function drain(gen: AsyncGenerator<Buffer>): Promise<{ firstMs: number; totalMs: number; bytes: number; lines: number }> {
  const t0 = performance.now();
  let firstMs = -1;
  let bytes = 0;
  let lines = 0;
  for await (const chunk of gen) {
    if (firstMs < 0) firstMs = performance.now() - t0;
    bytes += chunk.length;
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  }
  return { firstMs, totalMs: performance.now() - t0, bytes, lines };
}

try {
  console.log(`log store benchmark: ${LINES.toLocaleString('en')} lines over 10 h in ${dir} (${os.cpus().length} CPUs)`);
  const store = new LogStore({ dir, retentionDays: 30, maxBytesPerApp: 100 * 1024 ** 3 });
  const start = Date.now() - SPAN_MS - 60_000;

  // Ingest: serialize, write, rotate and pack (packing runs on libuv's threads: process CPU counts it).
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < LINES; i++) store.append(APP, record(i, start));
  store.flush();
  const appendMs = performance.now() - t0;
  await store.idle();
  const ingestMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuShare = (cpu.user + cpu.system) / 1000 / ingestMs;
  const usage = store.usage(APP);
  const rate = LINES / (ingestMs / 1000);
  console.log(`ingest: ${(rate / 1000).toFixed(0)}k lines/s incl. packing (${(LINES / (appendMs / 1000) / 1000).toFixed(0)}k lines/s appending), ` +
    `${(ingestMs / 1000).toFixed(1)} s, CPU ${(cpuShare * 100).toFixed(0)}% of one core over that time  [target ≥ 50k/s: ${verdict(rate >= 50_000)}]`);
  console.log(`        per 1,000 lines/s of steady logging that is ~${((cpuShare * 1000) / rate * 100).toFixed(2)}% of one core`);

  // The same lines as one raw file, for grep (also a full read of the store).
  const rawFile = path.join(dir, 'raw.ndjson');
  const out = fs.openSync(rawFile, 'w');
  const full = await drain((async function* () {
    for await (const chunk of store.read(APP, {})) { fs.writeSync(out, chunk); yield chunk; }
  })());
  fs.closeSync(out);
  console.log(`stored: ${usage.packed} packed + ${usage.raw} raw segment(s), ${mb(usage.bytes).toFixed(0)} MB on disk for ` +
    `${mb(full.bytes).toFixed(0)} MB of lines (${(full.bytes / usage.bytes).toFixed(1)}x); full read ${(mb(full.bytes) / (full.totalMs / 1000)).toFixed(0)} MB/s`);

  // One hour in the middle.
  const since = start + 5 * 3_600_000;
  const until = since + 3_600_000;
  const windows = [];
  for (let i = 0; i < 3; i++) windows.push(await drain(store.read(APP, { since, until })));
  const best = windows.toSorted((a, b) => a.totalMs - b.totalMs)[0];
  const firstMs = Math.max(...windows.map((w) => w.firstMs));
  const mbps = mb(best.bytes) / (best.totalMs / 1000);
  console.log(`1 h window: ${best.lines.toLocaleString('en')} lines, ${mb(best.bytes).toFixed(0)} MB; first line after ${windows.map((w) => w.firstMs.toFixed(1)).join(' / ')} ms ` +
    `[target ≤ 100: ${verdict(firstMs <= 100)}]; whole window ${best.totalMs.toFixed(0)} ms = ${mbps.toFixed(0)} MB/s [target ≥ 200: ${verdict(mbps >= 200)}]`);
  const grepWin = await drain(store.read(APP, { since, until, grep: 'status=500' }));

  // grep over the raw file: it has no index, so any question reads all of it.
  const grepCount = await run('grep', ['-c', '-F', 'status=500', rawFile]);
  const grepAll = await run('grep', ['-c', '', rawFile]);
  const storeGrepAll = await drain(store.read(APP, { grep: 'status=500' }));
  console.log(`grep -F status=500 over the raw file: ${grepCount.ms.toFixed(0)} ms (${Number(grepCount.stdout)} lines); ` +
    `store, same grep over all ${storeGrepAll.totalMs.toFixed(0)} ms (${storeGrepAll.lines} lines)`);
  console.log(`store, same grep within the 1 h window: ${grepWin.totalMs.toFixed(0)} ms (${grepWin.lines} lines) = ` +
    `${(grepCount.ms / grepWin.totalMs).toFixed(1)}x faster than grep over the file`);
  console.log(`whole window streamed by the store vs grep '' over the file (${(mb(fs.statSync(rawFile).size) / (grepAll.ms / 1000)).toFixed(0)} MB/s): ` +
    `${(grepAll.ms / best.totalMs).toFixed(1)}x faster to get the hour`);
  await store.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
