// Add-ons on the Kubernetes (k3s) scheduler, against the real test cluster (../shared/k8s; a namespace of its own
// per run): a pushed Node app (pg) on k3s stores and reads rows through the DATABASE_URL Berth set; the rows
// survive deleting the service's pod; a backup captured from the pod restores them; attach and detach edit the NetworkPolicy (the kit's CNI bridge plugin does
// not enforce it: the object is what is checked); a Docker app cannot attach it; the scheduler's own cleanup of
// the app leaves the add-on alone; exec streams 20 MB both ways; destroy leaves nothing, data directory included.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { startCaddy } from './support/caddy.ts';
import { fixtureRepo, gitPush } from './support/git-push.ts';
import { runCli, cliOutput, type CliTarget } from './support/cli.ts';
import { startBerth, viaRouter, eventually, uniqueName, type BerthServer } from './support/berth.ts';
import { clusterApi, deleteNamespace, testKubeconfig, testNamespace } from './scheduler/k8s-cluster.ts';
import { installationId } from '../src/server/bootstrap.ts';
import { clusterAccess, createClusterScheduler } from '../src/scheduler/wiring.ts';
import { clusterServices } from '../src/addons/runtime-wiring.ts';
import { addonObjectName, addonPodName, addonVolumeName } from '../src/addons/kubernetes/manifests.ts';
import { lostNodeName, watchAddonNodes } from '../src/addons/kubernetes/node-watch.ts';
import type { Router } from '../src/router/types.ts';
import type { BackupList } from '../src/wire/types.ts';

const cluster = testKubeconfig();
const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/addons/db-app');
const namespace = testNamespace('berth-addons');
const app = uniqueName('k8sdb');
const other = uniqueName('k8sdb-b');
const dockerApp = uniqueName('k8sdb-d');
const pg = `${app}-postgres`;
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let work: string;
let dataRoot: string;
let owner: string;

const api = () => clusterApi(cluster.path!);
const net = () => { const c = new k8s.KubeConfig(); c.loadFromFile(cluster.path!); return c.makeApiClient(k8s.NetworkingV1Api); };
const target = (): CliTarget => ({ url: berth.url, token: berth.token, home: work });
const cli = async (...args: string[]) => cliOutput(await runCli(target(), args), args);
const get = (route: string) => viaRouter(caddy.httpPort, `${app}.localhost`, route);
const access = () => clusterAccess({ dataDir: berth.dataDir, owner, dockerSocket: '/var/run/docker.sock', registry: '127.0.0.1:5000', registryAdvertise: '127.0.0.1:5000', env: { BERTH_KUBECONFIG: cluster.path!, BERTH_K8S_NAMESPACE: namespace } })!;
const admitted = async () => (await net().readNamespacedNetworkPolicy({ name: addonObjectName(pg), namespace })).spec?.ingress
  ?.flatMap((rule) => rule._from ?? []).flatMap((peer) => peer.podSelector?.matchExpressions?.[0]?.values ?? []);

before(async () => {
  if (cluster.skip) return;
  caddy = await startCaddy();
  dataRoot = fs.mkdtempSync('/var/tmp/berth-addons-k8s-');
  berth = await startBerth(caddy, {
    BERTH_KUBECONFIG: cluster.path!, BERTH_K8S_NAMESPACE: namespace, BERTH_DEFAULT_SCHEDULER: 'docker',
    BERTH_K8S_ADDON_DIR: dataRoot, BERTH_STACK_GENERIC: 'berth/node:24',
  });
  owner = installationId(berth.dataDir);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-addons-k8s-'));
  await berth.ok('POST', '/apps', { name: app, scheduler: 'k3s' });
  await berth.ok('POST', '/apps', { name: other, scheduler: 'k3s' });
  await berth.ok('POST', '/apps', { name: dockerApp, scheduler: 'docker' });
  const repo = fixtureRepo(FIXTURE, path.join(work, 'db-app'), `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`);
  const pushed = await gitPush(repo, 'paas', 'main');
  assert.equal(pushed.code, 0, pushed.output);
});

