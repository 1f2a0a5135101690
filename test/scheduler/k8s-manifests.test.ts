// The Kubernetes scheduler's pure parts, without a cluster: what it asks for (manifests.ts), how it judges a
// rollout (rollout.ts), how pods read as instances (instances.ts) and log lines (log-lines.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { configSecretFor, deploymentFor, deploymentName, jobFor, resourcesOf, serviceFor, selectorOf, staleConfigKeys } from '../../src/scheduler/kubernetes/manifests.ts';
import { disruptionBudgetFor, wantsDisruptionBudget } from '../../src/scheduler/kubernetes/manifests.ts';
import { canaryConflict, canaryDeploymentFor, canaryName, canaryServiceFor, sameSpec, withSpecHash } from '../../src/scheduler/kubernetes/manifests.ts';
import { newPodAddress } from '../../src/scheduler/kubernetes/admission.ts';
import { rolloutVerdict, newestTemplateHash } from '../../src/scheduler/kubernetes/rollout.ts';
import { instancesFromPods, memoryMB, cpus } from '../../src/scheduler/kubernetes/instances.ts';
import { TextLogDecoder } from '../../src/scheduler/kubernetes/log-lines.ts';
import { changesOf } from '../../src/scheduler/kubernetes/events.ts';
import { podsKey, readyAddresses, readyPodAddresses, routeMode, withoutLeaving } from '../../src/scheduler/kubernetes/pod-addresses.ts';
import type { DeployRequest, ReleaseToRun } from '../../src/scheduler/types.ts';

const release: ReleaseToRun = { version: 7, imageId: 'sha256:abc', imageRef: null, config: { GREETING: 'hi' }, containerPort: 8080 };
const req: DeployRequest & { release: ReleaseToRun } = {
  app: 'shop', release, hostnames: ['shop.localhost'], health: { path: '/healthz', timeoutSec: 20 },
  formation: [
    { type: 'web', quantity: 3, memoryMB: 256, cpus: 0.5, command: 'node server.js', generation: 2 },
    { type: 'worker', quantity: 1, memoryMB: null, cpus: null, command: 'node a.js && node b.js', generation: 0 },
  ],
};
const settings = { owner: 'inst1', drainSec: 3, stopTimeoutSec: 10 };
const IMAGE = '127.0.0.1:5000/shop:v7@sha256:def';

