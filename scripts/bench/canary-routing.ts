// Router cost of a canary split: requests/s through Caddy to an app with a plain route vs an app whose route splits
// 10 % to a canary (the subroute: gray matchers, the UUID draw, the X-Berth-Track tag), same client (autocannon, in
// this process), same run, alternating slices. Both apps run the same image; Caddy's CPU per request is shown too.
//   node scripts/bench/canary-routing.ts     (BENCH_SECONDS=10 per path, BENCH_CONNECTIONS=10)
import autocannon, { type Result } from 'autocannon';
import { TEST_IMAGE, cpuMs, main, pidListening, printTable, verdict, withStack } from './lib.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 3;
const SLICES = 6;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const TARGET_RATIO = 0.95;

interface Measured { rps: number; p50: number; p99: number; errors: number; non2xx: number; caddyMs: number }

main('canary-routing', () => withStack({}, async (s) => {
  const plain = s.app('plain');
  const split = s.app('split');
  for (const app of [plain, split]) {
    await s.berth.ok('POST', '/apps', { name: app });
    await s.berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  }
  await s.berth.ok('POST', `/apps/${split}/deploys`, { image: TEST_IMAGE, canary: { weight: Number(process.env.BENCH_WEIGHT ?? 10), header: 'X-Canary=1', minRequests: 1_000_000 } });
  const caddyPid = await pidListening(s.caddy.httpPort);
  const target = (app: string) => ({ url: `http://127.0.0.1:${s.caddy.httpPort}/`, headers: { host: `${app}.localhost` } });
  const run = async (app: string, duration: number): Promise<{ result: Result; caddyMs: number }> => {
    const before = caddyPid ? cpuMs(caddyPid) : 0;
    const result = await autocannon({ ...target(app), connections: CONNECTIONS, duration });
    return { result, caddyMs: (caddyPid ? cpuMs(caddyPid) : 0) - before };
  };
  await run(plain, WARMUP_SECONDS);
  await run(split, WARMUP_SECONDS);
  const acc: Record<string, Array<{ result: Result; caddyMs: number }>> = { [plain]: [], [split]: [] };
  // ABBA…: a burst of other work on this shared machine, or a trend over the run, hits both paths alike.
  for (let slice = 0; slice < SLICES; slice++) {
    for (const app of slice % 2 ? [split, plain] : [plain, split]) acc[app].push(await run(app, SECONDS / SLICES));
  }
  const [p, c] = [combine(acc[plain]), combine(acc[split])];
  const ratio = c.rps / p.rps;
  const row = (label: string, m: Measured) => [label, m.rps.toFixed(0), `${m.p50.toFixed(0)} ms`, `${m.p99.toFixed(0)} ms`, `${m.errors}/${m.non2xx}`,
    `${((m.caddyMs * 1000) / (m.rps * SECONDS)).toFixed(0)} µs`];
  printTable(`Through Caddy (${CONNECTIONS} connections, ${SECONDS} s per path in ${SLICES} slices, ABBA order, after a ${WARMUP_SECONDS} s warm-up)`,
    ['route', 'req/s', 'p50', 'p99', 'errors/non-2xx', 'Caddy CPU per request'], [row('plain', p), row('canary split at 10 %', c)]);
  printTable('Target', ['target', 'measured', 'verdict'], [['split req/s ≥ 0.95 × plain', ratio.toFixed(3), verdict(ratio >= TARGET_RATIO)]]);
}));

function combine(runs: Array<{ result: Result; caddyMs: number }>): Measured {
  const results = runs.map((r) => r.result);
  const total = results.reduce((a, r) => a + r.latency.totalCount, 0) || 1;
  return {
    rps: results.reduce((a, r) => a + r.requests.total, 0) / SECONDS,
    p50: results.reduce((a, r) => a + r.latency.p50 * r.latency.totalCount, 0) / total,
    p99: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((a, r) => a + r.errors + r.timeouts, 0),
    non2xx: results.reduce((a, r) => a + r.non2xx, 0),
    caddyMs: runs.reduce((a, r) => a + r.caddyMs, 0),
  };
}
