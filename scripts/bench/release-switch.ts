// Release switch time for an image that is already on the host: from the API request for a new
// release (a config change, or a deploy of the same image) until the first request THROUGH CADDY is
// answered by the new release. Floor, same run: `docker run` of the same image until it answers.
//   node scripts/bench/release-switch.ts        (BENCH_ROUNDS=8: each round = 1 floor, 1 config, 1 deploy)
import http from 'node:http';
import {
  BENCH_LABEL, STATS_HEADERS, TEST_IMAGE, docker, firstSuccess, freePort, main, ms, printTable, ratio, stats,
  statsRow, verdict, viaRouter, withStack, type Stack,
} from './lib.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const POLL_MS = 20;
const TARGET_MS = 2000;

/** Milliseconds since the API request at which each step happened (undefined: not observable). */
interface Switch {
  kind: 'config' | 'deploy';
  startCalled?: number; // Berth logs "Starting web.1" (deploys only)
  running?: number;     // container State.StartedAt
  listening?: number;   // the app's "listening on" line (docker logs -t)
  healthy?: number;     // Berth logs "web.1 is healthy" (deploys only)
  routed?: number;      // Berth logs "Routing …" (deploys only)
  served: number;       // first answer of the new release through Caddy
  api: number;          // the API call returned (includes drain + stopping the old instance)
}

main('release-switch', () => withStack({ BERTH_DRAIN_SECONDS: '1', BERTH_STOP_TIMEOUT: '2' }, async (s) => {
  const app = s.app('switch');
  await s.berth.ok('POST', '/apps', { name: app });
  await s.berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE }); // v1, also warms caches
  const floors: Array<{ runReturned: number; answered: number }> = [];
  const switches: Switch[] = [];
  await dockerRunFloor(s.prefix, 0); // warm-up, not counted (v1's deploy warmed Berth's side)
  for (let round = 1; round <= ROUNDS; round++) {
    floors.push(await dockerRunFloor(s.prefix, round));
    switches.push(await timedRelease(s, app, 'config', () => s.berth.ok('PATCH', `/apps/${app}/config`, { BENCH_ROUND: String(round) })));
    switches.push(await timedRelease(s, app, 'deploy', () => s.berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE })));
    const last = switches.slice(-2).map((x) => ms(x.served)).join(', ');
    console.log(`round ${round}/${ROUNDS}: floor ${ms(floors.at(-1)!.answered)}, config/deploy switch ${last}`);
  }
  report(floors, switches);
}));

async function timedRelease(s: Stack, app: string, kind: Switch['kind'], request: () => Promise<unknown>): Promise<Switch> {
  const version = ((await s.berth.ok('GET', `/apps/${app}`)).currentRelease as number) + 1;
  const marker = `hello from v${version} `;
  const logFrom = s.berth.output.length;
  const t0 = Date.now();
  const served = firstSuccess(async () => {
    const res = await viaRouter(s.caddy.httpPort, `${app}.localhost`);
    return res.status === 200 && res.body.startsWith(marker);
  }, POLL_MS, 60_000);
  await request();
  const api = Date.now() - t0;
  const servedAt = await served;
  if (servedAt === null) throw new Error(`v${version} was never served through Caddy (did its container vanish?)`);

  const inst = (await s.berth.ok('GET', `/apps/${app}/ps`) as Array<{ release: number; type: string; containerId: string }>)
    .find((i) => i.release === version && i.type === 'web');
  const sw: Switch = { kind, served: servedAt - t0, api };
  if (inst) {
    sw.running = isoMs(await docker('inspect', '-f', '{{.State.StartedAt}}', inst.containerId)) - t0;
    const logs = await docker('logs', '-t', inst.containerId);
    const listening = /^(\S+) listening on/m.exec(logs);
    if (listening) sw.listening = isoMs(listening[1]) - t0;
  }
  const log = s.berth.output.slice(logFrom);
  const at = (re: RegExp) => { const m = new RegExp(`^(\\S+) deploy ${app}: ${re.source}`, 'm').exec(log); return m ? isoMs(m[1]) - t0 : undefined; };
  sw.startCalled = at(/Starting web\.1 of/);
  sw.healthy = at(/web\.1 is healthy/);
  sw.routed = at(/Routing /);
  return sw;
}

