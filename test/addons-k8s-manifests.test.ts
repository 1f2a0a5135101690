// Add-ons on the Kubernetes scheduler, the pure parts: what is asked of the cluster (a StatefulSet of one on a
// local volume pinned to one node, its Service, Secret and NetworkPolicy), how its state reads, which nodes count
// as lost for the alert, the framing of a streamed exec's stdin, and which runtime holds an add-on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import {
  addonObjectName, addonPodName, addonServiceFor, addonVolumeName, admittedApps, credentialsSecretFor, dataRemovalPodFor, lostNodes,
  networkPolicyFor, persistentVolumeClaimFor, persistentVolumeFor, pickNode, serviceStatusOf, statefulSetFor, type AddonPlacement,
} from '../src/addons/kubernetes/manifests.ts';
import { execCommand, exitCodeOf, stdinFrame } from '../src/addons/kubernetes/exec.ts';
import { lostNodeName, nodeAlertChanges } from '../src/addons/kubernetes/node-watch.ts';
import { checkSameScheduler, runtimeFor } from '../src/addons/runtimes.ts';
import type { ServiceRuntime, ServiceSpec } from '../src/addons/service-runtime.ts';
import { selectorOf } from '../src/scheduler/kubernetes/manifests.ts';

const spec: ServiceSpec = { name: 'shop-db', kind: 'postgres', app: 'shop', image: 'berth/postgres:15', env: { POSTGRES_PASSWORD: 'secret', POSTGRES_USER: 'berth', POSTGRES_DB: 'shop_db' }, memoryMB: 512 };
const placement: AddonPlacement = { owner: 'inst1', node: { name: 'node-a', hostname: 'node-a.example' }, dataDir: '/var/lib/berth-addons/inst1/shop-db' };
const IMAGE = '127.0.0.1:5000/berth/postgres:15@sha256:abc';
const node = (name: string, ready: 'True' | 'False' | 'Unknown', extra: Partial<V1Node['spec']> = {}): V1Node => ({
  metadata: { name, labels: { 'kubernetes.io/hostname': `${name}.example` } }, spec: extra, status: { conditions: [{ type: 'Ready', status: ready }] },
});

test('names: one per add-on for its namespaced objects; the volume (cluster-wide) carries the installation', () => {
  assert.equal(addonObjectName('shop-db'), 'addon-shop-db');
  assert.equal(addonPodName('shop-db'), 'addon-shop-db-0');
  assert.equal(addonVolumeName('inst1', 'shop-db'), 'berth-inst1-addon-shop-db');
});

test('StatefulSet of one: its image pinned, credentials from the Secret, readiness = the image health check, limits, no root, on the claim', () => {
  const s = statefulSetFor(spec, placement, IMAGE, 5432);
  assert.equal(s.spec?.replicas, 1);
  assert.equal(s.metadata?.annotations?.['berth.addon-node'], 'node-a');
  const labels = { ...s.metadata?.labels, ...s.spec?.template.metadata?.labels };
  assert.equal(labels['berth.addon'], 'shop-db');
  assert.equal(labels['berth.app'], undefined, 'never an app\'s label: the scheduler\'s selectors never match it');
  assert.equal(labels['berth.managed'], undefined, 'never an instance');
  const pod = s.spec!.template.spec!;
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.enableServiceLinks, false);
  const [c] = pod.containers;
  assert.equal(c.image, IMAGE);
  assert.deepEqual(c.envFrom, [{ secretRef: { name: 'addon-shop-db' } }]);
  assert.equal(c.env, undefined, 'no credential in the pod spec');
  assert.deepEqual(c.readinessProbe?.exec?.command, ['/usr/local/bin/berth-ready']);
  assert.deepEqual(c.resources?.limits, { memory: '512Mi', cpu: '1' });
  assert.equal(c.resources?.requests?.memory, '512Mi');
  assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  assert.deepEqual(c.volumeMounts, [{ name: 'data', mountPath: '/data' }]);
  assert.deepEqual(pod.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'addon-shop-db' } }]);
  const [init] = pod.initContainers!;
  assert.deepEqual(init.securityContext?.capabilities, { drop: ['ALL'], add: ['CHOWN'] }, 'the init container may only chown');
  assert.match(init.command!.join(' '), /chown .*\/mnt\/data/);
});