test('web Deployment: rolling update that never drops capacity, readiness = health check, drain, sizes, command, env', () => {
  const d = deploymentFor(req, req.formation[0], IMAGE, settings);
  assert.equal(d.metadata?.name, 'shop-web');
  assert.deepEqual(d.spec?.selector.matchLabels, { 'berth.owner': 'inst1', 'berth.app': 'shop', 'berth.process': 'web' });
  assert.equal(d.spec?.replicas, 3);
  assert.deepEqual(d.spec?.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  assert.ok((d.spec?.revisionHistoryLimit ?? 99) <= 3);
  const pod = d.spec!.template;
  assert.equal(pod.metadata?.labels?.['berth.release'], '7');
  assert.equal(pod.metadata?.labels?.['berth.managed'], '1');
  assert.equal(pod.metadata?.annotations?.['berth.generation'], '2');
  assert.equal(pod.spec?.terminationGracePeriodSeconds, 13);
  assert.equal(pod.spec?.automountServiceAccountToken, false, 'apps never get an API token');
  assert.equal(pod.spec?.enableServiceLinks, false, 'no other Service addresses in the environment');
  assert.equal(pod.spec?.shareProcessNamespace, true, 'the app is not PID 1: SIGTERM stops it');
  const c = pod.spec!.containers[0];
  assert.equal(c.image, IMAGE);
  assert.deepEqual(c.command, ['/bin/sh', '-c', 'exec node server.js']);
  assert.equal(c.envFrom, undefined);
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
  assert.deepEqual(env.GREETING, { secretKeyRef: { name: 'shop-config', key: 'v7.GREETING' } }, 'the value stays in the Secret');
  assert.ok(!JSON.stringify(d).includes('"hi"'), 'no config value in the Deployment');
  assert.equal(env.PORT, '8080');
  assert.equal(env.BERTH_RELEASE, 'v7');
  assert.equal(env.BERTH_PROCESS, 'web');
  assert.deepEqual(env.DYNO, { fieldRef: { fieldPath: 'metadata.name' } });
  assert.deepEqual(c.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  assert.deepEqual(c.readinessProbe?.httpGet, { path: '/healthz', port: 'http' });
  assert.deepEqual(c.lifecycle?.preStop?.exec?.command, ['sleep', '3']);
  assert.deepEqual(c.resources, { requests: { memory: '256Mi', cpu: '500m' }, limits: { memory: '256Mi', cpu: '500m' } });
});

test('worker Deployment: no port, no probe, stays up a second to count; compound commands run in the shell as written', () => {
  const d = deploymentFor(req, req.formation[1], IMAGE, settings);
  const c = d.spec!.template.spec!.containers[0];
  assert.equal(d.metadata?.name, 'shop-worker');
  assert.equal(d.spec?.minReadySeconds, 1);
  assert.equal(c.ports, undefined);
  assert.equal(c.readinessProbe, undefined);
  assert.ok(!(c.env ?? []).some((e) => e.name === 'PORT'));
  assert.deepEqual(c.command, ['/bin/sh', '-c', 'node a.js && node b.js']);
  assert.deepEqual(c.resources, {});
});

test('a Procfile or release command reaches the shell as written: Kubernetes does not expand $(VAR) or fold $$ in it', () => {
  const procfile = 'echo $$ $(date) $(GREETING) $PORT';
  const d = deploymentFor(req, { ...req.formation[1], command: procfile }, IMAGE, settings);
  assert.deepEqual(d.spec!.template.spec!.containers[0].command, ['/bin/sh', '-c', 'exec echo $$$$ $$(date) $$(GREETING) $$PORT']);
  const job = jobFor({ app: 'shop', release, command: ['sh', '-c', 'echo $(GREETING)'], env: {}, memoryMB: null, timeoutSec: 90 }, IMAGE, 'shop-run-z', 'inst1');
  assert.deepEqual(job.spec!.template.spec!.containers[0].command, ['sh', '-c', 'echo $$(GREETING)']);
});

test('no drain: no preStop hook; no Procfile command: the image\'s own', () => {
  const d = deploymentFor(req, { ...req.formation[0], command: null }, IMAGE, { ...settings, drainSec: 0 });
  const c = d.spec!.template.spec!.containers[0];
  assert.equal(c.lifecycle, undefined);
  assert.equal(c.command, undefined);
  assert.equal(d.spec!.template.spec!.terminationGracePeriodSeconds, 10);
});

test('names are DNS labels; process types with _ stay apart from their - twins', () => {
  assert.equal(deploymentName('shop', 'web'), 'shop-web');
  const a = deploymentName('shop', 'high_prio');
  const b = deploymentName('shop', 'high-prio');
  assert.notEqual(a, b);
  for (const name of [a, b, deploymentName('a'.repeat(30), `x${'_'.repeat(29)}`)]) assert.match(name, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
});

test('one config Secret per app, each release\'s values under vN.KEY; Service targets the named port, so no release changes it', () => {
  const s = configSecretFor('shop', release, 'inst1');
  assert.equal(s.metadata?.name, 'shop-config');
  assert.deepEqual(s.metadata?.labels, { 'berth.owner': 'inst1', 'berth.app': 'shop' });
  assert.deepEqual(s.stringData, { 'v7.GREETING': 'hi' });
  assert.deepEqual(staleConfigKeys(['v7.GREETING', 'v6.GREETING', 'v5.A', 'v15.A', 'GREETING'], [7, 15]), ['v6.GREETING', 'v5.A', 'GREETING']);
  const svc = serviceFor('shop', 'inst1');
  assert.equal(svc.spec?.type, 'NodePort');
  assert.equal(svc.spec?.ports?.[0].targetPort, 'http');
  assert.deepEqual(svc.spec?.selector, { 'berth.owner': 'inst1', 'berth.app': 'shop', 'berth.process': 'web' });
  assert.equal(selectorOf('inst1', 'shop'), 'berth.owner=inst1,berth.app=shop');
});

test('Job: one try, deadline = timeout, release config plus the one-off env (which wins), not an app instance', () => {
  const job = jobFor({ app: 'shop', release, command: ['rake', 'db:migrate'], env: { DYNO: 'release.1', BERTH_PROCESS: 'release' }, memoryMB: 128, timeoutSec: 90 }, IMAGE, 'shop-run-x', 'inst1');
  assert.equal(job.spec?.backoffLimit, 0);
  assert.equal(job.spec?.activeDeadlineSeconds, 90);
  const pod = job.spec!.template;
  assert.equal(pod.spec?.restartPolicy, 'Never');
  assert.equal(pod.metadata?.labels?.['berth.managed'], undefined, 'one-offs are not instances');
  assert.equal(pod.metadata?.labels?.['berth.oneoff'], '1');
  const c = pod.spec!.containers[0];
  assert.deepEqual(c.command, ['rake', 'db:migrate']);
  const env = (c.env ?? []).map((e) => e.name);
  assert.equal(new Set(env).size, env.length, 'each variable once');
  assert.equal(c.env?.find((e) => e.name === 'BERTH_PROCESS')?.value, 'release');
  assert.deepEqual(c.env?.find((e) => e.name === 'GREETING')?.valueFrom, { secretKeyRef: { name: 'shop-config', key: 'v7.GREETING' } });
  const overridden = jobFor({ app: 'shop', release, command: ['env'], env: { GREETING: 'one-off' }, memoryMB: null, timeoutSec: 90 }, IMAGE, 'shop-run-y', 'inst1');
  assert.deepEqual(overridden.spec!.template.spec!.containers[0].env?.filter((e) => e.name === 'GREETING'), [{ name: 'GREETING', value: 'one-off' }], 'the one-off env wins over the config');
  assert.deepEqual(c.resources?.limits, { memory: '128Mi' });
});

test('early admission probes only pods the rollout started, once running with an IPv4 address, not going away', () => {
  const running = { containerStatuses: [{ name: 'app', image: 'i', imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: new Date() } } }] };
  const at = (uid: string, status: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ metadata: { uid, ...extra }, status } as V1Pod);
  const old = new Set(['u-old']);
  assert.equal(newPodAddress(at('u-new', { ...running, podIP: '10.0.0.7' }), old), '10.0.0.7');
  assert.equal(newPodAddress(at('u-old', { ...running, podIP: '10.0.0.6' }), old), null, 'a pod from before the rollout (same release on ps:restart)');
  assert.equal(newPodAddress(at('u-new', { podIP: '10.0.0.7' }), old), null, 'container not running yet');
  assert.equal(newPodAddress(at('u-new', running), old), null, 'no IP yet');
  assert.equal(newPodAddress(at('u-new', { ...running, podIP: 'fd00::7' }), old), null, 'the app DNS answers A records');
  assert.equal(newPodAddress(at('u-new', { ...running, podIP: '10.0.0.7' }, { deletionTimestamp: new Date() }), old), null, 'terminating');
});

