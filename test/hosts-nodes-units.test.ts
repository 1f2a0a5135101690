// The pure parts of hosts as Kubernetes nodes (src/hosts/nodes): how a Node reads in `berth hosts`, when a node is
// lost, what a drain evicts and in which order, when it is over; and that a lost node's pods leave the app DNS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import { nodeView, quantity, readinessOf } from '../src/hosts/nodes/node-view.ts';
import { describeDrain, drainStatus, evictionPlan } from '../src/hosts/nodes/drain-plan.ts';
import { lostChanges } from '../src/hosts/nodes/node-monitor.ts';
import { LOST_TAINT, fencePlan, hasLostTaint, taintsWith } from '../src/hosts/nodes/lost-plan.ts';
import { readyAddresses } from '../src/scheduler/kubernetes/pod-addresses.ts';
import { nodeRow } from '../src/cli/commands/hosts.ts';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000);

function node(name: string, ready: 'True' | 'False' | 'Unknown' | null, extra: { labels?: Record<string, string>; unschedulable?: boolean } = {}): V1Node {
  return {
    metadata: { name, labels: extra.labels ?? {}, creationTimestamp: ago(3600) },
    spec: { unschedulable: extra.unschedulable },
    status: {
      conditions: ready ? [{ type: 'Ready', status: ready, lastTransitionTime: ago(120), reason: ready === 'False' ? 'KubeletNotReady' : 'KubeletReady', message: ready === 'False' ? 'container runtime is down' : '' }] : [],
      allocatable: { cpu: '1900m', memory: '8047508Ki', pods: '110' },
      addresses: [{ type: 'InternalIP', address: '127.0.0.2' }, { type: 'Hostname', address: name }],
      nodeInfo: { kubeletVersion: 'v1.24.17' } as never,
    },
  };
}
const lease = (name: string, renewedSecondsAgo: number): V1Lease => ({ metadata: { name }, spec: { renewTime: ago(renewedSecondsAgo) } });

function pod(name: string, labels: Record<string, string>, opts: { node?: string; cpu?: string; memory?: string; phase?: string; terminating?: boolean; unschedulable?: boolean } = {}): V1Pod {
  return {
    metadata: { name, namespace: 'berth-x', labels, ...(opts.terminating ? { deletionTimestamp: ago(1) } : {}) },
    spec: { nodeName: opts.node, containers: [{ name: 'app', resources: { requests: { ...(opts.cpu ? { cpu: opts.cpu } : {}), ...(opts.memory ? { memory: opts.memory } : {}) } } }] },
    status: { phase: opts.phase ?? (opts.unschedulable ? 'Pending' : 'Running'), conditions: opts.unschedulable ? [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] : [] },
  };
}
const app = (a: string, process: string) => ({ 'berth.owner': 'inst1', 'berth.app': a, 'berth.process': process, 'berth.managed': '1' });

test('quantities: cores from millicores, bytes from binary and decimal suffixes; nonsense is null', () => {
  assert.equal(quantity('250m'), 0.25);
  assert.equal(quantity('2'), 2);
  assert.equal(quantity('512Mi'), 512 * 2 ** 20);
  assert.equal(quantity('1G'), 1e9);
  assert.equal(quantity('8047508Ki'), 8047508 * 1024);
  assert.equal(quantity('12 parsecs'), null);
  assert.equal(quantity(undefined), null);
});

test('readiness: the Ready condition and since when; a kubelet that stopped renewing its lease is Unknown from the last renewal', () => {
  assert.deepEqual(readinessOf(node('a', 'True'), lease('a', 5), NOW), { readiness: 'Ready', since: ago(120).toISOString(), reason: null });
  const stale = readinessOf(node('a', 'True'), lease('a', 25), NOW);
  assert.equal(stale.readiness, 'Unknown');
  assert.equal(stale.since, ago(25).toISOString());
  assert.match(stale.reason!, /not renewed its lease for 25 s/);
  assert.deepEqual(readinessOf(node('a', 'False'), null, NOW), { readiness: 'NotReady', since: ago(120).toISOString(), reason: 'container runtime is down' });
  const never = readinessOf(node('ghost', null), null, NOW);
  assert.equal(never.readiness, 'Unknown', 'a Node no kubelet ever reported for');
  assert.equal(never.since, ago(3600).toISOString());
  assert.match(never.reason!, /no kubelet/);
});

