// Router cost of a canary split: requests/s through Caddy to an app with a plain route vs an app whose route splits
// 10 % to a canary (Berth's weighted split, src/router/caddy/canary-split.ts; no gray match), same client (autocannon, in this process), same
// run, alternating slices (ABBA…). The apps run the same image; Caddy's CPU per request is shown too. A third app,
// plainly routed over two instances, shows what the split's second container costs apart from the routing.
// BENCH_PROFILE=1 adds routes (names of their own, beside Berth's) that each add one piece of a split to a plain
// proxy (canary-variants.ts), measured in the same rotation, to show where a split's cost is.
//   node scripts/bench/canary-routing.ts     (BENCH_SECONDS=10 per route, BENCH_CONNECTIONS=10, BENCH_WEIGHT=10)
import fs from 'node:fs';
import autocannon, { type Result } from 'autocannon';
import { CaddyAdminClient } from '../../src/router/caddy/admin-client.ts';
import { ROUTES_PATH, appRouteId, type CaddyHandler, type CaddyRoute } from '../../src/router/caddy/config.ts';
import { TEST_IMAGE, cpuMs, docker, main, pidListening, printTable, verdict, withStack } from './lib.ts';
import { profileVariants } from './canary-variants.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 3;
const SLICES = 6;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const WEIGHT = Number(process.env.BENCH_WEIGHT ?? 10);
const PROFILE = process.env.BENCH_PROFILE === '1';
const TARGET_RATIO = 0.95;

interface Run { result: Result; caddyMs: number }
interface Measured { rps: number; p50: number; p99: number; errors: number; non2xx: number; caddyMs: number }

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

main('canary-routing', () => withStack({}, async (s) => {
  console.log(`load average at the start: ${loadavg()}`);
  const plain = s.app('plain');
  const plainTwo = s.app('plain2');
  const split = s.app('split');
  for (const app of [plain, plainTwo, split]) {
    await s.berth.ok('POST', '/apps', { name: app });
    await s.berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  }
  // A split app runs two web containers (stable and canary): the same app plainly routed over two instances
  // shows what the second container costs on this machine apart from the routing.
  await s.berth.ok('PATCH', `/apps/${plainTwo}/formation`, { updates: [{ type: 'web', quantity: 2 }] });
  await s.berth.ok('POST', `/apps/${split}/deploys`, { image: TEST_IMAGE, canary: { weight: WEIGHT, minRequests: 1_000_000 } });
  const caddyPid = await pidListening(s.caddy.httpPort);
  const splitName = `canary split at ${WEIGHT} %`;
  const hosts: Record<string, string> = { plain: `${plain}.localhost`, [splitName]: `${split}.localhost`, 'plain, 2 instances': `${plainTwo}.localhost` };
  if (PROFILE) Object.assign(hosts, await addProfileRoutes(s.caddy.adminUrl, plain, split, (app) => s.berth.ok('GET', `/apps/${app}/ps`)));
  const run = async (host: string, duration: number): Promise<Run> => {
    const before = caddyPid ? cpuMs(caddyPid) : 0;
    const result = await autocannon({ url: `http://127.0.0.1:${s.caddy.httpPort}/`, headers: { host }, connections: CONNECTIONS, duration });
    return { result, caddyMs: (caddyPid ? cpuMs(caddyPid) : 0) - before };
  };
  const names = Object.keys(hosts);
  for (const name of names) await run(hosts[name]!, WARMUP_SECONDS);
  const acc: Record<string, Run[]> = Object.fromEntries(names.map((n) => [n, []]));
  // ABBA…: a burst of other work on this shared machine, or a trend over the run, hits every route alike.
  for (let slice = 0; slice < SLICES; slice++) {
    for (const name of slice % 2 ? [...names].reverse() : names) acc[name]!.push(await run(hosts[name]!, SECONDS / SLICES));
  }
  const measured = Object.fromEntries(names.map((n) => [n, combine(acc[n]!)]));
  const base = measured.plain!;
  const row = (label: string, m: Measured) => [label, m.rps.toFixed(0), (m.rps / base.rps).toFixed(3), `${m.p50.toFixed(1)} ms`, `${m.p99.toFixed(0)} ms`,
    `${m.errors}/${m.non2xx}`, `${((m.caddyMs * 1000) / (m.rps * SECONDS)).toFixed(0)} µs`];
  printTable(`Through Caddy (${CONNECTIONS} connections, ${SECONDS} s per route in ${SLICES} slices, ABBA order, after a ${WARMUP_SECONDS} s warm-up each)`,
    ['route', 'req/s', 'vs plain', 'p50', 'p99', 'errors/non-2xx', 'Caddy CPU per request'], names.map((n) => row(n, measured[n]!)));
  const ratio = measured[splitName]!.rps / base.rps;
  const sameBackends = measured[splitName]!.rps / measured['plain, 2 instances']!.rps;
  printTable('Target', ['target', 'measured', 'verdict'], [
    ['split req/s ≥ 0.95 × plain', ratio.toFixed(3), verdict(ratio >= TARGET_RATIO)],
    ['(for reference) split vs plain over 2 instances', sameBackends.toFixed(3), ''],
  ]);
  console.log(`load average at the end: ${loadavg()}`);
}));

/**
 * Routes of their own (names under the split app's, before Berth's routes) for canary-variants.ts, dialling the split
 * app's stable and canary instances at their container addresses, with the settings of the plain app's proxy.
 */
async function addProfileRoutes(adminUrl: string, plain: string, split: string, ps: (app: string) => Promise<unknown>): Promise<Record<string, string>> {
  const admin = new CaddyAdminClient(adminUrl);
  const plainRoute = await admin.getOrNull<CaddyRoute>(`/id/${appRouteId(plain)}`);
  const proxy = plainRoute?.handle?.at(-1) as CaddyHandler | undefined;
  if (proxy?.handler !== 'reverse_proxy') throw new Error(`the plain app's route has no proxy: ${JSON.stringify(plainRoute)}`);
  const instances = (await ps(split)) as Array<{ type: string; release: number; containerId: string }>;
  const web = instances.filter((i) => i.type === 'web').sort((a, b) => a.release - b.release);
  if (web.length !== 2) throw new Error(`expected a stable and a canary web instance, Berth reports ${web.length}`);
  const port = Number((proxy.dynamic_upstreams as { port?: string } | undefined)?.port ?? 5000);
  const [stable, canary] = await Promise.all(web.map(async (i) =>
    `${(await docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', i.containerId)).split(' ')[0]}:${port}`));
  const hosts: Record<string, string> = {};
  for (const [index, [name, handle]] of Object.entries(profileVariants(proxy, stable!, canary!, WEIGHT)).entries()) {
    const host = `v${index}.${split}.localhost`;
    await admin.put(`${ROUTES_PATH}/0`, { '@id': `bench-variant-${index}`, match: [{ host: [host] }], handle, terminal: true });
    hosts[name] = host;
  }
  return hosts;
}

function combine(runs: Run[]): Measured {
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