test('quantities read back as Berth sizes', () => {
  assert.deepEqual(resourcesOf(null, 0.001), { requests: { cpu: '1m' }, limits: { cpu: '1m' } });
  assert.equal(memoryMB('256Mi'), 256);
  assert.equal(memoryMB('1Gi'), 1024);
  assert.equal(cpus('500m'), 0.5);
  assert.equal(cpus('2'), 2);
});

// --- rollout verdicts ---

function deployment(status: Record<string, unknown>, replicas = 2, generation = 3): V1Deployment {
  return { metadata: { name: 'shop-web', generation, uid: 'u1', annotations: { 'deployment.kubernetes.io/revision': '4' } }, spec: { replicas, selector: {}, template: {} }, status };
}
function pod(name: string, container: Record<string, unknown>): V1Pod {
  return { metadata: { name }, status: { containerStatuses: [{ name: 'app', image: 'i', imageID: '', ready: false, restartCount: 0, ...container }] } } as V1Pod;
}
const snapshot = (d: V1Deployment, newPods: V1Pod[] = [], extra = {}) => ({
  processType: 'web', deployment: d, newPods, probeFailures: new Map<string, string>(), healthPath: '/', healthTimeoutSec: 20, now: Date.parse('2030-01-01T00:01:00Z'), ...extra,
});

