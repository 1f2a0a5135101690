// Release switch on the Kubernetes (k3s) scheduler vs the Docker scheduler, same Berth, same Caddy, same run:
// from the API request for a new release (a config change) until the first request THROUGH CADDY is answered
// by it, and until the API call returned: first with only that poller asking, then again while two clients
// keep requesting the app through Caddy (failed requests counted). Caddy's whole config is compared before and
// after each release (a release should write nothing there). Then cached push-to-live on each: `git push` of a one-line change to the
// hello app (Dockerfile + Procfile) until the new release answers through Caddy.
// Needs the test cluster (shared/k8s): its kubeconfig in BERTH_TEST_KUBECONFIG.
//   BERTH_TEST_KUBECONFIG=$(../shared/k8s/start.sh) node scripts/bench/scheduler-switch.ts   (BENCH_ROUNDS=5, BENCH_PUSHES=3)
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { CaddyAdminClient } from '../../src/router/caddy/admin-client.ts';
import { deleteNamespace } from '../../test/scheduler/k8s-cluster.ts';
import { gitEnv } from '../../test/support/git-env.ts';
import { underTraffic } from '../../test/support/traffic.ts';
import {
  ROOT, STATS_HEADERS, TEST_IMAGE, firstSuccess, main, ms, printTable, ratio, stats, statsRow, verdict, viaRouter, withStack, type Stack,
} from './lib.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PUSHES = Number(process.env.BENCH_PUSHES ?? 3);
const POLL_MS = 20;
const TARGET_RATIO = 2;
const SCHEDULERS = ['docker', 'k3s'] as const;
type Name = typeof SCHEDULERS[number];

interface Result { served: number[]; servedLoaded: number[]; api: number[]; configWrites: number; requests: number; seconds: number; failures: string[] }

const kubeconfig = process.env.BERTH_TEST_KUBECONFIG;
const namespace = `berth-bench-${Date.now().toString(36)}`;

main('scheduler-switch', async () => {
  if (!kubeconfig) throw new Error('BERTH_TEST_KUBECONFIG is not set: start the test cluster (../shared/k8s/start.sh) and pass its kubeconfig');
  try {
    await withStack({
      BERTH_KUBECONFIG: kubeconfig, BERTH_K8S_NAMESPACE: namespace, BERTH_DEFAULT_SCHEDULER: 'docker',
      BERTH_DRAIN_SECONDS: '1', BERTH_STOP_TIMEOUT: '2',
    }, async (s) => {
      const results = {} as Record<Name, Result>;
      for (const scheduler of SCHEDULERS) results[scheduler] = await measure(s, scheduler);
      const pushes = {} as Record<Name, number[]>;
      for (const scheduler of SCHEDULERS) pushes[scheduler] = await measurePushes(s, scheduler);
      report(results, pushes);
    });
  } finally {
    await deleteNamespace(kubeconfig, namespace);
  }
});

async function measure(s: Stack, scheduler: Name): Promise<Result> {
  const app = s.app(scheduler);
  await s.berth.ok('POST', '/apps', { name: app, scheduler });
  await s.berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE }); // v1: pulls and warms caches
  await s.berth.ok('PATCH', `/apps/${app}/config`, { WARM: '1' });        // v2: warm-up release, not counted
  const caddy = new CaddyAdminClient(s.caddy.adminUrl);
  const result: Result = { served: [], servedLoaded: [], api: [], configWrites: 0, requests: 0, seconds: 0, failures: [] };
  const release = async (round: number, label: string, into: number[]) => {
    const version = ((await s.berth.ok('GET', `/apps/${app}`)).currentRelease as number) + 1;
    const before = await caddy.get('/config/');
    const t0 = Date.now();
    const served = firstSuccess(async () => {
      const res = await viaRouter(s.caddy.httpPort, `${app}.localhost`);
      return res.status === 200 && res.body.startsWith(`hello from v${version} `);
    }, POLL_MS, 120_000);
    await s.berth.ok('PATCH', `/apps/${app}/config`, { BENCH_ROUND: `${label}-${round}` });
    result.api.push(Date.now() - t0);
    const at = await served;
    if (at === null) throw new Error(`${scheduler}: v${version} was never served through Caddy`);
    into.push(at - t0);
    if (!isDeepStrictEqual(await caddy.get('/config/'), before)) result.configWrites++;
    console.log(`${scheduler} ${label} round ${round}/${ROUNDS}: served by v${version} after ${ms(at - t0)}, API returned after ${ms(result.api.at(-1)!)}`);
  };
  try {
    // The switch itself, with only the poller asking: on 2 cores, saturating traffic mostly measures who gets the CPU.
    for (let round = 1; round <= ROUNDS; round++) await release(round, 'quiet', result.served);
    const trafficStarted = Date.now();
    const traffic = await underTraffic({ port: s.caddy.httpPort, host: `${app}.localhost`, clients: 2, maxMs: 10 * 60_000 }, async () => {
      for (let round = 1; round <= ROUNDS; round++) await release(round, 'under traffic', result.servedLoaded);
    });
    result.requests = traffic.total;
    result.seconds = (Date.now() - trafficStarted) / 1000;
    result.failures = traffic.failures;
  } finally {
    await s.berth.api('DELETE', `/apps/${app}`, { confirm: app });
  }
  return result;
}

