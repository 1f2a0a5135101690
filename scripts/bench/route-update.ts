// Route update latency with many apps in Caddy. Berth gives every app a route at creation, so 500
// apps = 500 routes (and 500 *.localhost names in the internal-TLS policy); only one app runs a container.
// Measured at 1 app (baseline) and then at 500 apps, same Berth and Caddy:
//   a) CaddyRouter.setRoute() called directly: an upstream change, and a hostname change
//   b) end to end: POST /apps/APP/domains until the new hostname answers through Caddy
//   node scripts/bench/route-update.ts     (BENCH_APPS=500, BENCH_UPDATES=20)
import { CaddyRouter } from '../../src/router/caddy/index.ts';
import { CaddyAdminClient } from '../../src/router/caddy/admin-client.ts';
import { appRouteId, buildAppRoute } from '../../src/router/caddy/config.ts';
import type { AppRoute } from '../../src/router/types.ts';
import {
  API_CONCURRENCY, STATS_HEADERS, TEST_IMAGE, firstSuccess, main, ms, pool, printTable, ratio, stats, statsRow, verdict, viaRouter,
  withStack, type Stack, type Stats,
} from './lib.ts';

const APPS = Number(process.env.BENCH_APPS ?? 500);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 20);
const TARGET_MS = 50;

interface Phase { apps: number; rawGet: Stats; rawPatch: Stats; upstream: Stats; hostname: Stats; e2e: Stats; e2eApi: Stats; remove: Stats }

main('route-update', () => withStack({}, async (s) => {
  const app = s.app('main');
  await s.berth.ok('POST', '/apps', { name: app });
  await s.berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  const router = new CaddyRouter({ adminUrl: s.caddy.adminUrl, httpPort: s.caddy.httpPort, httpsPort: s.caddy.httpsPort });
  const original = (await router.listRoutes()).find((r) => r.app === app);
  if (!original) throw new Error(`Caddy has no route for ${app}`);

  const phases: Phase[] = [await phase(s, router, original, 1)];

  const started = Date.now();
  const names = Array.from({ length: APPS - 1 }, (_, i) => s.app(`a${i + 1}`));
  const createMs = await pool(names, API_CONCURRENCY, async (name) => {
    const t0 = Date.now();
    await s.berth.ok('POST', '/apps', { name });
    return Date.now() - t0;
  });
  const routes = (await router.listRoutes()).length;
  console.log(`created ${names.length} apps in ${((Date.now() - started) / 1000).toFixed(1)} s (Caddy has ${routes} Berth routes); ` +
    `POST /apps took ${ms(stats(createMs.slice(0, 20)).median)} (median of the first 20) → ${ms(stats(createMs.slice(-20)).median)} (last 20), ${API_CONCURRENCY} at a time`);
  phases.push(await phase(s, router, original, routes));

  const [base, many] = phases;
  const rows = (label: string, pick: (p: Phase) => Stats) => phases.map((p) =>
    [...statsRow(`${label}, ${p.apps} app(s)`, pick(p)), p === base ? '1.00x' : ratio(pick(p).median, pick(base).median)]);
  printTable(`Route update time (${UPDATES} updates each)`, [...STATS_HEADERS, 'vs 1 app (median)'], [
    ...rows('raw Caddy admin GET /id/ROUTE', (p) => p.rawGet),
    ...rows('raw Caddy admin PATCH /id/ROUTE (1 reload)', (p) => p.rawPatch),
    ...rows('setRoute: upstream change', (p) => p.upstream),
    ...rows('setRoute: hostname change (+TLS policy sync)', (p) => p.hostname),
    ...rows('e2e: POST domain → new host answers via Caddy', (p) => p.e2e),
    ...rows('    of which: POST /domains returned', (p) => p.e2eApi),
    ...rows('DELETE /domains/HOST returned', (p) => p.remove),
  ]);
  printTable(`Target (at ${many.apps} apps)`, ['target', 'measured', 'verdict'], [
    [`setRoute upstream change median ≤ ${TARGET_MS} ms`, ms(many.upstream.median), verdict(many.upstream.median <= TARGET_MS)],
    [`setRoute hostname change median ≤ ${TARGET_MS} ms`, ms(many.hostname.median), verdict(many.hostname.median <= TARGET_MS)],
    [`domain add end to end median ≤ ${TARGET_MS} ms`, ms(many.e2e.median), verdict(many.e2e.median <= TARGET_MS)],
  ]);
}));

async function phase(s: Stack, router: CaddyRouter, original: AppRoute, apps: number): Promise<Phase> {
  const timed = async (fn: () => Promise<unknown>) => { const t0 = performance.now(); await fn(); return performance.now() - t0; };
  const upstream: number[] = [];
  const hostname: number[] = [];
  const rawGet: number[] = [];
  const rawPatch: number[] = [];
  const [real] = original.upstreams;
  const client = new CaddyAdminClient(s.caddy.adminUrl);
  const path = `/id/${appRouteId(original.app)}`;
  const admin = (method: 'GET' | 'PATCH', body?: unknown) => timed(() => (method === 'GET' ? client.get(path) : client.patch(path, body)));
  try {
    // What setRoute is made of: reads are cheap, every write makes Caddy load the whole new config.
    for (let i = 0; i < UPDATES; i++) {
      rawGet.push(await admin('GET'));
      rawPatch.push(await admin('PATCH', buildAppRoute({ ...original, upstreams: i % 2 === 0 ? [real, real] : [real] })));
    }
    for (let i = 0; i < UPDATES; i++) {
      // Same instance listed once or twice: a real change of the route's upstreams that keeps serving.
      const upstreams = i % 2 === 0 ? [real, real] : [real];
      upstream.push(await timed(() => router.setRoute({ ...original, upstreams })));
    }
    for (let i = 0; i < UPDATES; i++) {
      const hostnames = i % 2 === 0 ? [...original.hostnames, `probe-${s.prefix}.localhost`] : original.hostnames;
      hostname.push(await timed(() => router.setRoute({ ...original, hostnames })));
    }
  } finally {
    await router.setRoute(original);
  }

  const e2e: number[] = [];
  const e2eApi: number[] = [];
  const remove: number[] = [];
  for (let i = 0; i < UPDATES; i++) {
    const host = `d${apps}-${i}-${s.prefix}.localhost`;
    const t0 = Date.now();
    const answered = firstSuccess(async () => (await viaRouter(s.caddy.httpPort, host)).body.startsWith('hello from'), 5, 30_000);
    await s.berth.ok('POST', `/apps/${original.app}/domains`, { hostname: host });
    e2eApi.push(Date.now() - t0);
    const at = await answered;
    if (at === null) throw new Error(`${host} never answered through Caddy`);
    e2e.push(at - t0);
    remove.push(await timed(() => s.berth.ok('DELETE', `/apps/${original.app}/domains/${host}`)));
  }
  const result = { apps, rawGet: stats(rawGet), rawPatch: stats(rawPatch), upstream: stats(upstream), hostname: stats(hostname), e2e: stats(e2e), e2eApi: stats(e2eApi), remove: stats(remove) };
  console.log(`${apps} app(s): setRoute upstream ${ms(result.upstream.median)}, hostname ${ms(result.hostname.median)}, domain add e2e ${ms(result.e2e.median)} (medians)`);
  return result;
}