test('rollout is done only when the controller saw it and every replica is new, ready and available, with no old one left', () => {
  const full = { observedGeneration: 3, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 };
  assert.deepEqual(rolloutVerdict(snapshot(deployment(full))), { state: 'done' });
  assert.equal(rolloutVerdict(snapshot(deployment({ ...full, observedGeneration: 2 }))).state, 'waiting');
  const withOld = rolloutVerdict(snapshot(deployment({ ...full, replicas: 3 })));
  assert.equal(withOld.state, 'waiting');
  assert.match((withOld as { summary: string }).summary, /1 old still running/);
  assert.deepEqual(rolloutVerdict(snapshot(deployment({ observedGeneration: 3 }, 0))), { state: 'done' }, 'scaled to zero');
});

test('rollout fails fast on crashes, image pulls and config errors, naming the cause', () => {
  const d = deployment({ observedGeneration: 3 });
  const crash = rolloutVerdict(snapshot(d, [pod('p1', { restartCount: 1, lastState: { terminated: { exitCode: 3, reason: 'Error' } } })]));
  assert.deepEqual(crash, { state: 'failed', reason: 'web pod p1: the process crashed and was restarted 1 time(s) (exit code 3)' });
  const pull = rolloutVerdict(snapshot(d, [pod('p1', { state: { waiting: { reason: 'ErrImagePull', message: 'not found' } } })]));
  assert.equal(rolloutVerdict(snapshot(d, [pod('p1', { state: { waiting: { reason: 'CreateContainerConfigError', message: 'failed to sync secret cache' } } })])).state, 'waiting', 'the kubelet retries this one');
  assert.deepEqual(pull, { state: 'failed', reason: 'web pod p1: ErrImagePull: not found' });
  assert.equal(rolloutVerdict(snapshot(d, [pod('p1', { state: { waiting: { reason: 'ContainerCreating' } } })])).state, 'waiting');
  const stalled = deployment({ observedGeneration: 3, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'took too long' }] });
  assert.deepEqual(rolloutVerdict(snapshot(stalled)), { state: 'failed', reason: 'web: took too long' });
});

test('a running pod that stays unready past the health timeout fails with the last probe failure', () => {
  const d = deployment({ observedGeneration: 3 });
  const running = (startedAt: string) => pod('p1', { state: { running: { startedAt: new Date(startedAt) } } });
  assert.equal(rolloutVerdict(snapshot(d, [running('2030-01-01T00:00:50Z')])).state, 'waiting');
  const failures = new Map([['p1', 'Readiness probe failed: HTTP probe failed with statuscode: 500']]);
  const verdict = rolloutVerdict(snapshot(d, [running('2030-01-01T00:00:30Z')], { probeFailures: failures }));
  assert.equal(verdict.state, 'failed');
  assert.match((verdict as { reason: string }).reason, /failed its health check: GET \/ did not succeed within 20 s \(Readiness probe failed: HTTP probe failed with statuscode: 500\)/);
});

test('the new pods are the ones of the ReplicaSet with the Deployment\'s revision, owned by it', () => {
  const d = deployment({});
  const rs = (rev: string, hash: string, uid = 'u1') => ({ metadata: { labels: { 'pod-template-hash': hash }, annotations: { 'deployment.kubernetes.io/revision': rev }, ownerReferences: [{ uid }] } });
  assert.equal(newestTemplateHash(d, [rs('3', 'old'), rs('4', 'new'), rs('4', 'other', 'u2')]), 'new');
  assert.equal(newestTemplateHash(d, [rs('3', 'old')]), null);
});

// --- instances, log lines, events ---