test('a node as berth hosts shows it: role, cordon, capacity, what its live pods request, this installation\'s pods, the host record', () => {
  const pods = [
    pod('shop-web-1', app('shop', 'web'), { node: 'n1', cpu: '500m', memory: '256Mi' }),
    pod('other', { 'berth.owner': 'someone-else' }, { node: 'n1', cpu: '100m', memory: '64Mi' }),
    pod('done', app('shop', 'run'), { node: 'n1', cpu: '1', memory: '1Gi', phase: 'Succeeded' }),
  ];
  const host = { name: 'box1', address: '127.0.0.2', role: 'k3s-agent' };
  const view = nodeView({ node: node('n1', 'True', { labels: { 'node-role.kubernetes.io/control-plane': '' }, unschedulable: true }), lease: lease('n1', 2), pods, owner: 'inst1', host, now: NOW });
  assert.equal(view.role, 'control-plane');
  assert.equal(view.readiness, 'Ready');
  assert.equal(view.schedulable, false);
  assert.equal(view.address, '127.0.0.2');
  assert.equal(view.kubeletVersion, 'v1.24.17');
  assert.deepEqual(view.cpu, { allocatable: 1.9, requested: 0.6 }, 'the finished pod requests nothing');
  assert.deepEqual(view.memoryMB, { allocatable: 7858, requested: 320 });
  assert.equal(view.pods, 2);
  assert.equal(view.berthPods, 1);
  assert.deepEqual(view.host, host);
  assert.equal(nodeView({ node: node('n2', 'True'), lease: null, pods: [], owner: 'inst1', host: null, now: NOW }).role, 'agent');
});

test('drain plan: web pods first, one per app in turn, then other types; add-ons and one-offs stay; other installations untouched', () => {
  const pods = [
    pod('a-web-2', app('a', 'web')), pod('a-web-1', app('a', 'web')), pod('b-web-1', app('b', 'web')),
    pod('a-worker-1', app('a', 'worker')),
    pod('gone', app('a', 'web'), { terminating: true }),
    pod('a-run-x', { 'berth.owner': 'inst1', 'berth.app': 'a', 'berth.oneoff': '1' }),
    pod('pg', { 'berth.owner': 'inst1', 'berth.addon': 'pg' }),
    pod('theirs', { ...app('a', 'web'), 'berth.owner': 'inst2' }),
  ];
  const plan = evictionPlan(pods, 'inst1');
  assert.deepEqual(plan.evict.map((p) => p.name), ['a-web-1', 'b-web-1', 'a-web-2', 'a-worker-1']);
  assert.deepEqual(plan.evict[0], { name: 'a-web-1', namespace: 'berth-x', app: 'a', process: 'web' });
  assert.deepEqual(plan.left.map((l) => l.name).sort(), ['a-run-x', 'pg']);
  assert.match(plan.left.find((l) => l.name === 'pg')!.reason, /add-on/);
});

test('drain status: over only when nothing is left on the node and every Deployment is ready elsewhere; names what cannot be placed', () => {
  const deployment = (name: string, replicas: number, ready: number): V1Deployment => ({ metadata: { name }, spec: { replicas, selector: {}, template: {} }, status: { readyReplicas: ready } });
  const moving = drainStatus('n1', [
    pod('a-web-1', app('a', 'web'), { node: 'n1', terminating: true }),
    pod('a-web-3', app('a', 'web'), { unschedulable: true }),
    pod('a-web-2', app('a', 'web'), { node: 'n2' }),
  ], [deployment('a-web', 2, 1)], false);
  assert.equal(moving.done, false);
  assert.deepEqual(moving.onNode, ['a-web-1']);
  assert.deepEqual(moving.notReady, ['a-web']);
  assert.deepEqual(moving.unplaced, ['a-web-3']);
  assert.deepEqual(moving.forceDelete, []);
  assert.match(describeDrain(moving), /1 still on the node \(a-web-1\); waiting for a-web to be ready elsewhere; no node can take a-web-3/);
  const lost = drainStatus('n1', [pod('a-web-1', app('a', 'web'), { node: 'n1', terminating: true }), pod('a-web-2', app('a', 'web'), { node: 'n2' })], [deployment('a-web', 1, 1)], true);
  assert.deepEqual(lost.forceDelete, ['a-web-1'], 'a lost node never confirms the end of an evicted pod');
  assert.equal(lost.done, false);
  const done = drainStatus('n1', [pod('a-web-2', app('a', 'web'), { node: 'n2' }), pod('x', app('a', 'run'), { node: 'n1', phase: 'Failed' })], [deployment('a-web', 2, 2)], false);
  assert.equal(done.done, true);
  assert.equal(describeDrain(done), 'every instance runs elsewhere and is ready');
});

