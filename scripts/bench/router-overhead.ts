// Router overhead: requests/s and latency through Caddy (Host: APP.localhost) vs straight to the
// instances' published ports, same client (autocannon, in this process), same run, 1 then 2 web instances.
//   node scripts/bench/router-overhead.ts     (BENCH_SECONDS=10 per path and instance count, BENCH_CONNECTIONS=10)
import fs from 'node:fs';
import autocannon, { type Result } from 'autocannon';
import {
  TEST_IMAGE, cpuMs, docker, main, pidListening, printTable, verdict, withStack,
} from './lib.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 3;
const SLICES = 2;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const TARGET_RATIO = 0.8;

interface Target { url: string; headers?: Record<string, string> }
interface Measured { rps: number; p50: number; p99: number; meanMs: number; errors: number; non2xx: number; cpu: Record<string, number> }

main('router-overhead', () => withStack({}, async (s) => {
  const app = s.app('router');
  await s.berth.ok('POST', '/apps', { name: app });
  await s.berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  const caddyPid = await pidListening(s.caddy.httpPort);
  const rows: string[][] = [];
  const cpuRows: string[][] = [];
  const ratios: number[] = [];
  for (const instances of [1, 2]) {
    if (instances > 1) await s.berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: instances }] });
    const ps = (await s.berth.ok('GET', `/apps/${app}/ps`) as Array<{ type: string; hostPort: number; containerId: string }>)
      .filter((i) => i.type === 'web');
    if (ps.length !== instances) throw new Error(`expected ${instances} web instance(s), Berth reports ${ps.length}`);
    const processes: Record<string, number[]> = {
      caddy: caddyPid ? [caddyPid] : [],
      'docker-proxy': (await Promise.all(ps.map((i) => pidListening(i.hostPort)))).filter((p): p is number => p !== null),
      app: (await Promise.all(ps.map((i) => containerPids(i.containerId)))).flat(),
    };
    const [direct, routed] = await measurePair(ps.map((i) => ({ url: `http://127.0.0.1:${i.hostPort}/` })),
      [{ url: `http://127.0.0.1:${s.caddy.httpPort}/`, headers: { host: `${app}.localhost` } }], processes);
    ratios.push(routed.rps / direct.rps);
    for (const [mode, m] of [['direct to instance port(s)', direct], ['through Caddy', routed]] as const) {
      rows.push([String(instances), mode, m.rps.toFixed(0), lat(m.p50), lat(m.p99), `${m.meanMs.toFixed(2)} ms`, `${m.errors}/${m.non2xx}`,
        mode === 'through Caddy' ? `${(routed.rps / direct.rps).toFixed(2)}` : '1.00']);
      cpuRows.push([String(instances), mode, ...['client', 'caddy', 'docker-proxy', 'app'].map((k) => `${(m.cpu[k] / 10 / SECONDS).toFixed(0)}%`),
        `${((Object.values(m.cpu).reduce((a, b) => a + b, 0) * 1000) / (m.rps * SECONDS)).toFixed(0)} µs`]);
    }
  }
  printTable(`Throughput and latency (${CONNECTIONS} connections, ${SECONDS} s per path in ${SLICES} alternating slices, after a ${WARMUP_SECONDS} s warm-up)`,
    ['web instances', 'path', 'req/s', 'p50', 'p99', 'mean (conn/rps)', 'errors/non-2xx', 'ratio vs direct'], rows);
  printTable('CPU used during each measurement (100% = one core; the machine has 2)',
    ['web instances', 'path', 'client', 'caddy', 'docker-proxy', 'app', 'CPU per request'], cpuRows);
  printTable('Target', ['target', 'measured', 'verdict'], ratios.map((r, i) =>
    [`${i + 1} instance(s): Caddy req/s ≥ ${TARGET_RATIO} × direct`, r.toFixed(2), verdict(r >= TARGET_RATIO)]));
}));

/**
 * Warm-up, then SLICES alternating slices of direct and routed load (ABAB…), so a burst of other work on
 * this shared machine hits both paths alike. Several targets share the connections and run at once.
 */
async function measurePair(direct: Target[], routed: Target[], processes: Record<string, number[]>): Promise<[Measured, Measured]> {
  const run = (targets: Target[], duration: number) => {
    const per = Math.max(1, Math.floor(CONNECTIONS / targets.length));
    return Promise.all(targets.map((t) => autocannon({ ...t, connections: per, duration })));
  };
  await run(direct, WARMUP_SECONDS);
  await run(routed, WARMUP_SECONDS);
  const acc = [{ results: [] as Result[], cpu: {} as Record<string, number> }, { results: [] as Result[], cpu: {} as Record<string, number> }];
  for (let slice = 0; slice < SLICES; slice++) {
    for (const [i, targets] of [direct, routed].entries()) {
      const before = cpuNow(processes);
      acc[i].results.push(...await run(targets, SECONDS / SLICES));
      const after = cpuNow(processes);
      for (const k of Object.keys(after)) acc[i].cpu[k] = (acc[i].cpu[k] ?? 0) + after[k] - before[k];
    }
  }
  return [combine(acc[0].results, acc[0].cpu), combine(acc[1].results, acc[1].cpu)];
}

function cpuNow(processes: Record<string, number[]>): Record<string, number> {
  const usage = process.cpuUsage();
  const sum = (pids: number[]) => pids.reduce((total, pid) => total + cpuMs(pid), 0);
  return { client: (usage.user + usage.system) / 1000, ...Object.fromEntries(Object.entries(processes).map(([k, pids]) => [k, sum(pids)])) };
}

/** Throughput = all requests / measured time; latency of parallel runs: p50 weighted by requests, p99 the worst. */
function combine(results: Result[], cpu: Record<string, number>): Measured {
  const requests = results.reduce((a, r) => a + r.requests.total, 0);
  const rps = requests / SECONDS; // the runs of one slice overlap; the slices add up to SECONDS
  const total = results.reduce((a, r) => a + r.latency.totalCount, 0) || 1;
  return {
    rps,
    p50: results.reduce((a, r) => a + r.latency.p50 * r.latency.totalCount, 0) / total,
    p99: Math.max(...results.map((r) => r.latency.p99)),
    meanMs: (CONNECTIONS / rps) * 1000, // Little's law: autocannon's own mean is rounded to whole ms
    errors: results.reduce((a, r) => a + r.errors + r.timeouts, 0),
    non2xx: results.reduce((a, r) => a + r.non2xx, 0),
    cpu,
  };
}

/** The container's processes: docker-init (PID 1 inside) and its children (the app). */
async function containerPids(id: string): Promise<number[]> {
  const init = Number(await docker('inspect', '-f', '{{.State.Pid}}', id));
  let children: number[] = [];
  try {
    children = fs.readFileSync(`/proc/${init}/task/${init}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { /* gone */ }
  return [init, ...children];
}

const lat = (x: number) => (x < 1 ? '<1 ms' : `${x.toFixed(0)} ms`);
