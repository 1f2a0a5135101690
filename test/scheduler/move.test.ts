// apps:scheduler moves a running app between schedulers with no downtime: the current release starts on
// the new scheduler and takes the route once healthy, then the old one's instances drain and go. Driven through
// a real Berth server with both the Docker scheduler and the test cluster (../shared/k8s).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { CaddyAdminClient } from '../../src/router/caddy/admin-client.ts';
import { startCaddy, type TestCaddy } from '../support/caddy.ts';
import { startBerth, uniqueName, TEST_IMAGE, type BerthServer } from '../support/berth.ts';
import { underTraffic } from '../support/traffic.ts';
import { deleteNamespace, leftovers, testKubeconfig, testNamespace } from './k8s-cluster.ts';

const cluster = testKubeconfig();
const namespace = testNamespace('berth-move');
let caddy: TestCaddy;
let berth: BerthServer;
const app = uniqueName('move');
const containers = () => execFileSync('docker', ['ps', '-aq', '--filter', `label=berth.app=${app}`], { encoding: 'utf8' }).split('\n').filter(Boolean);

before(async () => {
  if (cluster.skip) return;
  caddy = await startCaddy();
  berth = await startBerth(caddy, { BERTH_KUBECONFIG: cluster.path!, BERTH_K8S_NAMESPACE: namespace, BERTH_DEFAULT_SCHEDULER: 'docker' });
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  if (cluster.path) await deleteNamespace(cluster.path, namespace);
});

const traffic = (during: () => Promise<void>) => underTraffic({ port: caddy.httpPort, host: `${app}.localhost` }, during);

test('docker → k3s → docker under traffic: no request fails; nothing left behind on the side it left', { skip: cluster.skip || false }, async () => {
  assert.equal((await berth.ok('GET', `/apps/${app}`)).scheduler, 'docker');
  assert.ok(containers().length > 0);

  const toCluster = await traffic(async () => {
    const moved = await berth.ok('PATCH', `/apps/${app}`, { scheduler: 'k3s' });
    assert.equal(moved.scheduler, 'k3s');
  });
  console.log(`move to k3s: ${toCluster.total} requests, ${toCluster.failures.length} failed`);
  // A move is the one change that rewrites the app's Caddy route (to the other scheduler's upstream). The route
  // to a NodePort opens a connection per request, so no request is pinned to a pod that goes away.
  assert.deepEqual(toCluster.failures, []);
  assert.ok(toCluster.total > 20, `enough traffic (${toCluster.total})`);
  assert.deepEqual(containers(), [], 'no container left on Docker');
  // Berth's machine is a node of the test cluster: the route goes to the app's pods by its DNS name.
  const route = await new CaddyAdminClient(caddy.adminUrl).get<{ handle: Array<{ dynamic_upstreams?: { name?: string } }> }>(`/id/berth-app-${app}`);
  assert.equal(route?.handle[0].dynamic_upstreams?.name, `${app}.k3s.berth.internal`);
  const pods = await berth.ok('GET', `/apps/${app}/ps`);
  assert.ok(pods.length === 1 && pods[0].release === 1, `runs v1 on the cluster: ${JSON.stringify(pods)}`);

  const back = await traffic(async () => {
    assert.equal((await berth.ok('PATCH', `/apps/${app}`, { scheduler: 'docker' })).scheduler, 'docker');
  });
  console.log(`move back to docker: ${back.total} requests, ${back.failures.length} failed`);
  assert.deepEqual(back.failures, []);
  assert.deepEqual((await leftovers(cluster.path!, namespace, app)).filter((o) => !o.startsWith('secret/')), [], 'nothing runs on the cluster');
  assert.equal(containers().length, 1);
});

test('moving to a scheduler this installation lacks, or to an unknown one, is refused and changes nothing', { skip: cluster.skip || false }, async () => {
  const unknown = await berth.api('PATCH', `/apps/${app}`, { scheduler: 'swarm' });
  assert.equal(unknown.status, 422);
  assert.equal(unknown.body.error, 'invalid_scheduler');
  assert.match(unknown.body.message, /docker, k3s/);
  const created = await berth.api('POST', '/apps', { name: uniqueName('nope'), scheduler: 'nomad' });
  assert.equal(created.status, 422);
  assert.equal((await berth.ok('GET', `/apps/${app}`)).scheduler, 'docker');
});
