// Hosts as Kubernetes nodes, against the real test cluster (../shared/k8s, one node, shared: its node is never
// cordoned here) in a namespace of its own: `berth hosts` lists the node with its readiness, capacity and Berth's
// pods, and a Node object no kubelet answers for (as lost as a machine that went away) as Unknown; that node fires a
// host_down alert, is tainted berth.lost with Berth's pod bound to it deleted by the node check, is drained (that pod,
// which no kubelet will confirm the end of, removed), undrained and removed; a web process of two pods gets a disruption budget and spreads by hostname.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startCaddy } from './support/caddy.ts';
import { runCli, cliOutput, type CliTarget } from './support/cli.ts';
import { startBerth, eventually, uniqueName, type BerthServer } from './support/berth.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook.ts';
import { clusterApi, deleteNamespace, testKubeconfig, testNamespace } from './scheduler/k8s-cluster.ts';
import { installationId } from '../src/server/bootstrap.ts';
import type { NodeList } from '../src/wire/hosts.ts';

const cluster = testKubeconfig();
const namespace = testNamespace('berth-hosts');
const app = uniqueName('nodes');
const ghost = `berth-ghost-${Math.random().toString(36).slice(2, 8)}`;
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let hook: WebhookReceiver;
let work: string;
let owner: string;

const api = () => clusterApi(cluster.path!);
const policy = () => { const c = new k8s.KubeConfig(); c.loadFromFile(cluster.path!); return c.makeApiClient(k8s.PolicyV1Api); };
const target = (): CliTarget => ({ url: berth.url, token: berth.token, home: work });
const cli = async (...args: string[]) => cliOutput(await runCli(target(), args), args);

before(async () => {
  if (cluster.skip) return;
  // A Node object no kubelet answers for: no lease, no status, no address (nothing to send traffic to).
  await api().core.createNode({ body: { metadata: { name: ghost, labels: { 'kubernetes.io/hostname': ghost } } } });
  caddy = await startCaddy();
  berth = await startBerth(caddy, {
    BERTH_KUBECONFIG: cluster.path!, BERTH_K8S_NAMESPACE: namespace, BERTH_DEFAULT_SCHEDULER: 'k3s', BERTH_WEBHOOK_ALLOW: '127.0.0.0/8', // the receiver is on loopback
  });
  owner = installationId(berth.dataDir);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-hosts-k8s-'));
  hook = await startWebhookReceiver();
  await berth.ok('POST', '/apps', { name: app, scheduler: 'k3s' });
  await berth.ok('POST', `/apps/${app}/alerts`, { rule: 'host_down', webhook: hook.url, format: 'slack' });
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 2 }] }); // stored: one rollout of two pods
  await berth.ok('POST', `/apps/${app}/deploys`, { image: 'berth-test/hello:latest' });
});