test('node monitor: a node reported once when lost and once when back; pods of lost nodes leave the app DNS', () => {
  const first = lostChanges(new Set(), ['ghost']);
  assert.deepEqual(first, { down: ['ghost'], up: [] });
  assert.deepEqual(lostChanges(new Set(['ghost']), ['ghost']), { down: [], up: [] });
  assert.deepEqual(lostChanges(new Set(['ghost']), ['n2']), { down: ['n2'], up: ['ghost'] });
  const endpoints = { subsets: [{ addresses: [{ ip: '10.250.0.3', nodeName: 'n1' }, { ip: '10.250.0.9', nodeName: 'n2' }, { ip: '10.250.0.5' }] }] };
  assert.deepEqual(readyAddresses(endpoints, new Set(['n2'])), ['10.250.0.3', '10.250.0.5']);
  assert.deepEqual(readyAddresses(endpoints), ['10.250.0.3', '10.250.0.5', '10.250.0.9']);
  const onlyLost = { subsets: [{ addresses: [{ ip: '10.250.0.9', nodeName: 'n2' }] }] };
  assert.deepEqual(readyAddresses(onlyLost, new Set(['n2'])), ['10.250.0.9'], 'never emptied by a node judged lost: it may be wrong');
});

test('lost nodes: tainted berth.lost and their app pods replaced while another node answers; the taint goes when the node is back', () => {
  const tainted = (n: V1Node, taints: { key: string; value?: string; effect: string }[]) => ({ ...n, spec: { ...n.spec, taints } });
  const isolated = { key: 'example.com/isolated', value: 'true', effect: 'NoSchedule' };
  const nodes = [node('n1', 'True'), tainted(node('n2', 'Unknown'), [isolated]), tainted(node('n3', 'True'), [isolated, { ...LOST_TAINT }])];
  assert.deepEqual(fencePlan(nodes, new Set(['n2'])), { fence: ['n2'], release: ['n3'], replace: ['n2'] });
  // Already tainted: its pods are still looked at (one may have been bound to it just before), the taint not added twice.
  const fenced = [nodes[0], tainted(nodes[1], taintsWith(nodes[1], true)), nodes[2]];
  assert.deepEqual(fencePlan(fenced, new Set(['n2', 'n3'])), { fence: [], release: [], replace: ['n2', 'n3'] });
  // No node answers (the one-node cluster's own node late on its lease): nowhere to move to, nothing is touched.
  assert.deepEqual(fencePlan(nodes, new Set(['n1', 'n2', 'n3'])), { fence: [], release: [], replace: [] });
  assert.deepEqual(fencePlan([], new Set(['gone'])), { fence: [], release: [], replace: [] }, 'a lost name without a Node: nothing');
  // Only Berth's taint is added or removed; the operator's stay as they are.
  assert.deepEqual(taintsWith(nodes[1], true), [isolated, { key: 'berth.lost', value: 'true', effect: 'NoSchedule' }]);
  assert.deepEqual(taintsWith(nodes[2], false), [isolated]);
  assert.deepEqual(taintsWith(node('n4', 'True'), false), []);
  assert.equal(hasLostTaint(tainted(node('n5', 'True'), [{ key: 'berth.lost', effect: 'NoExecute' }])), false, 'another effect is not Berth\'s');
});

test('berth hosts: a node row says readiness and for how long, cordon, requested/allocatable, all pods and Berth\'s, the host record', () => {
  const view = nodeView({ node: node('n1', 'False', { unschedulable: true }), lease: null, pods: [pod('a', app('a', 'web'), { node: 'n1', cpu: '250m', memory: '128Mi' })], owner: 'inst1', host: { name: 'box1', address: '127.0.0.2', role: 'k3s-agent' }, now: NOW });
  assert.deepEqual(nodeRow(view, NOW), ['n1', 'agent', 'NotReady 2m, cordoned', '127.0.0.2', '0.25/1.9', '128M/7858M', '1 (1)', 'box1 (k3s-agent)']);
  const bare = { ...view, readiness: 'Ready' as const, readinessSince: null, schedulable: true, address: null, host: null, cpu: { allocatable: null, requested: 0 } };
  assert.deepEqual(nodeRow(bare, NOW).slice(2, 5), ['Ready', '-', '0/?']);
});
