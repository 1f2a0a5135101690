// hosts:add --role kubelet before anything runs: the server's BERTH_KUBELET_* settings (checked at start, missing
// ones named by a 422), the node's pod range (pod-cidr.ts: asked for, or the first free /24), the node's kept
// certificates (signed with a throwaway CA made here with openssl) and the registry credential in the node's
// containerd files. The join and the uninstall on real hosts are test/k8s-nodes.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KUBELET_SETTINGS, kubeletSettingsOf } from '../src/hosts/kubelet/settings.ts';
import { choosePodCidr, parseCidr } from '../src/hosts/kubelet/pod-cidr.ts';
import { credentialsFit, forgetNodeCredentials, nodeCredentials } from '../src/hosts/kubelet/node-credentials.ts';
import { openDb } from '../src/state/db.ts';
import { createHosts, hostSettings } from '../src/hosts/wiring.ts';
import { createLocalEngine } from '../src/runtime/docker/local-engine.ts';
import { BerthError } from '../src/shared/errors.ts';
import { launcherScript, nodeFiles, validateKubeletOptions, type KubeletNodeOptions } from '../installer/kubelet/config.ts';
import { authorizedKeyTask } from '../installer/tasks/authorized-key.ts';
import { kubeletNodeUninstallTasks } from '../installer/tasks/kubelet.ts';
import { k3sAgentUninstallTasks } from '../src/hosts/nodes/uninstall.ts';
import { runTasks, type TaskReport } from '../installer/task.ts';
import { sshContext } from '../installer/ssh.ts';
import { ensureBerthSshKey } from '../src/hosts/berth-key.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'berth-kubelet-units-'));

/** A complete, valid set of settings whose files exist. */
function fullEnv(dir = tmp()): Record<string, string> {
  for (const f of ['kube-hyperkube', 'pause.tar', 'ca.crt', 'ca.key']) fs.writeFileSync(path.join(dir, f), 'x');
  return {
    BERTH_KUBELET_BINARY: path.join(dir, 'kube-hyperkube'), BERTH_KUBELET_PAUSE_IMAGE: path.join(dir, 'pause.tar'),
    BERTH_KUBELET_PAUSE_IMAGE_REF: 'k8s.gcr.io/pause:3.6', BERTH_KUBELET_CA_CERT: path.join(dir, 'ca.crt'), BERTH_KUBELET_CA_KEY: path.join(dir, 'ca.key'),
    BERTH_KUBELET_API_SERVER: 'https://10.0.0.1:6443', BERTH_KUBELET_CLUSTER_CIDR: '10.42.0.0/16',
  };
}

const refused = (status: number, code: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof BerthError, String(err));
  assert.deepEqual([err.status, err.code], [status, code], err.message);
  if (message) assert.match(err.message, message);
  return true;
};

test('settings: none set is no error (the role is simply not usable); all set are read; optional ones parsed', () => {
  const none = kubeletSettingsOf({});
  assert.equal(none.settings, null);
  assert.deepEqual(none.missing, Object.values(KUBELET_SETTINGS).filter((s) => s.required).map((s) => s.env));
  const env = { ...fullEnv(), BERTH_KUBELET_API_SERVER_NAME: 'kubernetes', BERTH_KUBELET_NODE_LABELS: 'pool=berth, zone=a', BERTH_KUBELET_NODE_TAINTS: 'dedicated=berth:NoSchedule,x:NoExecute' };
  const read = kubeletSettingsOf(env);
  assert.deepEqual(read.missing, []);
  assert.equal(read.settings?.apiServerName, 'kubernetes');
  assert.deepEqual(read.settings?.labels, { pool: 'berth', zone: 'a' });
  assert.deepEqual(read.settings?.taints, ['dedicated=berth:NoSchedule', 'x:NoExecute']);
  const partial = kubeletSettingsOf({ BERTH_KUBELET_API_SERVER: 'https://10.0.0.1:6443' });
  assert.ok(!partial.missing.includes('BERTH_KUBELET_API_SERVER') && partial.missing.includes('BERTH_KUBELET_CA_KEY'), partial.missing.join());
});