test('local volume: a hostPath only its node may mount, kept on delete, bound in advance to the add-on\'s claim only', () => {
  const pv = persistentVolumeFor(spec, placement, 'berth-inst1');
  assert.equal(pv.metadata?.name, 'berth-inst1-addon-shop-db');
  assert.deepEqual(pv.spec?.hostPath, { path: '/var/lib/berth-addons/inst1/shop-db', type: 'DirectoryOrCreate' });
  assert.deepEqual(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms, [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a.example'] }] }]);
  assert.equal(pv.spec?.persistentVolumeReclaimPolicy, 'Retain');
  assert.deepEqual(pv.spec?.claimRef, { namespace: 'berth-inst1', name: 'addon-shop-db' });
  const pvc = persistentVolumeClaimFor(spec, placement);
  assert.equal(pvc.spec?.volumeName, pv.metadata?.name);
  assert.equal(pvc.spec?.storageClassName, pv.spec?.storageClassName);
});

test('Secret holds the credentials; the Service is a ClusterIP on the kind\'s port, selecting the add-on\'s pod only', () => {
  assert.deepEqual(credentialsSecretFor(spec, 'inst1').stringData, spec.env);
  const svc = addonServiceFor(spec, 'inst1', 5432);
  assert.equal(svc.spec?.type, 'ClusterIP');
  assert.deepEqual(svc.spec?.selector, { 'berth.owner': 'inst1', 'berth.addon': 'shop-db' });
  assert.deepEqual(svc.spec?.ports?.map((p) => [p.port, p.targetPort]), [[5432, 5432]]);
});

test('NetworkPolicy: ingress from the attached apps\' pods on the service port only; none attached: nothing gets in', () => {
  const policy = networkPolicyFor(spec, 'inst1', 5432, ['shop', 'blog', 'shop']);
  assert.deepEqual(policy.spec?.podSelector, { matchLabels: { 'berth.owner': 'inst1', 'berth.addon': 'shop-db' } });
  assert.deepEqual(policy.spec?.policyTypes, ['Ingress']);
  assert.deepEqual(policy.spec?.ingress, [{
    _from: [{ podSelector: { matchLabels: { 'berth.owner': 'inst1' }, matchExpressions: [{ key: 'berth.app', operator: 'In', values: ['blog', 'shop'] }] } }],
    ports: [{ protocol: 'TCP', port: 5432 }],
  }]);
  assert.deepEqual(admittedApps(policy), ['blog', 'shop']);
  const closed = networkPolicyFor(spec, 'inst1', 5432, []);
  assert.deepEqual(closed.spec?.ingress, []);
  assert.deepEqual(admittedApps(closed), []);
});

test('the data removal runs on the data\'s node, deletes that add-on\'s directory only, without a shell', () => {
  const pod = dataRemovalPodFor('shop-db', { ...placement, ownerDir: '/var/lib/berth-addons/inst1' }, IMAGE);
  assert.equal(pod.spec?.nodeName, 'node-a');
  assert.deepEqual(pod.spec?.containers[0].command, ['rm', '-rf', '--one-file-system', '/addons/shop-db']);
  assert.deepEqual(pod.spec?.volumes?.[0].hostPath, { path: '/var/lib/berth-addons/inst1', type: 'DirectoryOrCreate' });
  assert.equal(pod.spec?.restartPolicy, 'Never');
});

test('pickNode: the first Ready node that takes pods, or the configured one; none: null', () => {
  assert.deepEqual(pickNode([node('b', 'True'), node('a', 'False'), node('c', 'True', { unschedulable: true })]), { name: 'b', hostname: 'b.example' });
  assert.deepEqual(pickNode([node('b', 'True'), node('a', 'True')], 'a'), { name: 'a', hostname: 'a.example' });
  assert.equal(pickNode([node('a', 'True')], 'zz'), null);
  assert.equal(pickNode([node('a', 'Unknown')]), null);
});

test('status: missing, down when the data\'s node is lost (never moved), starting, up, unhealthy, stopped', () => {
  const sts: V1StatefulSet = { metadata: { name: 'addon-shop-db' } };
  const ready: V1Pod = { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } };
  const crashing: V1Pod = { status: { phase: 'Running', containerStatuses: [{ name: 'app', image: IMAGE, imageID: '', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } };
  assert.equal(serviceStatusOf(null, null, null), 'missing');
  assert.equal(serviceStatusOf(sts, ready, null), 'down', 'its node is gone');
  assert.equal(serviceStatusOf(sts, ready, node('a', 'Unknown')), 'down', 'its node stopped reporting');
  assert.equal(serviceStatusOf(sts, null, node('a', 'True')), 'starting');
  assert.equal(serviceStatusOf(sts, ready, node('a', 'True')), 'up');
  assert.equal(serviceStatusOf(sts, crashing, node('a', 'True')), 'unhealthy');
  assert.equal(serviceStatusOf(sts, { status: { phase: 'Failed' } }, node('a', 'True')), 'stopped');
});

test('lost nodes: the add-ons of each node gone or not Ready; the alert reports each once, and up again when back', () => {
  const placements = new Map([['db-b', 'n1'], ['db-a', 'n1'], ['db-c', 'n2'], ['db-d', 'n3']]);
  const lost = lostNodes(placements, [node('n2', 'True'), node('n3', 'Unknown')]);
  assert.deepEqual([...lost], [['n1', ['db-a', 'db-b']], ['n3', ['db-d']]]);
  const first = nodeAlertChanges(new Set(), lost);
  assert.deepEqual(first, { down: [lostNodeName('n1', ['db-a', 'db-b']), 'k3s node n3 (add-ons: db-d)'], up: [] });
  assert.deepEqual(nodeAlertChanges(new Set(first.down), lost), { down: [], up: [] }, 'still lost: nothing new');
  assert.deepEqual(nodeAlertChanges(new Set(first.down), new Map([['n3', ['db-d']]])), { down: [], up: [lostNodeName('n1', ['db-a', 'db-b'])] });
});

test('exec: stdin framed (length line, bytes; 0 ends it) and unframed in the pod; no stdin: closed at once; exit codes from the status', () => {
  assert.deepEqual([...stdinFrame(Buffer.from('hello'))], [0, ...Buffer.from('5\nhello')]);
  const framed = execCommand({ command: ['pg_restore', '-d', 'x'], env: { PGPASSWORD: 'p w' } }, true);
  assert.deepEqual(framed.slice(0, 4), ['env', 'PGPASSWORD=p w', '/bin/sh', '-c']);
  assert.match(framed[4], /read -r n .*head -c "\$n".*\| "\$@"/);
  assert.deepEqual(framed.slice(5), ['berth-exec', 'pg_restore', '-d', 'x']);
  assert.equal(execCommand({ command: ['true'] }, false)[3], '"$@" </dev/null');
  assert.equal(exitCodeOf({ status: 'Success' }), 0);
  assert.equal(exitCodeOf({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } }), 3);
  assert.equal(exitCodeOf({ status: 'Failure', message: 'container not found' }), -1);
  assert.equal(exitCodeOf(null), -1);
});

test('runtimes: each scheduler\'s own; an app on another scheduler than the add-on is refused with a 422 that says why', () => {
  const docker = {} as ServiceRuntime;
  assert.equal(runtimeFor({ docker }, 'docker'), docker);
  assert.throws(() => runtimeFor({ docker }, 'k3s'), (err: { status: number; message: string }) => err.status === 422 && /k3s scheduler are not set up/.test(err.message));
  checkSameScheduler({ name: 'db', scheduler: 'k3s' }, { name: 'shop', scheduler: 'k3s' });
  assert.throws(() => checkSameScheduler({ name: 'db', scheduler: 'docker' }, { name: 'shop', scheduler: 'k3s' }),
    (err: { status: number; message: string }) => err.status === 422 && /db runs on the docker scheduler and shop on k3s/.test(err.message));
});

test('the scheduler\'s app selector never matches an add-on\'s objects', () => {
  const labels = statefulSetFor(spec, placement, IMAGE, 5432).metadata!.labels!;
  const appSelector = selectorOf('inst1', 'shop').split(',').map((kv) => kv.split('='));
  assert.ok(!appSelector.every(([k, v]) => labels[k] === v));
});