after(async () => {
  if (cluster.skip) return;
  await api().core.deleteNode({ name: ghost }).catch(() => {});
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  await hook?.close();
  await deleteNamespace(cluster.path!, namespace);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('berth hosts lists the cluster\'s nodes: the real one Ready with capacity and Berth\'s pods, the lost one Unknown; host_down fires for it', { skip: cluster.skip, timeout: 60_000 }, async () => {
  const { nodes } = await berth.ok('GET', '/hosts/nodes') as NodeList;
  const real = nodes.find((n) => n.name !== ghost && n.berthPods > 0);
  assert.ok(real, `a node runs the app's pods: ${JSON.stringify(nodes.map((n) => [n.name, n.berthPods]))}`);
  assert.equal(real.readiness, 'Ready');
  assert.equal(real.schedulable, true);
  assert.equal(real.berthPods, 2, 'web=2, both on the one real node (ScheduleAnyway)');
  assert.ok(real.cpu.allocatable! > 0 && real.memoryMB.allocatable! > 0, 'allocatable CPU and memory');
  assert.ok(real.memoryMB.requested >= 0 && real.pods >= 2);
  const lost = nodes.find((n) => n.name === ghost)!;
  assert.equal(lost.readiness, 'Unknown');
  assert.equal(lost.role, 'agent');
  assert.equal(lost.berthPods, 0);
  assert.equal(lost.host, null, 'not joined by hosts:add');
  const listing = await cli('hosts');
  assert.match(listing, new RegExp(`${ghost}\\s+agent\\s+Unknown`));
  assert.match(listing, new RegExp(`${real.name}\\s+\\S+\\s+Ready`));
  assert.match(listing, /Hosts:[\s\S]*local/);
  const notice = await eventually('the host_down alert', async () => hook.bodies.find((n) => n.includes(ghost)), 30_000);
  assert.match(JSON.parse(notice).text, new RegExp(`FIRING: \`host_down\` \\(host\\(s\\) down: [^)]*${ghost}`));
  // The web process of two pods: one may be evicted at a time, and its pods spread by hostname.
  const web = await api().core.listNamespacedPod({ namespace, labelSelector: `berth.app=${app},berth.process=web` });
  assert.equal(web.items.length, 2);
  assert.equal(web.items[0].spec?.topologySpreadConstraints?.[0]?.topologyKey, 'kubernetes.io/hostname');
  const budget = await policy().readNamespacedPodDisruptionBudget({ name: `${app}-web`, namespace });
  assert.equal(budget.spec?.maxUnavailable, 1);
  assert.equal(budget.status?.expectedPods, 2);
});

test('a lost node is tainted berth.lost and Berth\'s pod there deleted at once; hosts:drain cordons it and removes the pod no kubelet confirms; undrain; remove deletes the Node', { skip: cluster.skip, timeout: 60_000 }, async () => {
  await eventually('the lost node tainted berth.lost', async () =>
    (await api().core.readNode({ name: ghost })).spec?.taints?.some((t) => t.key === 'berth.lost' && t.effect === 'NoSchedule'), 20_000);
  // A pod of the app's, bound to the lost node (of a process type no Deployment owns, so none adopts it).
  const labels = { 'berth.owner': owner, 'berth.app': app, 'berth.process': 'stray', 'berth.managed': '1' };
  await api().core.createNamespacedPod({ namespace, body: {
    metadata: { name: `${app}-stray`, labels },
    spec: { nodeName: ghost, containers: [{ name: 'app', image: 'berth-test/hello:latest' }] },
  } });
  // The next node check deletes it (its Deployment, had it one, would start a replacement on a node that answers);
  // with no kubelet to confirm, it stays Terminating.
  await eventually('the stray pod deleted by the node check', async () =>
    Boolean((await api().core.readNamespacedPod({ name: `${app}-stray`, namespace })).metadata?.deletionTimestamp), 20_000);
  const drained = await berth.ok('POST', `/hosts/${ghost}/drain`);
  assert.equal(drained.done, true, drained.log.join('\n'));
  assert.equal(drained.moved, 0, 'nothing left to evict');
  assert.ok(drained.log.some((l: string) => l.includes('1 left behind by the lost node')), drained.log.join('\n'));
  assert.equal((await api().core.readNode({ name: ghost })).spec?.unschedulable, true, 'cordoned');
  assert.equal(await api().core.readNamespacedPod({ name: `${app}-stray`, namespace }).then(() => 'there', () => 'gone'), 'gone');
  assert.match(await cli('hosts'), new RegExp(`${ghost}\\s+agent\\s+Unknown[^\\n]*, cordoned`));
  await cli('hosts:undrain', ghost);
  assert.ok(!(await api().core.readNode({ name: ghost })).spec?.unschedulable, 'uncordoned');
  const removed = await berth.ok('DELETE', `/hosts/${ghost}`);
  assert.equal(removed.deleted, ghost);
  assert.equal(await api().core.readNode({ name: ghost }).then(() => 'there', () => 'gone'), 'gone');
  const unknown = await berth.api('POST', '/hosts/no-such-node/drain');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error, 'host_not_found');
  // The app's own pods were never touched.
  assert.equal((await api().core.listNamespacedPod({ namespace, labelSelector: `berth.app=${app},berth.process=web` })).items.length, 2);
});