after(async () => {
  if (cluster.skip) return;
  for (const name of [app, other, dockerApp]) await berth?.api('DELETE', `/apps/${name}`, { confirm: name });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  await deleteNamespace(cluster.path!, namespace);
  for (const dir of [work, dataRoot]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('postgres on k3s: a StatefulSet of one on a local volume pinned to the node; the app stores and reads rows through DATABASE_URL', { skip: cluster.skip, timeout: 240_000 }, async () => {
  assert.match(await cli('addons:create', app, 'postgres', '--size', '256M'), /DATABASE_URL set in v\d+/);
  const sts = await api().apps.readNamespacedStatefulSet({ name: addonObjectName(pg), namespace });
  assert.equal(sts.spec?.replicas, 1);
  assert.equal(sts.metadata?.labels?.['berth.app'], undefined, 'labelled as an add-on, not as the app');
  assert.equal(sts.spec?.template.spec?.containers[0].resources?.limits?.memory, '256Mi');
  assert.match(sts.spec?.template.spec?.containers[0].image ?? '', /^127\.0\.0\.1:5000\/berth\/postgres:15@sha256:/);
  const pv = await api().core.readPersistentVolume({ name: addonVolumeName(owner, pg) });
  assert.equal(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms[0].matchExpressions?.[0].key, 'kubernetes.io/hostname');
  assert.equal(pv.spec?.hostPath?.path, path.join(dataRoot, owner, pg));
  const svc = await api().core.readNamespacedService({ name: addonObjectName(pg), namespace });
  assert.equal(svc.spec?.type, 'ClusterIP');
  const url = new URL((await berth.ok('GET', `/apps/${app}/addons/${pg}?reveal=true`)).url);
  assert.equal(url.hostname, svc.spec?.clusterIP, 'the app reaches the service at its ClusterIP');
  const secret = await api().core.readNamespacedSecret({ name: addonObjectName(pg), namespace });
  assert.equal(Buffer.from(secret.data!.POSTGRES_PASSWORD, 'base64').toString(), decodeURIComponent(url.password));
  assert.deepEqual(await admitted(), [app]);

  const stored = await eventually('the app on the release with DATABASE_URL', async () => { const r = await get('/pg/write?body=first'); return r.status === 200 && r; }, 90_000);
  assert.equal(stored.body, 'stored');
  assert.equal((await get('/pg/read')).body, 'first');
  assert.match(await cli('addons', app), new RegExp(`postgres\\s+${pg}\\s+up\\s+256M`));
  const ps = await berth.ok('GET', `/apps/${app}/ps`);
  assert.ok(!JSON.stringify(ps).includes(addonPodName(pg)), 'ps does not list the service');
  assert.ok(fs.existsSync(path.join(dataRoot, owner, pg, 'pgdata', 'PG_VERSION')), 'the data is in the add-on\'s directory on the node');
});

test('the rows survive deleting the service\'s pod: it comes back on the same volume, on the same node', { skip: cluster.skip, timeout: 120_000 }, async () => {
  const before = await api().core.readNamespacedPod({ name: addonPodName(pg), namespace });
  await api().core.deleteNamespacedPod({ name: addonPodName(pg), namespace, gracePeriodSeconds: 0 });
  await eventually('a new, ready pod of the service', async () => {
    const pod = await api().core.readNamespacedPod({ name: addonPodName(pg), namespace }).catch(() => null);
    return pod && pod.metadata?.uid !== before.metadata?.uid && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  }, 90_000);
  const read = await eventually('the rows through the app', async () => { const r = await get('/pg/read'); return r.status === 200 && r; }, 30_000);
  assert.equal(read.body, 'first');
});

test('backups on k3s: capture streams pg_dump out of the pod, a later row is undone by the restore, the download matches its SHA-256', { skip: cluster.skip, timeout: 180_000 }, async () => {
  const id = /done, (b\d{3,})/.exec(await cli('backups:capture', pg))?.[1] ?? assert.fail('no backup id');
  assert.equal((await get('/pg/write?body=second')).body, 'stored');
  assert.equal((await get('/pg/read')).body, 'first,second');
  assert.match(await cli('backups:restore', pg, id, '--confirm', pg), new RegExp(`${pg} now holds ${pg} ${id}`));
  const read = await eventually('the restored rows through the app', async () => { const r = await get('/pg/read'); return r.status === 200 && r; }, 30_000);
  assert.equal(read.body, 'first', 'the row written after the backup is gone');
  const listed = (await berth.ok('GET', `/addons/${pg}/backups`)) as BackupList;
  const backup = listed.backups.find((b) => b.id === id);
  assert.equal(backup?.status, 'succeeded');
  const res = await fetch(`${berth.url}/api/v1/addons/${pg}/backups/${id}/download`, { headers: { authorization: `Bearer ${berth.token}` } });
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(createHash('sha256').update(body).digest('hex'), backup?.sha256);
  assert.equal(body.subarray(0, 5).toString('latin1'), 'PGDMP', 'a pg_dump custom-format archive');
});

test('attach and detach edit the NetworkPolicy; a Docker app cannot attach a k3s add-on, nor an app move away from one (422)', { skip: cluster.skip, timeout: 60_000 }, async () => {
  await berth.ok('POST', `/apps/${other}/addons/attach`, { name: pg, as: 'SHOP_DATABASE_URL' });
  assert.deepEqual((await admitted())?.sort(), [app, other].sort());
  // Moving an app away from the services it uses would strand it: refused, naming them, and nothing moves.
  const stranding = await berth.api('PATCH', `/apps/${other}`, { scheduler: 'docker' });
  assert.equal(stranding.status, 422, JSON.stringify(stranding.body));
  assert.equal(stranding.body.error, 'addons_attached');
  assert.match(stranding.body.message, new RegExp(`${other} uses ${pg} on the k3s scheduler`));
  assert.equal((await berth.ok('GET', `/apps/${other}`)).scheduler, 'k3s');
  await berth.ok('DELETE', `/apps/${other}/addons/${pg}/attachment`);
  assert.deepEqual(await admitted(), [app]);
  const refused = await berth.api('POST', `/apps/${dockerApp}/addons/attach`, { name: pg });
  assert.equal(refused.status, 422);
  assert.match(refused.body.message, new RegExp(`${pg} runs on the k3s scheduler and ${dockerApp} on docker`));
});

test('addons:connect runs psql in the service\'s pod with a TTY, through the exec API', { skip: cluster.skip, timeout: 60_000 }, async () => {
  const res = await runCli(target(), ['addons:connect', app, pg], { input: 'SELECT 6*7 AS answer;\n\\q\n', timeoutMs: 45_000 });
  assert.equal(res.code, 0, res.err + res.out);
  assert.match(res.out, /answer\s*\r?\n-+\r?\n\s*42/);
});

test('exec streams 20 MB both ways: output flows while input is still coming, and the end of input reaches the command', { skip: cluster.skip, timeout: 120_000 }, async () => {
  const services = await clusterServices(access(), owner, () => {});
  const payload = randomBytes(20 * 1024 * 1024);
  const sent = createHash('sha256').update(payload).digest('hex');
  const received = createHash('sha256');
  let receivedBytes = 0;
  let echoed!: () => void;
  const firstEcho = new Promise<void>((resolve) => { echoed = resolve; });
  const stdout = new Writable({
    write(chunk: Buffer, _enc, done) { received.update(chunk); receivedBytes += chunk.length; if (receivedBytes >= 1024 * 1024) echoed(); done(); },
  });
  // The first MiB, then nothing more until it came back through the command: no side waits for the other's end.
  const stdin = Readable.from((async function* () {
    yield payload.subarray(0, 1024 * 1024);
    await firstEcho;
    for (let at = 1024 * 1024; at < payload.length; at += 256 * 1024) yield payload.subarray(at, at + 256 * 1024);
  })());
  const result = await services.exec(pg, { command: ['cat'], stdin, stdout });
  assert.deepEqual(result, { exitCode: 0, stderrTail: '' });
  assert.equal(receivedBytes, payload.length);
  assert.equal(received.digest('hex'), sent);

  const counted = new PassThrough();
  let text = '';
  counted.on('data', (d: Buffer) => { text += d.toString(); });
  const wc = await services.exec(pg, { command: ['/bin/sh', '-c', 'wc -c; echo "to stderr" >&2; exit 3'], stdin: Readable.from([payload.subarray(0, 12345)]), stdout: counted });
  assert.equal(text.trim(), '12345');
  assert.equal(wc.exitCode, 3);
  assert.match(wc.stderrTail, /to stderr/);
  const greeted = new PassThrough();
  let greeting = '';
  greeted.on('data', (d: Buffer) => { greeting += d.toString(); });
  const env = await services.exec(pg, { command: ['/bin/sh', '-c', 'echo "$GREETING"; cat'], env: { GREETING: 'hi there' }, stdout: greeted });
  assert.equal(env.exitCode, 0, 'without stdin the command reads EOF at once');
  assert.equal(greeting, 'hi there\n');
});

test('the scheduler\'s cleanup of the app (deployments, Jobs, its Services and Secrets) leaves the add-on running', { skip: cluster.skip, timeout: 90_000 }, async () => {
  const scheduler = await createClusterScheduler({
    dataDir: berth.dataDir, router: { removeRoute: async () => {}, setRoute: async () => {}, listRoutes: async () => [], ensureBase: async () => {} } as Router,
    owner, dockerSocket: '/var/run/docker.sock', registry: '127.0.0.1:5000', registryAdvertise: '127.0.0.1:5000', drainSec: 0, stopTimeoutSec: 1, log: () => {},
    env: { BERTH_KUBECONFIG: cluster.path!, BERTH_K8S_NAMESPACE: namespace, BERTH_K8S_ROUTE: 'nodeport' },
  });
  assert.ok(!(await scheduler!.apps()).some((name) => name.includes('postgres')));
  await scheduler!.stop(app);
  const name = addonObjectName(pg);
  await api().apps.readNamespacedStatefulSet({ name, namespace });
  await api().core.readNamespacedService({ name, namespace });
  await api().core.readNamespacedSecret({ name, namespace });
  await net().readNamespacedNetworkPolicy({ name, namespace });
  assert.match(await cli('addons', app), new RegExp(`${pg}\\s+up`));
});

test('an add-on whose node is lost shows as down, is reported as a host down naming it, and is never moved', { skip: cluster.skip, timeout: 90_000 }, async () => {
  // A Node object no kubelet answers for: as lost as a machine that went away.
  const ghost = `berth-ghost-${Math.random().toString(36).slice(2, 8)}`;
  await api().core.createNode({ body: { metadata: { name: ghost, labels: { 'kubernetes.io/hostname': ghost } } } });
  const services = await clusterServices(access(), owner, () => {}, { BERTH_K8S_ADDON_NODE: ghost });
  const name = `${app}-ghost`;
  const downs: string[] = [];
  const ups: string[] = [];
  const stop = watchAddonNodes({ lostNodes: () => services.lostNodes(), hostDown: (n) => downs.push(n), hostUp: (n) => ups.push(n), log: () => {}, intervalMs: 200 });
  try {
    await services.start({ name, kind: 'postgres', app, image: 'berth/postgres:15', env: { POSTGRES_USER: 'u', POSTGRES_PASSWORD: 'p', POSTGRES_DB: 'd' }, memoryMB: 128 });
    assert.equal(await services.status(name), 'down');
    await eventually('the lost node reported', async () => downs.length > 0, 10_000);
    assert.deepEqual(downs, [lostNodeName(ghost, [name])], 'the add-on on the Ready node is not reported');
    const pod = await api().core.readNamespacedPod({ name: addonPodName(name), namespace }).catch(() => null);
    assert.ok(!pod?.spec?.nodeName || pod.spec.nodeName === ghost, 'never started on another node');
    await services.remove(name);
    await eventually('reported up once the add-on is gone', async () => ups.length > 0, 10_000);
    assert.deepEqual(ups, downs);
  } finally {
    stop();
    await api().core.deleteNode({ name: ghost }).catch(() => {});
  }
});

test('addons:destroy removes the StatefulSet, claim, volume, Service, Secret, policy and the data directory on the node', { skip: cluster.skip, timeout: 120_000 }, async () => {
  await cli('addons:destroy', app, pg, '--confirm', pg);
  const name = addonObjectName(pg);
  const gone = async (read: () => Promise<unknown>) => read().then(() => false, (err: { code?: number }) => err.code === 404);
  assert.ok(await gone(() => api().apps.readNamespacedStatefulSet({ name, namespace })), 'StatefulSet');
  assert.ok(await gone(() => api().core.readNamespacedPersistentVolumeClaim({ name, namespace })), 'claim');
  assert.ok(await eventually('the volume gone', () => gone(() => api().core.readPersistentVolume({ name: addonVolumeName(owner, pg) })), 30_000), 'volume');
  assert.ok(await gone(() => api().core.readNamespacedService({ name, namespace })), 'Service');
  assert.ok(await gone(() => api().core.readNamespacedSecret({ name, namespace })), 'Secret');
  assert.ok(await gone(() => net().readNamespacedNetworkPolicy({ name, namespace })), 'NetworkPolicy');
  assert.ok(await gone(() => api().core.readNamespacedPod({ name: addonPodName(pg), namespace })), 'pod');
  assert.ok(!fs.existsSync(path.join(dataRoot, owner, pg)), 'the data directory');
  assert.deepEqual((await api().core.listNamespacedPod({ namespace, labelSelector: `berth.addon=${pg}` })).items, [], 'no data-removal pod left');
});