/**
 * `docker run -d` of the same image on a free port, then GET every 20 ms until it answers (like Berth's
 * health check, polling starts once the container is started: connections to a published port made
 * before the container exists were held for ~1 s here, which would inflate the floor).
 */
async function dockerRunFloor(prefix: string, round: number): Promise<{ runReturned: number; answered: number }> {
  const port = await freePort();
  const name = `${prefix}-floor-${round}`;
  const t0 = Date.now();
  try {
    await docker('run', '-d', '--name', name, '--label', `${BENCH_LABEL}=${prefix}`, '-e', 'PORT=5000',
      '-e', 'BERTH_RELEASE=floor', '-p', `127.0.0.1:${port}:5000`, TEST_IMAGE);
    const runReturned = Date.now() - t0;
    const at = await firstSuccess(() => directGet(port), POLL_MS, 30_000);
    if (at === null) throw new Error('the floor container never answered');
    return { runReturned, answered: at - t0 };
  } finally {
    await docker('rm', '-f', name);
  }
}

function directGet(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 500 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Docker's RFC 3339 timestamps have nanoseconds; Date wants at most milliseconds. */
function isoMs(text: string): number {
  return Date.parse(text.trim().replace(/(\.\d{3})\d*/, '$1'));
}

function report(floors: Array<{ runReturned: number; answered: number }>, switches: Switch[]): void {
  const floor = stats(floors.map((f) => f.answered));
  const all = stats(switches.map((x) => x.served));
  const byKind = (k: Switch['kind']) => stats(switches.filter((x) => x.kind === k).map((x) => x.served));
  printTable('Release switch: API request → first answer of the new release through Caddy', [...STATS_HEADERS, 'vs floor (median)'], [
    [...statsRow('floor: docker run → answers on its port', floor), '1.00x'],
    [...statsRow('floor: docker run returned (container started)', stats(floors.map((f) => f.runReturned))), ''],
    [...statsRow('switch, config change (PATCH /config)', byKind('config')), ratio(byKind('config').median, floor.median)],
    [...statsRow('switch, deploy of the present image', byKind('deploy')), ratio(byKind('deploy').median, floor.median)],
    [...statsRow('switch, all releases', all), ratio(all.median, floor.median)],
    [...statsRow('API call returned (incl. 1 s drain + stop)', stats(switches.map((x) => x.api))), ''],
  ]);

  // Breakdown: the median of each step's duration (from the previous observable step).
  const steps: Array<[string, (x: Switch) => number | undefined]> = [
    ['request → docker create/start called (deploys)', (x) => x.startCalled],
    ['→ container running (create + start)', (x) => diff(x.running, x.startCalled)],
    ['→ app listening (node boots in the container)', (x) => diff(x.listening, x.running)],
    ['→ Berth health check passed (200 ms poll)', (x) => diff(x.healthy, x.listening)],
    ['→ route switched in Caddy (admin API)', (x) => diff(x.routed, x.healthy)],
    ['→ first answer through Caddy (20 ms poll)', (x) => diff(x.served, x.routed)],
    ['request → container running (all releases)', (x) => x.running],
    ['container running → served (all releases)', (x) => diff(x.served, x.running)],
  ];
  printTable('Breakdown (per-step durations, from Berth log / docker timestamps)', STATS_HEADERS,
    steps.map(([label, f]) => statsRow(label, stats(switches.map(f).filter((v): v is number => v !== undefined)))));

  printTable('Target', ['target', 'measured', 'verdict'], [
    [`median switch ≤ ${TARGET_MS} ms`, ms(all.median), verdict(all.median <= TARGET_MS)],
    ['Berth overhead over the docker-run floor (median)', ms(all.median - floor.median), ''],
  ]);
}

const diff = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : a - b);