test('pods become instances numbered by age per process type (terminating ones last), with state, host and sizes', () => {
  const mk = (name: string, created: string, process: string, extra: Partial<V1Pod['status']> = {}, deleting = false): V1Pod => ({
    metadata: { name, creationTimestamp: new Date(created), labels: { 'berth.app': 'shop', 'berth.process': process, 'berth.release': '7' }, annotations: { 'berth.generation': '2' }, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: { nodeName: 'n1', containers: [{ name: 'app', image: IMAGE, resources: { limits: { memory: '256Mi', cpu: '500m' } } }] },
    status: { hostIP: '10.0.0.5', containerStatuses: [{ name: 'app', image: IMAGE, imageID: '', ready: true, restartCount: 2, state: { running: { startedAt: new Date('2030-01-01T00:00:00Z') } } }], ...extra },
  });
  const instances = instancesFromPods([
    mk('b', '2030-01-01T00:00:02Z', 'web'), mk('a', '2030-01-01T00:00:01Z', 'web'), mk('w', '2030-01-01T00:00:09Z', 'worker'), mk('c', '2030-01-01T00:00:00Z', 'web', {}, true),
  ]);
  const byId = Object.fromEntries(instances.map((i) => [i.id, i]));
  assert.deepEqual([byId.a.index, byId.b.index, byId.c.index, byId.w.index], [1, 2, 3, 1]);
  assert.equal(byId.a.host, '10.0.0.5');
  assert.equal(byId.a.release, 7);
  assert.equal(byId.a.generation, 2);
  assert.equal(byId.a.memoryMB, 256);
  assert.equal(byId.a.cpus, 0.5);
  assert.equal(byId.a.restartCount, 2);
  assert.equal(byId.a.state, 'running');
  assert.equal(byId.c.state, 'removing');
  assert.equal(byId.a.startedAt, '2030-01-01T00:00:00.000Z');
});

test('log lines: stamps split off, lines split across chunks, the last line without newline at the end', () => {
  const decoder = new TextLogDecoder({ app: 'shop', process: 'web', index: 1 });
  const a = decoder.push(Buffer.from('2030-01-01T00:00:00.123456789Z hello\n2030-01-01T00:00:01.5Z wor'));
  const b = decoder.push(Buffer.from('ld\r\n2030-01-01T00:00:02Z tail'));
  const c = decoder.end();
  assert.deepEqual([...a, ...b, ...c].map((l) => [l.time, l.line]), [
    ['2030-01-01T00:00:00.123456789Z', 'hello'],
    ['2030-01-01T00:00:01.500000000Z', 'world'],
    ['2030-01-01T00:00:02.000000000Z', 'tail'],
  ]);
});

test('events: a restart is a die (with the exit code, OOM too) then a start; nothing when nothing changed', () => {
  const status = (s: Record<string, unknown>) => ({ status: { containerStatuses: [{ name: 'app', image: '', imageID: '', ready: true, restartCount: 1, ...s }] } }) as V1Pod;
  const before = { startedAt: '2030-01-01T00:00:00.000Z', finishedAt: null, restarts: 0 };
  const after = status({ state: { running: { startedAt: new Date('2030-01-01T00:00:05Z') } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: new Date('2030-01-01T00:00:04Z') } } });
  assert.deepEqual(changesOf(before, after).map((e) => [e.action, e.exitCode]), [['oom', null], ['die', 137], ['start', null]]);
  const same = status({ state: { running: { startedAt: new Date('2030-01-01T00:00:00Z') } } });
  assert.deepEqual(changesOf(before, same), []);
});

test('routing to pods: only when Berth can reach them; the ready endpoints, without duplicates, sorted', () => {
  assert.equal(routeMode('auto', true, ['10.250.255.1'], ['127.0.0.1', '10.250.255.1']), 'pods', 'a node is this machine');
  assert.equal(routeMode('auto', true, ['192.168.56.11'], ['127.0.0.1', '10.0.2.15']), 'nodeport', 'the nodes are elsewhere');
  assert.equal(routeMode('pods', false, ['10.250.255.1'], ['10.250.255.1']), 'nodeport', 'no app DNS, no name to route by');
  assert.equal(routeMode('nodeport', true, ['10.250.255.1'], ['10.250.255.1']), 'nodeport');
  assert.equal(routeMode('pods', true, [], []), 'pods');
  assert.deepEqual(readyAddresses({
    subsets: [
      { addresses: [{ ip: '10.250.0.9' }, { ip: '10.250.0.3' }], notReadyAddresses: [{ ip: '10.250.0.7' }] },
      { addresses: [{ ip: '10.250.0.3' }, { ip: 'fd00::3' }] },
    ],
  }), ['10.250.0.3', '10.250.0.9']);
  assert.deepEqual(readyAddresses({}), []);
  assert.equal(podsKey('shop'), 'shop.k3s', 'never an app name: app names have no dots');
});

