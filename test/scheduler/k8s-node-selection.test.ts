// BERTH_K8S_NODE_SELECTOR and BERTH_K8S_TOLERATIONS (src/scheduler/kubernetes/node-selection.ts): what an operator
// may write, what is refused before it reaches a pod spec, and where the result lands (Deployments, canaries, Jobs,
// `berth run` pods); without the settings every pod template is exactly what it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canaryDeploymentFor, deploymentFor, jobFor, withSpecHash } from '../../src/scheduler/kubernetes/manifests.ts';
import { isLabelKey } from '../../installer/kubernetes-labels.ts';
import { nodeSelectionOf, parseNodeSelector, parseTolerations } from '../../src/scheduler/kubernetes/node-selection.ts';
import { runPodFor } from '../../src/scheduler/kubernetes/run-pod.ts';
import type { DeployRequest, OneOffRequest, ReleaseToRun } from '../../src/scheduler/types.ts';

const release: ReleaseToRun = { version: 3, imageId: 'sha256:abc', imageRef: null, config: {}, containerPort: 8080 };
const req: DeployRequest & { release: ReleaseToRun } = {
  app: 'shop', release, hostnames: ['shop.localhost'], health: { path: '/', timeoutSec: 20 },
  formation: [{ type: 'web', quantity: 3, memoryMB: null, cpus: null, command: null, generation: 0 }],
};
const IMAGE = '127.0.0.1:5000/shop:v3@sha256:def';
const base = { owner: 'inst1', drainSec: 1, stopTimeoutSec: 2 };
const selection = nodeSelectionOf({ BERTH_K8S_NODE_SELECTOR: 'pool=berth, topology.kubernetes.io/zone=eu-1a', BERTH_K8S_TOLERATIONS: 'dedicated=berth:NoSchedule,gpu:NoExecute' });

test('node selector: key=value pairs with Kubernetes label keys and values, empty values allowed', () => {
  assert.deepEqual(parseNodeSelector(undefined), {});
  assert.deepEqual(parseNodeSelector(' , '), {});
  assert.deepEqual(parseNodeSelector('pool=berth,example.com/tier=web,empty='), { pool: 'berth', 'example.com/tier': 'web', empty: '' });
  assert.ok(isLabelKey(`${'a'.repeat(63)}`) && !isLabelKey(`${'a'.repeat(64)}`));
  assert.ok(isLabelKey(`${'a.'.repeat(100)}b/x`) && !isLabelKey(`${'a'.repeat(254)}/x`), 'a prefix of at most 253 characters');
  for (const bad of ['pool', '=berth', 'pool=a b', 'pool=-x', 'pool=x-', `pool=${'v'.repeat(64)}`, 'Example.com/x=1', 'a/b/c=1', '/x=1', 'x/=1',
    'pool=a,pool=b', 'pool=a}', 'pool=$(id)', 'pool=a\nb', 'p\u00f6ol=x']) {
    assert.throws(() => parseNodeSelector(bad), /BERTH_K8S_NODE_SELECTOR/, bad);
  }
});

