// Runs every benchmark in sequence (never two Berth servers at once), each in its own process, after
// printing what machine this is. A benchmark that breaks (not one that misses its target) is tried
// once more; the exit code is 1 only when one still broke.
//   export PATH=/opt/berth/node/bin:$PATH; node scripts/bench/run-all.ts
//   BENCH_ONLY=release-switch,idle-rss node scripts/bench/run-all.ts
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { docker, sleep } from './lib.ts';

const ALL = ['release-switch', 'router-overhead', 'route-update', 'idle-rss', 'soak', 'push-to-live', 'logstore', 'addons'];
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
const benches = only?.length ? ALL.filter((b) => only.includes(b)) : ALL;

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const MIN_IDLE = Number(process.env.BENCH_MIN_IDLE ?? 85);

/** Percent of CPU time idle over the next 3 s (from /proc/stat; the load average here counts more than CPU). */
async function idlePercent(): Promise<number> {
  const read = () => fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const a = read();
  await sleep(3000);
  const d = read().map((v, i) => v - a[i]);
  return (100 * (d[3] + d[4])) / d.reduce((x, y) => x + y, 0); // idle + iowait
}

/** Others' jobs on this 2-core machine skew every number: wait (up to 2 min) for a quieter moment. */
async function waitForQuiet(): Promise<string> {
  let idle = await idlePercent();
  for (let waited = 3; idle < MIN_IDLE && waited < 120; waited += 3) {
    if (waited === 3) console.log(`waiting for the CPUs to be ≥ ${MIN_IDLE}% idle (now ${idle.toFixed(0)}%) ...`);
    idle = await idlePercent();
  }
  if (idle < MIN_IDLE) console.log(`note: CPUs only ${idle.toFixed(0)}% idle after 2 min; running anyway`);
  return `CPU ${idle.toFixed(0)}% idle before the start`;
}

const caddyVersion = await new Promise<string>((resolve) => {
  let out = '';
  const child = spawn('caddy', ['version']);
  child.stdout.on('data', (d) => { out += d; });
  child.on('close', () => resolve(out.trim().split(' ')[0] || 'unknown'));
  child.on('error', () => resolve('not found'));
});
console.log(`Berth benchmarks, ${new Date().toISOString()}`);
console.log(`machine: ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}`);
console.log(`node ${process.version}, docker ${await docker('version', '--format', '{{.Server.Version}}')}, caddy ${caddyVersion}`);
console.log(`load average at start: ${load()}`);

const summary: string[][] = [];
for (const bench of benches) {
  let code = -1;
  let tries = 0;
  const started = Date.now();
  while (tries < 2 && code !== 0) {
    tries++;
    const quiet = await waitForQuiet();
    console.log(`\n##### ${bench}${tries > 1 ? ' (second try)' : ''} — ${quiet}, load average ${load()}`);
    code = await run(path.join(import.meta.dirname, `${bench}.ts`));
  }
  summary.push([bench, code === 0 ? 'ran' : `BROKE (exit ${code})`, String(tries), `${((Date.now() - started) / 1000).toFixed(0)} s`]);
}

console.log(`\n##### summary (load average at end: ${load()})`);
for (const row of summary) console.log(`  ${row[0].padEnd(16)} ${row[1].padEnd(16)} tries ${row[2]}  ${row[3]}`);
console.log('(each benchmark prints its own PASS/MISS verdicts above)');
process.exit(summary.every((r) => r[1] === 'ran') ? 0 : 1);

function run(script: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], { stdio: 'inherit' });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
