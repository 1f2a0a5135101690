// Release switch on the Kubernetes (k3s) scheduler vs the Docker scheduler, same Berth, same Caddy, same run:
// from the API request for a new release (a config change) until the first request THROUGH CADDY is answered
// by it, and until the API call returned. Meanwhile two clients keep requesting each app through Caddy
// (failed requests counted), and Caddy's whole config is compared before and after each release (a release
// should write nothing there). Needs the test cluster (shared/k8s): its kubeconfig in BERTH_TEST_KUBECONFIG.
//   BERTH_TEST_KUBECONFIG=$(../shared/k8s/start.sh) node scripts/bench/scheduler-switch.ts   (BENCH_ROUNDS=5)
import http from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { CaddyAdminClient } from '../../src/router/caddy/admin-client.ts';
import { deleteNamespace } from '../../test/scheduler/k8s-cluster.ts';
import {
  STATS_HEADERS, TEST_IMAGE, firstSuccess, main, ms, printTable, ratio, stats, statsRow, verdict, viaRouter, withStack, type Stack,
} from './lib.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const POLL_MS = 20;
const TARGET_RATIO = 2;
const SCHEDULERS = ['docker', 'k3s'] as const;
type Name = typeof SCHEDULERS[number];

interface Result { served: number[]; api: number[]; configWrites: number; requests: number; failures: string[] }

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
      report(results);
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
  const result: Result = { served: [], api: [], configWrites: 0, requests: 0, failures: [] };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let releasing = true;
  const clients = Array.from({ length: 2 }, async () => {
    const deadline = Date.now() + 10 * 60_000;
    while (releasing && Date.now() < deadline) {
      const res = await request(s.caddy.httpPort, `${app}.localhost`, agent);
      result.requests++;
      if (res.status !== 200) result.failures.push(`${res.status} ${res.body.slice(0, 100)}`);
    }
  });
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const version = ((await s.berth.ok('GET', `/apps/${app}`)).currentRelease as number) + 1;
      const before = await caddy.get('/config/');
      const t0 = Date.now();
      const served = firstSuccess(async () => {
        const res = await viaRouter(s.caddy.httpPort, `${app}.localhost`);
        return res.status === 200 && res.body.startsWith(`hello from v${version} `);
      }, POLL_MS, 120_000);
      await s.berth.ok('PATCH', `/apps/${app}/config`, { BENCH_ROUND: String(round) });
      result.api.push(Date.now() - t0);
      const at = await served;
      if (at === null) throw new Error(`${scheduler}: v${version} was never served through Caddy`);
      result.served.push(at - t0);
      if (!isDeepStrictEqual(await caddy.get('/config/'), before)) result.configWrites++;
      console.log(`${scheduler} round ${round}/${ROUNDS}: served by v${version} after ${ms(at - t0)}, API returned after ${ms(result.api.at(-1)!)}`);
    }
  } finally {
    releasing = false;
    await Promise.all(clients);
    agent.destroy();
    await s.berth.api('DELETE', `/apps/${app}`, { confirm: app });
  }
  return result;
}

function report(r: Record<Name, Result>): void {
  printTable(`Release switch: config change → first answer of the new release through Caddy (${ROUNDS} releases each)`, [...STATS_HEADERS, 'vs docker (median)'], [
    ...SCHEDULERS.map((name) => [...statsRow(`${name}: served through Caddy`, stats(r[name].served)), ratio(stats(r[name].served).median, stats(r.docker.served).median)]),
    ...SCHEDULERS.map((name) => [...statsRow(`${name}: API call returned`, stats(r[name].api)), ratio(stats(r[name].api).median, stats(r.docker.api).median)]),
  ]);
  printTable('During those releases', ['scheduler', 'requests through Caddy', 'failed', 'releases that changed Caddy config'], SCHEDULERS.map((name) => [
    name, r[name].requests, r[name].failures.length, `${r[name].configWrites} of ${ROUNDS}`,
  ]));
  for (const name of SCHEDULERS) if (r[name].failures.length) console.log(`${name} failures: ${r[name].failures.slice(0, 5).join(' | ')}`);
  const k8sRatio = stats(r.k3s.served).median / stats(r.docker.served).median;
  printTable('Targets', ['target', 'measured', 'verdict'], [
    [`k3s switch median ≤ ${TARGET_RATIO}× docker's`, `${k8sRatio.toFixed(2)}×`, verdict(k8sRatio <= TARGET_RATIO)],
    ...SCHEDULERS.map((name) => [`${name}: zero failed requests`, String(r[name].failures.length), verdict(r[name].failures.length === 0)]),
    ...SCHEDULERS.map((name) => [`${name}: zero Caddy config writes per release`, String(r[name].configWrites), verdict(r[name].configWrites === 0)]),
  ]);
}

/** One keep-alive GET; a reset of a reused connection before any response byte is retried once (RFC 9112 §9.3.1). */
function request(port: number, host: string, agent: http.Agent, attempt = 1): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    let responded = false;
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent, timeout: 10_000 }, (res) => {
      responded = true;
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ status: 0, body: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!responded && attempt === 1 && req.reusedSocket && (err.code === 'ECONNRESET' || err.message === 'socket hang up')) {
        resolve(request(port, host, agent, 2));
      } else {
        resolve({ status: 0, body: `${err.message} (attempt ${attempt})` });
      }
    });
    req.end();
  });
}
