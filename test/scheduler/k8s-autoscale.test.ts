// Autoscaling on the Kubernetes (k3s) scheduler: the same controller scales the Deployment's replicas. Load
// through Caddy above the --rps target (autocannon, bounded, loopback) takes web from 1 to 2 ready pods with
// no failed request; once it stops, web comes back to 1 (5 s cooldown).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startCaddy } from '../support/caddy.ts';
import { startBerth, eventually, uniqueName, TEST_IMAGE, type BerthServer } from '../support/berth.ts';
import { startLoad } from '../support/load.ts';
import { clusterApi, deleteNamespace, testKubeconfig, testNamespace } from './k8s-cluster.ts';

const cluster = testKubeconfig();

describe('autoscaling on k3s', { skip: cluster.skip }, () => {
  const namespace = testNamespace('berth-as');
  const app = uniqueName('k8scale');
  let caddy: Awaited<ReturnType<typeof startCaddy>>;
  let berth: BerthServer;

  const replicas = async () => (await clusterApi(cluster.path!).apps.readNamespacedDeployment({ namespace, name: `${app}-web` })).spec?.replicas;
  const readyWeb = async () => (await berth.ok('GET', `/apps/${app}/ps`)).filter((i: { type: string; state: string }) => i.type === 'web' && i.state === 'running').length;

  before(async () => {
    caddy = await startCaddy();
    berth = await startBerth(caddy, { BERTH_KUBECONFIG: cluster.path!, BERTH_K8S_NAMESPACE: namespace, BERTH_DEFAULT_SCHEDULER: 'docker' });
    await berth.ok('POST', '/apps', { name: app, scheduler: 'k3s' });
    await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  });

  after(async () => {
    await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
    await berth?.kill('SIGTERM');
    await caddy?.stop();
    await deleteNamespace(cluster.path!, namespace);
  });

  test('load above the rps target scales the Deployment 1 → 2 with no failed request, and back to 1 after', async () => {
    await berth.ok('PUT', `/apps/${app}/autoscale/web`, { min: 1, max: 2, rps: 20, cooldown: '5s' });
    assert.equal(await replicas(), 1);
    const load = startLoad({ port: caddy.httpPort, host: `${app}.localhost`, rate: 100, maxSec: 120 });
    let scaledAfterMs = 0;
    try {
      await eventually('2 ready web pods', async () => (await readyWeb()) === 2, 90_000);
      scaledAfterMs = Date.now() - load.startedAt;
    } finally {
      const report = await load.stop();
      console.log(`k3s scale-up: 1 → 2 ready ${scaledAfterMs} ms after the load started; ${report.requests} requests`);
      assert.ok(report.requests > 300, `the load ran (${report.requests} requests)`);
      assert.deepEqual({ non2xx: report.non2xx, errors: report.errors, timeouts: report.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 });
    }
    assert.equal(await replicas(), 2, "the Deployment's replicas");
    await eventually('the Deployment back at 1 replica', async () => (await replicas()) === 1, 90_000);
    // The decision is recorded once the scale returns (the removed pod has drained). Only the changes count here:
    // a tick while the load still ran at 2 pods may also have recorded "held at 2" (the rps asks for more than max).
    const changes = async () => (await berth.ok('GET', `/apps/${app}/autoscale`)).decisions
      .map((d: { detail: string }) => d.detail.split(':')[0]).filter((d: string) => d.includes('→')).reverse();
    await eventually('the scale-down recorded', async () => (await changes()).length === 2, 30_000);
    assert.deepEqual(await changes(), ['web 1 → 2', 'web 2 → 1']);
  });
});
