// Autoscaling: the time from the start of a sustained breach (a burst of 120 req/s on one web instance
// autoscaled at --rps 20) to the first answer THROUGH CADDY from the new instance (web.2), and failed
// requests over 5 scale-up/down cycles under a continuous base load (10 req/s, below the target) that never
// stops. Floor, same run: ps:scale web=2 by hand until web.2 answers through Caddy (one instance start +
// health check + routing). Targets: breach → serving ≤ 20 s; 0 failed requests.
//   node scripts/bench/autoscale.ts        (BENCH_CYCLES=5, BENCH_FLOORS=3)
import {
  STATS_HEADERS, TEST_IMAGE, firstSuccess, main, ms, printTable, ratio, stats, statsRow, verdict, viaRouter, withStack, type Stack,
} from './lib.ts';
import { startLoad, type LoadReport } from '../../test/support/load.ts';

const CYCLES = Number(process.env.BENCH_CYCLES ?? 5);
const FLOORS = Number(process.env.BENCH_FLOORS ?? 3);
const TARGET_MS = 20_000;
const BURST_RPS = 120;
const BASE_RPS = 10;
const POLL_MS = 100;

main('autoscale', () => withStack({ BERTH_DRAIN_SECONDS: '1', BERTH_STOP_TIMEOUT: '2' }, async (s) => {
  const app = s.app('scale');
  const host = `${app}.localhost`;
  await s.berth.ok('POST', '/apps', { name: app });
  await s.berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });

  const floors: number[] = [];
  for (let i = 1; i <= FLOORS; i++) {
    const t0 = Date.now();
    const serving = servedBy(s, host, 'web.2');
    await s.berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 2 }] });
    floors.push((await serving) - t0);
    await s.berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 1 }] });
    console.log(`floor ${i}/${FLOORS}: ps:scale web=2 → web.2 serving in ${ms(floors.at(-1)!)}`);
  }

  await s.berth.ok('PUT', `/apps/${app}/autoscale/web`, { min: 1, max: 2, rps: 20, cooldown: '5s' });
  const base = startLoad({ port: s.caddy.httpPort, host, rate: BASE_RPS, connections: 2, maxSec: 60 * 30 });
  const breaches: number[] = [];
  const bursts: LoadReport[] = [];
  try {
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      await waitFor(`web back at 1 before cycle ${cycle}`, async () => (await webCount(s, app)) === 1, 120_000);
      const burst = startLoad({ port: s.caddy.httpPort, host, rate: BURST_RPS, connections: 4, maxSec: 120 });
      const serving = servedBy(s, host, 'web.2', 90_000);
      const at = await serving;
      breaches.push(at - burst.startedAt);
      bursts.push(await burst.stop());
      console.log(`cycle ${cycle}/${CYCLES}: breach → web.2 serving in ${ms(breaches.at(-1)!)}; burst ${bursts.at(-1)!.requests} requests`);
    }
    await waitFor('web back at 1 after the last cycle', async () => (await webCount(s, app)) === 1, 120_000);
  } finally {
    const baseReport = await base.stop();
    report(floors, breaches, [...bursts, baseReport]);
  }
}));

/** Resolves with the time the given instance first answered through Caddy. */
async function servedBy(s: Stack, host: string, dyno: string, timeoutMs = 60_000): Promise<number> {
  const at = await firstSuccess(async () => (await viaRouter(s.caddy.httpPort, host)).body.includes(` ${dyno} `), POLL_MS, timeoutMs);
  if (at === null) throw new Error(`${dyno} did not answer within ${timeoutMs / 1000} s`);
  return at;
}

async function webCount(s: Stack, app: string): Promise<number> {
  return (await s.berth.ok('GET', `/apps/${app}/formation`)).find((f: { type: string }) => f.type === 'web').quantity;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  if ((await firstSuccess(check, 500, timeoutMs)) === null) throw new Error(`timed out waiting for ${what}`);
}

function report(floors: number[], breaches: number[], loads: LoadReport[]): void {
  const floor = stats(floors);
  const breach = stats(breaches);
  printTable('Breach → new instance serving (through Caddy)', [...STATS_HEADERS, 'vs floor'], [
    [...statsRow('floor: ps:scale web=2 → web.2 serving', floor), '1.00x'],
    [...statsRow('autoscale: breach start → web.2 serving', breach), ratio(breach.median, floor.median)],
  ]);
  const failed = loads.reduce((n, l) => n + l.non2xx + l.errors + l.timeouts, 0);
  const requests = loads.reduce((n, l) => n + l.requests, 0);
  printTable(`Requests over ${breaches.length} scale-up/down cycles (base ${BASE_RPS} req/s throughout, bursts of ${BURST_RPS} req/s)`,
    ['requests', 'non-2xx', 'errors', 'timeouts'], [[requests, ...['non2xx', 'errors', 'timeouts'].map((k) => loads.reduce((n, l) => n + (l[k as keyof LoadReport] as number), 0))]]);
  console.log(`\nbreach → serving max ${ms(breach.max)} ≤ ${ms(TARGET_MS)}: ${verdict(breach.max <= TARGET_MS)}`);
  console.log(`failed requests ${failed} = 0: ${verdict(failed === 0 && breaches.length === CYCLES)}`);
}