test('settings: a malformed value stops the start, naming the setting', () => {
  const bad: [string, string][] = [
    ['BERTH_KUBELET_BINARY', 'bin/kube-hyperkube'], ['BERTH_KUBELET_CA_KEY', '../ca.key'],
    ['BERTH_KUBELET_PAUSE_IMAGE_REF', 'pause:3.6"; id'], ['BERTH_KUBELET_API_SERVER', 'http://10.0.0.1:6443'],
    ['BERTH_KUBELET_API_SERVER', 'https://user:pw@10.0.0.1:6443'], ['BERTH_KUBELET_API_SERVER', 'https://10.0.0.1:6443/x?y'],
    ['BERTH_KUBELET_API_SERVER_NAME', 'a b'], ['BERTH_KUBELET_CLUSTER_CIDR', '10.42.0.0'], ['BERTH_KUBELET_CLUSTER_CIDR', '10.42.0.0/25'],
    ['BERTH_KUBELET_CLUSTER_CIDR', '10.42.0.0/16 ! -d 0/0'], ['BERTH_KUBELET_NODE_LABELS', 'a b=c'], ['BERTH_KUBELET_NODE_LABELS', 'k=x y'],
    ['BERTH_KUBELET_NODE_TAINTS', 'k=v:Sometimes'], ['BERTH_KUBELET_NODE_TAINTS', 'k=v;id:NoSchedule'],
  ];
  for (const [key, value] of bad) {
    assert.throws(() => kubeletSettingsOf({ ...fullEnv(), [key]: value }), new RegExp(`^Error: ${key}`), `${key}=${value}`);
  }
  // The same check runs where the server reads its host settings at start.
  assert.throws(() => hostSettings('127.0.0.1:5000', { BERTH_KUBELET_CLUSTER_CIDR: 'ten' }), /BERTH_KUBELET_CLUSTER_CIDR/);
});

