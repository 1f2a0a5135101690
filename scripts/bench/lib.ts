// Shared helpers for the benchmarks in scripts/bench: small statistics, aligned tables, /proc readers,
// bounded polling, and (from stack.ts) the Caddy + Berth stack with guaranteed cleanup.
// Benchmarks measure; they never fail on a missed target (exit 0), only on a broken setup (exit 1).
import fs from 'node:fs';
import { execFileP } from './stack.ts';

export * from './stack.ts';
export { viaRouter, sleep, TEST_IMAGE } from '../../test/support/berth.ts';
export { freePort } from '../../test/support/ports.ts';
export type { BerthServer } from '../../test/support/berth.ts';

/** The pid of the process listening on a TCP port (from `ss -ltnp`), or null. */
export async function pidListening(port: number): Promise<number | null> {
  const { stdout } = await execFileP('ss', ['-ltnpH', `sport = :${port}`]);
  const m = /pid=(\d+)/.exec(stdout);
  return m ? Number(m[1]) : null;
}

/** CPU time (user + system) a process has used so far, in ms; 0 when it is gone. */
export function cpuMs(pid: number): number {
  const { user, system } = cpuSplitMs(pid);
  return user + system;
}

/** CPU time a process has used so far in user space and in the kernel, in ms; 0 when it is gone. */
export function cpuSplitMs(pid: number): { user: number; system: number } {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 }; // utime, stime in clock ticks (CLK_TCK = 100)
  } catch {
    return { user: 0, system: 0 };
  }
}

/**
 * How many API calls the benchmarks make at once when setting up many apps. Kept at 2: with more,
 * the server hit a native crash (better-sqlite3 + Node 24, see docs/benchmarks.md) during setup.
 */
export const API_CONCURRENCY = 2;

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }));
  return results;
}

/**
 * Fires check() every intervalMs (not waiting for the previous one, at most 8 in flight) until one
 * returns true; resolves with Date.now() at that answer, or null after timeoutMs.
 */
export function firstSuccess(check: () => Promise<boolean>, intervalMs: number, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    let inFlight = 0;
    let done = false;
    const finish = (value: number | null) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(deadline);
      resolve(value);
    };
    const fire = () => {
      if (done || inFlight >= 8) return;
      inFlight++;
      check().then((ok) => { if (ok) finish(Date.now()); }, () => {}).finally(() => { inFlight--; });
    };
    const timer = setInterval(fire, intervalMs);
    const deadline = setTimeout(() => finish(null), timeoutMs);
    fire();
  });
}

export interface Stats { n: number; median: number; p90: number; min: number; max: number }

export function stats(values: number[]): Stats {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return { n: 0, median: NaN, p90: NaN, min: NaN, max: NaN };
  const mid = v.length / 2;
  const median = v.length % 2 ? v[Math.floor(mid)] : (v[mid - 1] + v[mid]) / 2;
  const p90 = v[Math.min(v.length - 1, Math.ceil(0.9 * v.length) - 1)]; // nearest rank
  return { n: v.length, median, p90, min: v[0], max: v.at(-1)! };
}

export const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} ms` : '-');
export const ratio = (x: number, base: number) => (Number.isFinite(x / base) ? `${(x / base).toFixed(2)}x` : '-');

/** Prints rows as an aligned plain-text table (also valid Markdown). */
export function printTable(title: string, headers: string[], rows: Array<Array<string | number>>): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => (cell ?? '').padEnd(widths[c])).join(' | ')} |`;
  console.log(`\n${title}\n${line(headers)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells.slice(1)) console.log(line(r));
}

export function statsRow(label: string, s: Stats, fmt: (x: number) => string = ms): string[] {
  return [label, String(s.n), fmt(s.median), fmt(s.p90), fmt(s.min), fmt(s.max)];
}
export const STATS_HEADERS = ['what', 'n', 'median', 'p90', 'min', 'max'];

export function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

/** Standard main(): run, print the verdict lines, exit 0 (1 only when the benchmark itself broke). */
export function main(name: string, run: () => Promise<void>): void {
  const started = Date.now();
  console.log(`== ${name} (${new Date().toISOString()}) ==`);
  run().then(() => {
    console.log(`\n${name}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    process.exit(0);
  }, (err) => {
    console.error(`\n${name}: FAILED to run: ${(err as Error).stack ?? err}`);
    process.exit(1);
  });
}

/**
 * VmRSS and VmHWM (peak RSS) of a process, in MB, and VmRSS's two parts: anonymous memory (heaps, malloc)
 * and file pages mapped and touched (the node binary's code, dist/berth's embedded script), which the
 * kernel can drop under pressure.
 */
export function rssMB(pid: number): { rss: number; peak: number; anon: number; file: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}
