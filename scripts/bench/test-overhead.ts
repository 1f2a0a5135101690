// The fixed cost every test file pays before its first assertion, in CPU seconds (user + sys): about its wall
// time on CI's idle 2 cores, and what still means something on a machine shared by other runs, where wall
// time is noise. Measured in one run, BENCH_ROUNDS times each (median): a bare Node (the baseline); the
// server's issue-admin-token (how tests get a token) and a test server from sources up to its first /health
// answer, both without and with Node's compile cache (scripts/test.sh sets NODE_COMPILE_CACHE); importing
// drizzle-orm alone; and the same server from the bundle dist/berth-server.mjs, when built, for reference.
//   node scripts/bench/test-overhead.ts     (BENCH_ROUNDS=3)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy, type TestCaddy } from '../../test/support/caddy.ts';
import { appDnsEnv, portBlock } from '../../test/support/berth.ts';
import { freePort } from '../../test/support/ports.ts';
import { testNetworkSubnet } from '../../test/support/network.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SOURCES = path.join(ROOT, 'src/server/main.ts');
const BUNDLE = path.join(ROOT, 'dist/berth-server.mjs');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TICKS_PER_SECOND = 100; // USER_HZ: the unit of utime and stime in /proc/PID/stat
const START_TIMEOUT_MS = 300_000;

type Env = Record<string, string | undefined>;

/** CPU seconds (user + sys) of one command run to its end, as /usr/bin/time reports them. */
function commandCpu(args: string[], env: Env): number {
  const res = spawnSync('/usr/bin/time', ['-f', 'cpu %U %S', ...args], { env, encoding: 'utf8', timeout: START_TIMEOUT_MS });
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(res.stderr ?? '');
  if (res.status !== 0 || !m) throw new Error(`${args.join(' ')} failed (${res.status}): ${res.stderr}`);
  return Number(m[1]) + Number(m[2]);
}

/** A test server's settings (as test/support/berth.ts gives them), on a fresh data dir. */
async function serverEnv(caddy: TestCaddy, extra: Env): Promise<Env> {
  return {
    ...process.env, ...extra,
    BERTH_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-')), BERTH_API_HOST: '127.0.0.1',
    BERTH_API_PORT: String(await freePort()), BERTH_CADDY_ADMIN: caddy.adminUrl, BERTH_HTTP_PORT: String(caddy.httpPort),
    BERTH_HTTPS_PORT: String(caddy.httpsPort), BERTH_DOMAIN: 'localhost', ...(await appDnsEnv()),
    BERTH_ACME_CA: 'https://127.0.0.1:9/directory', BERTH_PORT_RANGE: portBlock(), BERTH_NETWORK_SUBNET: testNetworkSubnet(),
  };
}

/** CPU seconds of a server process from its spawn to its first /health answer (it is killed then). */
async function serverStartCpu(entry: string, env: Env): Promise<number> {
  const child = spawn(process.execPath, [entry], { env, stdio: 'ignore' });
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${entry} exited (${child.exitCode})`);
      if (Date.now() > deadline) throw new Error(`${entry} did not answer in ${START_TIMEOUT_MS / 1000} s`);
      const ok = await fetch(`http://127.0.0.1:${env.BERTH_API_PORT}/api/v1/health`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const fields = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime (fields 14 and 15)
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    fs.rmSync(env.BERTH_DATA_DIR!, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const caddy = await startCaddy();
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-compile-cache-'));
const noCache: Env = { NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: '1' };
const withCache: Env = { NODE_COMPILE_CACHE: cacheDir, NODE_DISABLE_COMPILE_CACHE: undefined };
const cases: [string, () => Promise<number> | number][] = [
  ['bare node (node -e 0): baseline', () => commandCpu([process.execPath, '-e', '0'], { ...process.env, ...noCache })],
  ["import('drizzle-orm/better-sqlite3') alone", () =>
    commandCpu([process.execPath, '--input-type=module', '-e', "await import('drizzle-orm/better-sqlite3')"], { ...process.env, ...noCache })],
];
for (const [label, cache] of [['no compile cache', noCache], ['compile cache', withCache]] as const) {
  cases.push([`issue-admin-token, sources, ${label}`, async () => {
    const env = await serverEnv(caddy, cache);
    try {
      return commandCpu([process.execPath, SOURCES, 'issue-admin-token'], env);
    } finally {
      fs.rmSync(env.BERTH_DATA_DIR!, { recursive: true, force: true });
    }
  }]);
  cases.push([`server start to /health, sources, ${label}`, async () => serverStartCpu(SOURCES, await serverEnv(caddy, cache))]);
}
if (fs.existsSync(BUNDLE)) {
  cases.push(['server start to /health, bundle (reference)', async () => serverStartCpu(BUNDLE, await serverEnv(caddy, noCache))]);
} else {
  console.log('dist/berth-server.mjs is missing (npm run build): the bundle is not measured');
}
const rows: [string, number[]][] = cases.map(([label]) => [label, []]);
try {
  // The cache is filled once first: a run of the suite fills it with its first few processes.
  await serverStartCpu(SOURCES, await serverEnv(caddy, withCache));
  // Rounds alternate the order (ABBA...), so a load that changes during the run weighs on every case alike.
  for (let round = 0; round < ROUNDS; round++) {
    const order = cases.map((_, i) => i);
    if (round % 2) order.reverse();
    for (const i of order) rows[i][1].push(await cases[i][1]());
  }
} finally {
  await caddy.stop();
  fs.rmSync(cacheDir, { recursive: true, force: true });
}

const base = median(rows[0][1]);
console.log(`load ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}, ${os.cpus().length} cores, ${ROUNDS} round(s), CPU seconds (user + sys)`);
console.log(`${'what'.padEnd(50)} ${'median'.padStart(7)} ${'x bare'.padStart(7)}  samples`);
for (const [label, samples] of rows) {
  const m = median(samples);
  console.log(`${label.padEnd(50)} ${m.toFixed(2).padStart(7)} ${(m / base).toFixed(1).padStart(7)}  ${samples.map((s) => s.toFixed(2)).join(' ')}`);
}
process.exit(0); // the test servers' app DNS daemons end with this process (test/support/berth.ts)
