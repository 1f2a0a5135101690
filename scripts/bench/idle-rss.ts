// Idle memory of the Berth server process: VmRSS with 0 apps (measured first, same server), then with
// 50 apps each running one instance of the hello image, after the server has been idle for a while.
// Done for the server run from sources (the test harness) and, when built, the production bundle
// dist/berth-server.mjs (what an install runs) and the single executable dist/berth.
//   node scripts/bench/idle-rss.ts     (BENCH_RSS_APPS=50, BENCH_RSS_DEPLOY=50, BENCH_IDLE_SECONDS=10)
import {
  API_CONCURRENCY, EXECUTABLE, TEST_IMAGE, bundleState, main, serverAlive, pool, printTable, ratio, rssMB, serverPid, sleep, stats, verdict, withStack,
  type BerthServer,
} from './lib.ts';
import { existsSync } from 'node:fs';
import { testNetworkSubnet } from '../../test/support/network.ts';

const APPS = Number(process.env.BENCH_RSS_APPS ?? 50);
const DEPLOY = Math.min(APPS, Number(process.env.BENCH_RSS_DEPLOY ?? APPS));
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
const TARGET_MB = 100;

const LABELS = { sources: 'src/server/main.ts', bundle: 'dist/berth-server.mjs', executable: 'dist/berth server' };

interface Idle { rss: number; peak: number; samples: number[]; anon: number; file: number }
interface Run { server: string; empty: Idle; loaded: Idle; running: number; afterList: number; listMs: number }

main('idle-rss', async () => {
  // BENCH_RSS_BUNDLE_ONLY=1 skips the run from sources (for quick heap-flag comparisons with BENCH_NODE_FLAGS).
  const runs = process.env.BENCH_RSS_BUNDLE_ONLY ? [] : [await measure('sources')];
  const bundle = bundleState();
  if (bundle === 'missing') console.log('dist/berth-server.mjs is missing (npm run build): measuring the sources only');
  else runs.push(await measure('bundle'));
  if (existsSync(EXECUTABLE)) runs.push(await measure('executable'));
  else console.log('dist/berth is missing (npm run build): the single executable is not measured');

  const mb = (x: number) => `${x.toFixed(1)} MB`;
  const samples = (i: Idle) => i.samples.map((x) => x.toFixed(0)).join(' ');
  // Anonymous memory (heaps, malloc) + file pages touched (node's code; dist/berth's embedded script and code cache).
  const split = (i: Idle) => `${i.anon.toFixed(0)} + ${i.file.toFixed(0)}`;
  printTable(`Berth server VmRSS, median of the last 5 one-second samples after ${IDLE_SECONDS} s idle`,
    ['server', 'state', 'VmRSS', 'anon + file', 'vs 0 apps', 'samples (MB)', 'peak (VmHWM)'], runs.flatMap((r) => [
      [r.server, '0 apps (fresh server)', mb(r.empty.rss), split(r.empty), '1.00x', samples(r.empty), mb(r.empty.peak)],
      [r.server, `${APPS} apps, ${r.running} running`, mb(r.loaded.rss), split(r.loaded), ratio(r.loaded.rss, r.empty.rss), samples(r.loaded), mb(r.loaded.peak)],
      [r.server, `right after GET /apps (${r.listMs} ms)`, Number.isNaN(r.afterList) ? 'server crashed' : mb(r.afterList), '', ratio(r.afterList, r.empty.rss), '', ''],
    ]));
  printTable('Target', ['target', 'server', 'measured', 'verdict', 'growth per app'], runs.map((r) =>
    [`idle RSS with ${APPS} apps ≤ ${TARGET_MB} MB`, r.server, mb(r.loaded.rss), verdict(r.loaded.rss <= TARGET_MB), mb((r.loaded.rss - r.empty.rss) / APPS)]));
  if (bundle === 'stale') console.log('note: dist/berth-server.mjs is older than src/ (run npm run build for current numbers)');
});

