// Canary releases on the Kubernetes (k3s) scheduler end to end, through the CLI, a real Berth, a real Caddy and the
// test cluster, routed to the canary Service's node port (BERTH_K8S_ROUTE=nodeport; the conformance suite covers the
// pod-network route): a gray canary gets exactly the requests with its header, and a canary answering 500 to 20 % of
// its requests is aborted by the analysis from the access log's per-release metrics while the stable release never
// fails. The Docker scheduler's version of these tests is canary.test.ts.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { cliOutput, runCliSync } from './support/cli.ts';
import { startBerth, eventually, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { buildImage, removeImage, FLAKY_DOCKERFILE } from './support/metrics-images.ts';
import { CanaryTraffic, countOf } from './support/canary-traffic.ts';
import { deleteNamespace, leftovers, testKubeconfig, testNamespace } from './scheduler/k8s-cluster.ts';

const cluster = testKubeconfig();
const FLAKY_IMAGE = `berth-test/canary-flaky-k8s-${process.pid}:latest`;

describe('canary releases on k3s', { skip: cluster.skip }, () => {
  const namespace = testNamespace('berth-cny');
  const app = uniqueName('k8cny');
  let caddy: Awaited<ReturnType<typeof startCaddy>>;
  let berth: BerthServer;
  let home: string;
  let traffic: CanaryTraffic;

  const berthCli = (...args: string[]) => runCliSync({ url: berth.url, token: berth.token, home }, args, { timeoutMs: 180_000 });
  const ok = (...args: string[]) => cliOutput(berthCli(...args), args);
  const releases = async () => berth.ok('GET', `/apps/${app}/releases`) as Promise<Array<{ version: number; status: string; current: boolean; failureReason: string | null; canary?: any }>>;
  const current = async () => `v${(await releases()).find((r) => r.current)!.version}`;
  const noCanaryLeft = () => eventually('no canary pod, Deployment or Service left', async () =>
    !(await leftovers(cluster.path!, namespace, app)).some((name) => name.includes('canary')), 60_000);

  before(async () => {
    [caddy] = await Promise.all([startCaddy(), buildImage(FLAKY_IMAGE, FLAKY_DOCKERFILE)]);
    berth = await startBerth(caddy, { BERTH_KUBECONFIG: cluster.path!, BERTH_K8S_NAMESPACE: namespace, BERTH_K8S_ROUTE: 'nodeport', BERTH_DEFAULT_SCHEDULER: 'docker' });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-canary-k8s-'));
    traffic = new CanaryTraffic(caddy.httpPort, `${app}.localhost`);
    await berth.ok('POST', '/apps', { name: app, scheduler: 'k3s' });
    await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  });

  after(async () => {
    traffic?.close();
    await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
    await berth?.kill('SIGTERM');
    await Promise.all([caddy?.stop(), removeImage(FLAKY_IMAGE)]);
    await deleteNamespace(cluster.path!, namespace);
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  test('a gray canary on k3s gets exactly the requests with its header; ps and releases show it; abort removes it', async () => {
    const stable = await current();
    const out = ok('deploy', app, '--image', TEST_IMAGE, '--canary-header', 'X-Canary=1');
    const canary = `v${/v(\d+) is a canary at 0 %/.exec(out)?.[1]}`;
    assert.match(ok('ps', app), new RegExp(`web\\.1.*${canary}`), 'ps lists the canary\'s pod as its release\'s');
    await eventually('the gray route in effect', async () => {
      traffic.fresh();
      return (await traffic.many(16, 4, { 'X-Canary': '1' })).every((a) => a.track === 'canary');
    }, 30_000);
    traffic.fresh();
    const [gray, plain, near] = await Promise.all([traffic.many(100, 4, { 'X-Canary': '1' }), traffic.many(100, 4), traffic.many(50, 4, { 'X-Canary': '10' })]);
    assert.equal(countOf(gray, canary), 100, 'every request with the header');
    assert.equal(countOf(plain, stable), 100, 'no other request');
    assert.equal(countOf(near, stable), 50, 'no request with a near miss');
    assert.ok(gray.every((a) => a.track === 'canary' && a.status === 200) && [...plain, ...near].every((a) => a.track === 'stable' && a.status === 200));
    assert.match(ok('releases', app), new RegExp(`${canary} +canary 0 % \\+ header X-Canary=1`));
    assert.match(ok('releases:abort', app), /Aborting the canary of .*\.\.\. done/);
    traffic.fresh();
    assert.equal(countOf(await traffic.many(40, 4, { 'X-Canary': '1' }), stable), 40, 'all traffic back on the stable release');
    await noCanaryLeft();
  });

  test('a k3s canary answering 500 to 20 % of requests is aborted by the analysis; stable requests never fail', async () => {
    const stable = await current();
    // Through the API (the CLI's deploy is the gray test's): a release failing from its first request needs no warm-up
    // before it is judged (a server without the setting ignores it).
    const { version } = await berth.ok('POST', `/apps/${app}/deploys`, { image: FLAKY_IMAGE, canary: { weight: 10, warmup: '1s' } }) as { version: number };
    assert.equal((await releases()).find((r) => r.version === version)?.status, 'canary');
    const aborted = async () => (await releases()).find((r) => r.version === version)?.status === 'aborted';
    traffic.fresh();
    const answers = await traffic.until(aborted, 90_000, 8);
    assert.ok(await aborted(), `aborted within 90 s (${answers.length} requests)`);
    const onStable = answers.filter((a) => a.track === 'stable');
    assert.ok(onStable.length > 500, `${onStable.length} stable requests`);
    assert.deepEqual(onStable.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.release}`), [], 'no stable request failed');
    assert.ok(answers.some((a) => a.track === 'canary' && a.status === 500), 'the canary did fail');
    const row = (await releases()).find((r) => r.version === version)!;
    assert.match(row.failureReason ?? '', /aborted by analysis: canary 5xx rate \d+\.\d % .* vs stable 0\.0 %/);
    assert.ok(row.canary.comparison.canary.requests >= 100);
    traffic.fresh();
    assert.equal(countOf(await traffic.many(100, 4), stable), 100, 'all traffic back');
    await noCanaryLeft();
  });
});