test('tolerations: key=value:Effect tolerates that taint, key:Effect any value; effects and keys checked, Berth\'s own lost-node keys refused', () => {
  assert.deepEqual(parseTolerations('dedicated=berth:NoSchedule, gpu:NoExecute ,spot=:PreferNoSchedule'), [
    { key: 'dedicated', operator: 'Equal', value: 'berth', effect: 'NoSchedule' },
    { key: 'gpu', operator: 'Exists', effect: 'NoExecute' },
    { key: 'spot', operator: 'Equal', value: '', effect: 'PreferNoSchedule' },
  ]);
  assert.deepEqual(parseTolerations('example.com/isolated=true:NoSchedule'), [{ key: 'example.com/isolated', operator: 'Equal', value: 'true', effect: 'NoSchedule' }]);
  for (const bad of ['dedicated=berth', 'dedicated=berth:', 'dedicated:NoSchedul', 'dedicated:noschedule', ':NoSchedule', '=x:NoSchedule', 'a b:NoSchedule',
    'x=a:b:NoSchedule', 'x=$(id):NoSchedule', 'a:NoSchedule,a:NoSchedule', `x=${'v'.repeat(64)}:NoSchedule`]) {
    assert.throws(() => parseTolerations(bad), /BERTH_K8S_TOLERATIONS/, bad);
  }
  // Berth tolerates a lost node for 20 s only; a setting tolerating it for ever would keep instances on a dead machine.
  assert.throws(() => parseTolerations('node.kubernetes.io/unreachable:NoExecute'), /Berth tolerates node\.kubernetes\.io\/unreachable itself/);
  assert.throws(() => parseTolerations('node.kubernetes.io/not-ready=x:NoExecute'), /itself/);
  assert.deepEqual(parseTolerations('a:NoSchedule,a:NoExecute').map((t) => t.effect), ['NoSchedule', 'NoExecute'], 'one key, two effects');
});

test('a selection lands on every pod an app runs: web and worker Deployments (beside the lost-node tolerations), the canary, Jobs, run pods', () => {
  const settings = { ...base, selection };
  const web = deploymentFor(req, req.formation[0], IMAGE, settings).spec!.template.spec!;
  assert.deepEqual(web.nodeSelector, { pool: 'berth', 'topology.kubernetes.io/zone': 'eu-1a' });
  assert.deepEqual(web.tolerations?.map((t) => `${t.key}:${t.effect}:${t.tolerationSeconds ?? '-'}`), [
    'node.kubernetes.io/not-ready:NoExecute:20', 'node.kubernetes.io/unreachable:NoExecute:20', 'dedicated:NoSchedule:-', 'gpu:NoExecute:-',
  ]);
  assert.ok(web.topologySpreadConstraints?.length, 'still spread');
  const worker = deploymentFor(req, { ...req.formation[0], type: 'worker' }, IMAGE, settings).spec!.template.spec!;
  assert.deepEqual([worker.nodeSelector, worker.tolerations?.length], [web.nodeSelector, 4]);
  const canary = canaryDeploymentFor({ ...req, canary: { release, routing: { version: 3, weight: 10 } } }, req.formation[0], IMAGE, settings).spec!.template.spec!;
  assert.deepEqual([canary.nodeSelector, canary.tolerations], [web.nodeSelector, web.tolerations]);
  const oneOff: OneOffRequest = { app: 'shop', release, command: ['true'], env: {}, timeoutSec: 60, memoryMB: null };
  const job = jobFor(oneOff, IMAGE, 'shop-run-x', 'inst1', selection).spec!.template.spec!;
  assert.deepEqual([job.nodeSelector, job.tolerations], [web.nodeSelector, selection.tolerations]);
  const run = runPodFor({ ...oneOff, tty: false, rows: 24, cols: 80 }, { index: 1, suffix: 'abc', owner: 'inst1', image: IMAGE, gated: true, selection }).spec!;
  assert.deepEqual([run.nodeSelector, run.tolerations], [web.nodeSelector, selection.tolerations]);
});

test('without the settings nothing changes: no nodeSelector, only Berth\'s own tolerations, the same spec hash as before', () => {
  const empty = nodeSelectionOf({});
  const plain = withSpecHash(deploymentFor(req, req.formation[0], IMAGE, base));
  const withEmpty = withSpecHash(deploymentFor(req, req.formation[0], IMAGE, { ...base, selection: empty }));
  assert.deepEqual(withEmpty, plain, 'an installation that sets nothing rolls no pod');
  assert.equal(plain.spec!.template.spec!.nodeSelector, undefined);
  const job = jobFor({ app: 'shop', release, command: ['true'], env: {}, timeoutSec: 60, memoryMB: null }, IMAGE, 'j', 'inst1', empty).spec!.template.spec!;
  assert.equal(job.nodeSelector, undefined);
  assert.equal(job.tolerations, undefined);
});