test('hosts:add --role kubelet: 422 naming the missing settings, the unreadable files, or the missing cluster; podCidr only for kubelet', async () => {
  const plan = (env: Record<string, string>, body: Record<string, string> = {}) => {
    const dataDir = tmp();
    const engine = createLocalEngine({ socketPath: '/nonexistent/docker.sock', owner: 'abc123' });
    const { service } = createHosts({ db: openDb(path.join(dataDir, 'berth.db')), engine, dataDir, owner: 'abc123', settings: hostSettings('127.0.0.1:5000', env), log: () => {} });
    return service.plan({ address: 'root@10.0.0.5', role: 'kubelet', ...body });
  };
  await assert.rejects(plan({}), refused(422, 'kubelet_settings_missing', /BERTH_KUBELET_BINARY, BERTH_KUBELET_PAUSE_IMAGE, .*BERTH_KUBELET_CLUSTER_CIDR[\s\S]*docs\/k3s\.md/));
  const { BERTH_KUBELET_CA_KEY: _, ...withoutKey } = fullEnv();
  await assert.rejects(plan(withoutKey), (err) => refused(422, 'kubelet_settings_missing')(err) && /^[^,]*BERTH_KUBELET_CA_KEY \(/.test((err as Error).message.split(': ')[1]));
  const env = fullEnv();
  fs.rmSync(env.BERTH_KUBELET_PAUSE_IMAGE);
  await assert.rejects(plan(env), refused(422, 'kubelet_settings_unreadable', new RegExp(`BERTH_KUBELET_PAUSE_IMAGE=${env.BERTH_KUBELET_PAUSE_IMAGE}`)));
  await assert.rejects(plan(fullEnv()), refused(422, 'no_cluster', /BERTH_KUBECONFIG/));
  await assert.rejects(plan(fullEnv(), { role: 'k3s-server', podCidr: '10.42.1.0/24' }), refused(422, 'invalid_pod_cidr', /--role kubelet/));
});

test('pod range by default: the node\'s own when it has one, else the first /24 no node has and no join is taking; none while a node records none', () => {
  const nodes = new Map([['a', ['10.42.0.0/24']], ['b', ['10.42.2.0/24']]]);
  const pick = (nodeName: string, reserved: string[] = [], cluster = '10.42.0.0/16') => choosePodCidr({ nodeName, clusterCidr: cluster, nodes, reserved });
  assert.equal(pick('c'), '10.42.1.0/24');
  assert.equal(pick('c', ['10.42.1.0/24']), '10.42.3.0/24');
  assert.equal(pick('b'), '10.42.2.0/24', 'a re-run keeps the node\'s range');
  // A node with a wider range covers several /24s.
  assert.equal(choosePodCidr({ nodeName: 'c', clusterCidr: '10.42.0.0/16', nodes: new Map([['w', ['10.42.0.0/22']]]), reserved: [] }), '10.42.4.0/24');
  assert.throws(() => pick('c', ['10.42.1.0/24', '10.42.3.0/24'], '10.42.0.0/22'), refused(409, 'pod_cidr_exhausted', /10\.42\.0\.0\/22/));
  // A node without a recorded range (the test kit's: no allocate-node-cidrs) leaves the default unknowable.
  nodes.set('kit', []);
  assert.throws(() => pick('c'), refused(422, 'pod_cidr_required', /kit record no pod range[\s\S]*--pod-cidr/));
  assert.equal(pick('b'), '10.42.2.0/24', 'a node with its own range keeps it');
  assert.equal(choosePodCidr({ nodeName: 'c', requested: '10.42.9.0/24', clusterCidr: '10.42.0.0/16', nodes, reserved: [] }), '10.42.9.0/24');
});

test('pod range asked for: an aligned IPv4 range inside the cluster\'s, overlapping no other node\'s; a node\'s range never changes', () => {
  const nodes = new Map([['a', ['10.42.0.0/24']], ['b', ['10.42.2.0/23']]]);
  const ask = (requested: string, nodeName = 'c', reserved: string[] = []) => choosePodCidr({ nodeName, requested, clusterCidr: '10.42.0.0/16', nodes, reserved });
  assert.equal(ask('10.42.9.0/24'), '10.42.9.0/24');
  assert.equal(ask('10.42.8.0/26'), '10.42.8.0/26');
  for (const bad of ['10.42.9.0', '10.42.9.1/24', '10.42.9.0/29', '10.42.9.0/33', '10.42.9.0/24 ', '10.42.9.0/24; id', '$(id)', '::1/128', '10.042.9.0/24', '']) {
    assert.throws(() => ask(bad), refused(422, 'invalid_pod_cidr'), JSON.stringify(bad));
  }
  assert.throws(() => ask('10.43.0.0/24'), refused(422, 'invalid_pod_cidr', /not inside .*10\.42\.0\.0\/16/));
  assert.throws(() => ask('10.42.0.0/15'), refused(422, 'invalid_pod_cidr'));
  assert.throws(() => ask('10.42.3.0/24'), refused(409, 'pod_cidr_taken', /10\.42\.2\.0\/23 of b/));
  assert.throws(() => ask('10.42.0.0/20'), refused(409, 'pod_cidr_taken'));
  assert.throws(() => ask('10.42.9.0/24', 'c', ['10.42.9.0/25']), refused(409, 'pod_cidr_taken', /joining now/));
  assert.equal(ask('10.42.0.0/24', 'a'), '10.42.0.0/24', 'the node\'s own range');
  assert.throws(() => ask('10.42.9.0/24', 'a'), refused(409, 'pod_cidr_fixed', /10\.42\.0\.0\/24/));
  assert.deepEqual(parseCidr('10.42.1.0/24'), { base: (10 * 256 ** 3) + (42 * 256 ** 2) + 256, bits: 24 });
});

test('a node\'s certificates are kept for the next hosts:add, and signed again for another CA, name or address', async () => {
  const dir = tmp();
  const ca = { certFile: path.join(dir, 'ca.crt'), keyFile: path.join(dir, 'ca.key') };
  const makeCa = (cert: string, key: string) => execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=test-ca', '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  makeCa(ca.certFile, ca.keyFile);
  const dataDir = tmp();
  const first = await nodeCredentials(dataDir, ca, 'node-a', '10.0.0.5');
  assert.equal((fs.statSync(path.join(dataDir, 'kubelet-nodes', 'node-a.json')).mode & 0o777), 0o600);
  const caPem = fs.readFileSync(ca.certFile, 'utf8');
  assert.deepEqual(await nodeCredentials(dataDir, ca, 'node-a', '10.0.0.5'), first, 'the second run gets the same files');
  assert.equal(credentialsFit(first, caPem, 'node-a', '10.0.0.5'), true);
  assert.equal(credentialsFit(first, caPem, 'node-a', '10.0.0.5', Date.now() + 340 * 86_400_000), false, 'less than 30 days left');
  assert.equal(credentialsFit(first, caPem, 'node-b', '10.0.0.5'), false);
  assert.equal(credentialsFit(first, caPem, 'node-a', '10.0.0.6'), false);
  const other = await nodeCredentials(dataDir, ca, 'node-a', '10.0.0.6');
  assert.notEqual(other.nodeCert, first.nodeCert, 'another address: signed again');
  assert.equal(credentialsFit({ ...other, nodeKey: first.nodeKey }, caPem, 'node-a', '10.0.0.6'), false, 'a key that is not the certificate\'s');
  makeCa(ca.certFile, ca.keyFile);
  assert.equal(credentialsFit(other, fs.readFileSync(ca.certFile, 'utf8'), 'node-a', '10.0.0.6'), false, 'another CA');
  const renewed = await nodeCredentials(dataDir, ca, 'node-a', '10.0.0.6');
  assert.notEqual(renewed.nodeCert, other.nodeCert);
  assert.equal(renewed.ca, fs.readFileSync(ca.certFile, 'utf8'));
  forgetNodeCredentials(dataDir, 'node-a');
  assert.equal(fs.existsSync(path.join(dataDir, 'kubelet-nodes', 'node-a.json')), false);
  forgetNodeCredentials(dataDir, '../../etc/passwd'); // not a node name: nothing happens
  await assert.rejects(nodeCredentials(dataDir, ca, '../x', '10.0.0.5'), /DNS labels/);
});

const pem = (kind: string) => `-----BEGIN ${kind}-----\nQUJD\n-----END ${kind}-----\n`;
const options: KubeletNodeOptions = {
  hyperkubeBinary: '/x/kube-hyperkube', pauseImage: '/x/pause.tar', pauseImageRef: 'k8s.gcr.io/pause:3.6', apiServer: 'https://10.0.0.1:6443',
  credentials: { ca: pem('CERTIFICATE'), nodeCert: pem('CERTIFICATE'), nodeKey: pem('PRIVATE KEY'), proxyCert: pem('CERTIFICATE'), proxyKey: pem('PRIVATE KEY') },
  nodeName: 'node-a', nodeIp: '10.0.0.5', podCidr: '10.42.1.0/24', clusterCidr: '10.42.0.0/16', registryMirrors: { '10.0.0.1:5000': 'http://10.0.0.1:5000' },
};

test('the registry credential reaches containerd as Basic auth in a root-only hosts.toml; a hostile one is refused', () => {
  const hosts = (o: KubeletNodeOptions) => nodeFiles(o).find((f) => f.path.endsWith('/hosts.toml'))!;
  assert.equal(hosts(options).mode, '644');
  assert.doesNotMatch(hosts(options).content, /Authorization/);
  const withAuth = hosts({ ...options, registryAuth: { username: 'berth', password: 's3cret' } });
  assert.equal(withAuth.mode, '600');
  assert.match(withAuth.content, /\[host\."http:\/\/10\.0\.0\.1:5000"\.header\]\n {4}Authorization = "Basic YmVydGg6czNjcmV0"/);
  for (const registryAuth of [{ username: 'a"b', password: 'x' }, { username: 'berth', password: 'a\nb' }, { username: '', password: 'x' }]) {
    assert.throws(() => validateKubeletOptions({ ...options, registryAuth }), /registry credential/, JSON.stringify(registryAuth));
  }
});

test('the node\'s masquerade rule is tagged, so the uninstall finds it; Berth\'s SSH key line is checked before it reaches the host', () => {
  assert.match(launcherScript(options), /-s 10\.42\.1\.0\/24 ! -d 10\.42\.0\.0\/16 -m comment --comment berth-kubelet -j MASQUERADE/);
  assert.match(launcherScript(options), /^running\) /m);
  assert.doesNotThrow(() => authorizedKeyTask('root', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ berth'));
  assert.throws(() => authorizedKeyTask('root', "ssh-ed25519 AAAA berth'; id"));
  assert.throws(() => authorizedKeyTask('root', 'ssh-ed25519 AAAA\nssh-ed25519 BBBB'));
  assert.throws(() => authorizedKeyTask('root;id', 'ssh-ed25519 AAAA berth'));
});

test('an uninstall on a host that does not answer stops at its first task: failed, nothing reported ok (kubelet node and k3s agent)', async () => {
  const key = ensureBerthSshKey(tmp());
  // Nothing listens on port 1 of loopback: ssh exits 255 at once, as for a host cut off.
  const ctx = sshContext({ user: 'root', host: '127.0.0.1', port: 1, keyFile: key.keyFile, knownHostsFile: key.knownHostsFile }, {}, false);
  for (const tasks of [kubeletNodeUninstallTasks(), k3sAgentUninstallTasks()]) {
    const lines: TaskReport[] = [];
    const summary = await runTasks(tasks, ctx, (line) => lines.push(line));
    assert.deepEqual([summary.ok, summary.changed, summary.failed, lines.length], [0, 0, 1, 1], JSON.stringify(lines));
    assert.equal(lines[0].task, 'the host answers over SSH');
    assert.match(lines[0].detail ?? '', /exit code: 255[\s\S]*hint: the host is down or unreachable/);
  }
});