/** Cached push-to-live: a first push (not counted), then PUSHES one-line changes, each until its release answers. */
async function measurePushes(s: Stack, scheduler: Name): Promise<number[]> {
  const app = s.app(`push-${scheduler}`);
  await s.berth.ok('POST', '/apps', { name: app, scheduler });
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-switch-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env: gitEnv(), encoding: 'utf8' });
  const times: number[] = [];
  try {
    fs.cpSync(path.join(ROOT, 'test/fixtures/hello'), repo, { recursive: true });
    fs.writeFileSync(path.join(repo, 'Procfile'), 'web: node /app/server.js\n');
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'v1');
    const remote = `http://berth:${s.berth.token}@127.0.0.1:${s.berth.port}/git/${app}.git`;
    for (let version = 1; version <= PUSHES + 1; version++) {
      if (version > 1) {
        fs.appendFileSync(path.join(repo, 'server.js'), `// change ${version}\n`);
        git('commit', '-qam', `v${version}`);
      }
      const t0 = Date.now();
      const live = firstSuccess(async () => (await viaRouter(s.caddy.httpPort, `${app}.localhost`)).body.startsWith(`hello from v${version} `), POLL_MS, 180_000);
      const code = await gitPush(repo, remote);
      if (code !== 0) throw new Error(`${scheduler}: git push of v${version} failed (exit ${code})`);
      const at = await live;
      if (at === null) throw new Error(`${scheduler}: v${version} of ${app} never answered through Caddy`);
      if (version > 1) times.push(at - t0);
      console.log(`${scheduler} push v${version}: live through Caddy after ${ms(at - t0)}${version === 1 ? ' (first push, not counted)' : ''}`);
    }
  } finally {
    await s.berth.api('DELETE', `/apps/${app}`, { confirm: app });
    fs.rmSync(repo, { recursive: true, force: true });
  }
  return times;
}

function gitPush(cwd: string, remote: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('git', ['push', '-q', remote, 'main'], { cwd, env: gitEnv(), stdio: 'ignore' });
    child.on('close', (code) => resolve(code ?? -1));
  });
}

function report(r: Record<Name, Result>, pushes: Record<Name, number[]>): void {
  printTable(`Release switch: config change → first answer of the new release through Caddy (${ROUNDS} releases each, quiet then under traffic)`, [...STATS_HEADERS, 'vs docker (median)'], [
    ...SCHEDULERS.map((name) => [...statsRow(`${name}: served through Caddy`, stats(r[name].served)), ratio(stats(r[name].served).median, stats(r.docker.served).median)]),
    ...SCHEDULERS.map((name) => [...statsRow(`${name}: served, under 2 clients' traffic`, stats(r[name].servedLoaded)), ratio(stats(r[name].servedLoaded).median, stats(r.docker.servedLoaded).median)]),
    ...SCHEDULERS.map((name) => [...statsRow(`${name}: API call returned`, stats(r[name].api)), ratio(stats(r[name].api).median, stats(r.docker.api).median)]),
  ]);
  // req/s of the two sequential clients: what the route costs per request (k3s: a new connection to the NodePort each).
  printTable('During those releases', ['scheduler', 'requests through Caddy', 'req/s (2 sequential clients)', 'failed', 'releases that changed Caddy config'], SCHEDULERS.map((name) => [
    name, r[name].requests, Math.round(r[name].requests / r[name].seconds), r[name].failures.length, `${r[name].configWrites} of ${ROUNDS * 2}`,
  ]));
  for (const name of SCHEDULERS) if (r[name].failures.length) console.log(`${name} failures: ${r[name].failures.slice(0, 5).join(' | ')}`);
  printTable(`Cached push-to-live: git push of a one-line change → the new release answers through Caddy (${PUSHES} pushes each)`, [...STATS_HEADERS, 'vs docker (median)'],
    SCHEDULERS.map((name) => [...statsRow(name, stats(pushes[name])), ratio(stats(pushes[name]).median, stats(pushes.docker).median)]));
  const k8sRatio = stats(r.k3s.served).median / stats(r.docker.served).median;
  const pushRatio = stats(pushes.k3s).median / stats(pushes.docker).median;
  printTable('Targets', ['target', 'measured', 'verdict'], [
    [`k3s switch median ≤ ${TARGET_RATIO}× docker's`, `${k8sRatio.toFixed(2)}×`, verdict(k8sRatio <= TARGET_RATIO)],
    [`k3s cached push-to-live median ≤ ${TARGET_RATIO}× docker's`, `${pushRatio.toFixed(2)}×`, verdict(pushRatio <= TARGET_RATIO)],
    ...SCHEDULERS.map((name) => [`${name}: zero failed requests`, String(r[name].failures.length), verdict(r[name].failures.length === 0)]),
    ...SCHEDULERS.map((name) => [`${name}: zero Caddy config writes per release`, String(r[name].configWrites), verdict(r[name].configWrites === 0)]),
  ]);
}