test('pods being deleted leave the app DNS before the endpoints controller drops them; an address it dropped is forgotten', () => {
  // The rollout ended: v6's pod (10.250.0.5) is being deleted, the endpoints still list it as ready.
  const stale = { subsets: [{ addresses: [{ ip: '10.250.0.5' }, { ip: '10.250.0.8' }] }] };
  const first = withoutLeaving(readyAddresses(stale), stale, new Set(['10.250.0.5']));
  assert.deepEqual(first, { ready: ['10.250.0.8'], leaving: new Set(['10.250.0.5']) });
  // An event that still lists it (ready or not) keeps it out.
  const notReady = { subsets: [{ addresses: [{ ip: '10.250.0.8' }], notReadyAddresses: [{ ip: '10.250.0.5' }] }] };
  assert.deepEqual(withoutLeaving(readyAddresses(notReady), notReady, first.leaving).leaving, new Set(['10.250.0.5']));
  // Once the endpoints dropped it, it is forgotten: a later pod with that address is routed.
  const dropped = { subsets: [{ addresses: [{ ip: '10.250.0.8' }] }] };
  const after = withoutLeaving(readyAddresses(dropped), dropped, first.leaving);
  assert.deepEqual(after.leaving, new Set());
  const reused = { subsets: [{ addresses: [{ ip: '10.250.0.5' }, { ip: '10.250.0.8' }] }] };
  assert.deepEqual(withoutLeaving(readyAddresses(reused), reused, after.leaving).ready, ['10.250.0.5', '10.250.0.8']);
});

test('web pods spread over nodes (still scheduled on one) and every pod leaves a lost node within 20 s; workers do not spread', () => {
  const web = deploymentFor(req, req.formation[0], IMAGE, settings).spec!.template.spec!;
  assert.deepEqual(web.topologySpreadConstraints, [{
    maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels: { 'berth.owner': 'inst1', 'berth.app': 'shop', 'berth.process': 'web' } },
  }]);
  const tolerated = (spec: typeof web) => Object.fromEntries((spec.tolerations ?? []).map((t) => [t.key, [t.operator, t.effect, t.tolerationSeconds]]));
  const expected = { 'node.kubernetes.io/not-ready': ['Exists', 'NoExecute', 20], 'node.kubernetes.io/unreachable': ['Exists', 'NoExecute', 20] };
  assert.deepEqual(tolerated(web), expected);
  const worker = deploymentFor(req, req.formation[1], IMAGE, settings).spec!.template.spec!;
  assert.equal(worker.topologySpreadConstraints, undefined);
  assert.deepEqual(tolerated(worker), expected);
});

test('disruption budget: the web pods of the app, one unavailable at a time, only for more than one web instance', () => {
  const pdb = disruptionBudgetFor('shop', 'inst1');
  assert.equal(pdb.metadata?.name, 'shop-web');
  assert.deepEqual(pdb.metadata?.labels, { 'berth.owner': 'inst1', 'berth.app': 'shop' });
  assert.deepEqual(pdb.spec, { maxUnavailable: 1, selector: { matchLabels: { 'berth.owner': 'inst1', 'berth.app': 'shop', 'berth.process': 'web' } } });
  assert.equal(wantsDisruptionBudget(req.formation), true);
  const one = req.formation.map((e) => (e.type === 'web' ? { ...e, quantity: 1 } : { ...e, quantity: 5 }));
  assert.equal(wantsDisruptionBudget(one), false, 'a single web pod (or many workers) stays evictable');
});