function measure(server: keyof typeof LABELS): Promise<Run> {
  const label = LABELS[server];
  console.log(`\n-- ${label} --`);
  // Each app's network is a /28 of the server's range: a /22 holds 64 of them.
  const network: Record<string, string> = APPS > 16 ? { BERTH_NETWORK_SUBNET: testNetworkSubnet(APPS > 64 ? 20 : 22) } : {};
  return withStack(network, async (s) => {
    const pid = serverPid(s.berth);
    const empty = await idleRss(pid, '0 apps');

    const names = Array.from({ length: APPS }, (_, i) => s.app(`rss${i + 1}`));
    let t0 = Date.now();
    await pool(names, API_CONCURRENCY, (name) => s.berth.ok('POST', '/apps', { name }));
    const createdIn = Date.now() - t0;
    t0 = Date.now();
    await pool(names.slice(0, DEPLOY), API_CONCURRENCY, (name) => s.berth.ok('POST', `/apps/${name}/deploys`, { image: TEST_IMAGE }));
    const deployedIn = Date.now() - t0;
    const running = await countRunning(s.berth, names);
    console.log(`created ${APPS} apps in ${(createdIn / 1000).toFixed(1)} s, deployed ${DEPLOY} in ${(deployedIn / 1000).toFixed(1)} s (${API_CONCURRENCY} at a time); ${running} instance(s) running`);
    if (running < DEPLOY) throw new Error(`only ${running} of ${DEPLOY} instances are running (did someone's Berth server remove them?)`);
    const loaded = await idleRss(pid, `${APPS} apps`);

    // One busy moment for contrast: listing the apps inspects every container. With 50 apps this is
    // where the server sometimes aborts (better-sqlite3 + Node 24, see docs/benchmarks.md): say so, keep the numbers.
    t0 = Date.now();
    const listed = await s.berth.api('GET', '/apps').then(() => true, () => false);
    const listMs = Date.now() - t0;
    if (!listed) {
      await sleep(500);
      console.log(`GET /apps failed: the server ${serverAlive(s.berth) ? 'is still running' : 'DIED'}:\n${s.berth.output.split('\n').filter((l) => l.includes('Assert')).join('\n')}`);
      return { server: label, empty, loaded, running, afterList: NaN, listMs };
    }
    const afterList = rssMB(pid).rss;

    t0 = Date.now();
    await pool(names, API_CONCURRENCY, (name) => s.berth.ok('DELETE', `/apps/${name}`, { confirm: name }));
    const left = (await s.berth.ok('GET', '/apps') as unknown[]).length;
    console.log(`destroyed ${APPS} apps in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${left} app(s) left`);
    return { server: label, empty, loaded, running, afterList, listMs };
  }, server);
}

/** Waits IDLE_SECONDS without touching the server, sampling VmRSS once a second over the last 5. */
async function idleRss(pid: number, label: string): Promise<Idle> {
  const samples: number[] = [];
  for (let second = 1; second <= IDLE_SECONDS; second++) {
    await sleep(1000);
    if (second > IDLE_SECONDS - 5) samples.push(rssMB(pid).rss);
  }
  const last = rssMB(pid);
  const result = { rss: stats(samples).median, peak: last.peak, samples, anon: last.anon, file: last.file };
  console.log(`${label}: idle VmRSS ${result.rss.toFixed(1)} MB (anon ${result.anon.toFixed(1)} + file ${result.file.toFixed(1)}; peak so far ${result.peak.toFixed(1)} MB)`);
  return result;
}

async function countRunning(berth: BerthServer, names: string[]): Promise<number> {
  const counts = await pool(names, API_CONCURRENCY, async (name) =>
    (await berth.ok('GET', `/apps/${name}/ps`) as Array<{ state: string }>).filter((i) => i.state === 'running').length);
  return counts.reduce((a, b) => a + b, 0);
}