test('canary: the canary release\'s web as a Deployment of its own, selected apart from the app\'s web, with the same probe, size and drain', () => {
  const canaryRelease: ReleaseToRun = { version: 8, imageId: 'sha256:new', imageRef: null, config: { GREETING: 'new' }, containerPort: 9090 };
  const canaryReq = { ...req, canary: { release: canaryRelease, routing: { version: 8, weight: 10 } } };
  const web = req.formation[0];
  const d = canaryDeploymentFor(canaryReq, web, IMAGE, settings);
  const stable = deploymentFor(req, web, IMAGE, settings);
  assert.equal(d.metadata?.name, 'shop-web-canary');
  assert.equal(canaryName('shop'), 'shop-web-canary');
  assert.deepEqual(d.spec?.selector.matchLabels, { 'berth.owner': 'inst1', 'berth.app': 'shop', 'berth.canary': 'web' });
  const labels = d.spec!.template.metadata!.labels!;
  assert.equal(labels['berth.process'], undefined, 'the web Service, Deployment and early admission select berth.process=web: never a canary pod');
  assert.equal(labels['berth.release'], '8');
  assert.equal(labels['berth.managed'], '1', 'an instance of the app (ps, logs, metrics)');
  assert.equal(d.spec?.replicas, web.quantity, 'as many as the formation\'s web');
  const c = d.spec!.template.spec!.containers[0];
  const s0 = stable.spec!.template.spec!.containers[0];
  assert.deepEqual(c.readinessProbe, s0.readinessProbe, 'the same health check');
  assert.deepEqual([c.resources, c.lifecycle, c.command], [s0.resources, s0.lifecycle, s0.command]);
  assert.equal(d.spec!.template.spec!.terminationGracePeriodSeconds, stable.spec!.template.spec!.terminationGracePeriodSeconds);
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
  assert.deepEqual(env.GREETING, { secretKeyRef: { name: 'shop-config', key: 'v8.GREETING' } }, 'the canary release\'s values in the app\'s Secret');
  assert.deepEqual([env.PORT, env.BERTH_RELEASE, env.BERTH_PROCESS], ['9090', 'v8', 'web']);
  assert.deepEqual(c.ports, [{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);

  const svc = canaryServiceFor('shop', 'inst1');
  assert.equal(svc.metadata?.name, 'shop-web-canary');
  assert.equal(svc.spec?.type, 'NodePort');
  assert.deepEqual(svc.spec?.selector, d.spec?.selector.matchLabels, 'the canary\'s pods and only them');
  assert.notDeepEqual(svc.spec?.selector, serviceFor('shop', 'inst1').spec?.selector);
  assert.equal(svc.spec?.ports?.[0]?.targetPort, 'http');

  // Its pods read as web.1.. of the canary's release, numbered apart from the app's web pods.
  const pod = (name: string, podLabels: Record<string, string>): V1Pod => ({ metadata: { name, creationTimestamp: new Date('2030-01-01T00:00:00Z'), labels: { 'berth.app': 'shop', ...podLabels } }, spec: { containers: [] } });
  const instances = instancesFromPods([pod('s1', { 'berth.process': 'web', 'berth.release': '7' }), pod('c1', labels), pod('s2', { 'berth.process': 'web', 'berth.release': '7' })]);
  assert.deepEqual(instances.map((i) => `${i.id} ${i.process}.${i.index} v${i.release}`).sort(), ['c1 web.1 v8', 's1 web.1 v7', 's2 web.2 v7']);
});

test('canary: its name is refused when a process type already has it; the spec hash tells an unchanged canary from a step', () => {
  assert.equal(canaryConflict('shop', req.formation), null);
  assert.match(canaryConflict('shop', [...req.formation, { type: 'web-canary', quantity: 1, memoryMB: null, cpus: null, command: 'x', generation: 0 }]) ?? '', /web-canary/);
  const a = withSpecHash(deploymentFor(req, req.formation[0], IMAGE, settings));
  assert.ok(sameSpec(a, withSpecHash(deploymentFor(req, req.formation[0], IMAGE, settings))));
  assert.ok(!sameSpec(a, withSpecHash(deploymentFor(req, { ...req.formation[0], quantity: 4 }, IMAGE, settings))));
  assert.ok(!sameSpec(null, a));
  assert.ok(!sameSpec({ metadata: {} }, a), 'an object made without a hash is never the same');
});

test('canary upstreams on the pod network: the ready pods\' IPv4 addresses, none going away', () => {
  const pod = (ip: string, ready: boolean, deleting = false): V1Pod => ({
    metadata: { name: ip, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    status: { podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  assert.deepEqual(readyPodAddresses([pod('10.250.0.9', true), pod('10.250.0.3', true), pod('10.250.0.4', false), pod('10.250.0.5', true, true), pod('fd00::1', true)]),
    ['10.250.0.3', '10.250.0.9']);
  assert.deepEqual(readyPodAddresses([]), []);
});
