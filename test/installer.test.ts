// hosts:add for real: the installer logs in over SSH to containers that look like fresh Debian 12 VMs,
// apt-installs Docker there, configures and starts it, and registers the host; a second run changes
// nothing, --check changes nothing, and a broken apt source stops the run with command, output and hint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCaddy } from './support/caddy.ts';
import { startBerth, type BerthServer } from './support/berth.ts';
import {
  addHostVia, startTestHosts, makeOperatorKey, FRESH_IMAGE, type TestHost, type TestNetwork,
} from './support/test-hosts.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let network: TestNetwork;
let key: ReturnType<typeof makeOperatorKey>;
let fresh: TestHost;
let spare: TestHost;
const registry = '10.9.8.7:5000'; // only written into daemon.json: nothing pulls from it here

before(async () => {
  ({ network, key, hosts: [fresh, spare] } = await startTestHosts('berth-inst', [FRESH_IMAGE, FRESH_IMAGE]));
  caddy = await startCaddy();
  berth = await startBerth(caddy, { BERTH_REGISTRY_ADVERTISE: registry, BERTH_HEARTBEAT_SECONDS: '2' });
});

after(async () => {
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  await network?.remove();
  key?.dispose();
});

const statuses = (lines: { status: string }[]) => lines.map((l) => l.status);

test('hosts:add on a fresh Debian host: every task changes it, then a second run is all ok', { timeout: 600_000 }, async () => {
  const started = Date.now();
  const first = await addHostVia(berth, { address: `root@${fresh.address}`, name: 'node-a', sshKey: key.privateKey });
  assert.equal(first.status, 200, first.raw);
  assert.ok(first.summary?.succeeded, `first run failed:\n${first.raw}`);
  assert.deepEqual(statuses(first.lines).filter((s) => s === 'failed'), []);
  // Installing, configuring, authorizing Berth's key and registering all had something to do.
  for (const task of ['packages installed', '/etc/docker/daemon.json', 'admit only the router', "Berth's SSH key authorized", 'registered with Berth']) {
    const line = first.lines.find((l) => l.task.includes(task));
    assert.equal(line?.status, 'changed', `${task}: ${JSON.stringify(line)}`);
  }
  console.log(`# first hosts:add (apt install docker.io over SSH): ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // The host is really set up: Docker runs with Berth's settings, and Berth's key is authorized.
  const daemon = JSON.parse(await fresh.sh('cat /etc/docker/daemon.json'));
  assert.deepEqual(daemon['insecure-registries'], [registry]);
  assert.deepEqual(daemon['registry-mirrors'], [`http://${registry}`]);
  assert.equal(daemon['live-restore'], true);
  assert.deepEqual(daemon['log-opts'], { 'max-size': '10m', 'max-file': '3' });
  assert.match(await fresh.sh('docker info --format "{{.LiveRestoreEnabled}} {{.LoggingDriver}}"'), /^true json-file$/);
  assert.match(await fresh.sh('cat /root/.ssh/authorized_keys'), /ssh-ed25519 \S+ berth$/m);
  // Never a TCP port for the Docker API.
  assert.doesNotMatch(await fresh.sh('ss -ltnp'), /dockerd/);
  // App ports admit only Berth (where its SSH comes from); test/security/host-ports.test.ts tries them.
  assert.match(await fresh.sh('iptables -S BERTH-APPS'), new RegExp(`-A BERTH-APPS -s ${network.gateway}/32 .*-j RETURN`));

  const before = await fresh.sh('md5sum /etc/docker/daemon.json /root/.ssh/authorized_keys; cat /var/run/docker.pid');
  const second = await addHostVia(berth, { address: `root@${fresh.address}`, name: 'node-a', sshKey: key.privateKey });
  assert.ok(second.summary?.succeeded, second.raw);
  assert.deepEqual(new Set(statuses(second.lines)), new Set(['ok']), second.raw);
  assert.equal(second.summary!.changed, 0);
  assert.equal(await fresh.sh('md5sum /etc/docker/daemon.json /root/.ssh/authorized_keys; cat /var/run/docker.pid'), before,
    'a second run must not touch files or restart dockerd');

  const hosts = await berth.ok('GET', '/hosts');
  const nodeA = hosts.find((h: { name: string }) => h.name === 'node-a');
  assert.equal(nodeA.address, fresh.address);
  assert.equal(nodeA.status, 'up');
  assert.ok(nodeA.memoryMB > 0, 'capacity comes from the engine');
  assert.equal(hosts[0].name, 'local');
});

test('hosts:add --check on a fresh host reports what would change and changes nothing', { timeout: 120_000 }, async () => {
  const result = await addHostVia(berth, { address: `root@${spare.address}`, name: 'node-b', sshKey: key.privateKey, check: true });
  assert.ok(result.summary?.succeeded, result.raw);
  assert.equal(result.summary!.changed, 0);
  assert.ok(result.summary!.wouldChange >= 4, result.raw);
  assert.ok(statuses(result.lines).every((s) => s === 'would-change' || s === 'ok'), result.raw);
  assert.equal(await spare.sh('dpkg-query -W -f="${Status}" docker.io 2>/dev/null || echo absent'), 'absent');
  assert.equal(await spare.sh('test -e /etc/docker/daemon.json && echo present || echo absent'), 'absent');
  assert.equal(await spare.sh('grep -c berth /root/.ssh/authorized_keys || true'), '0');
  assert.equal(await spare.sh('test -e /usr/local/sbin/berth-app-firewall && echo present || echo absent'), 'absent');
  const hosts = await berth.ok('GET', '/hosts');
  assert.equal(hosts.find((h: { name: string }) => h.name === 'node-b'), undefined);
});

test('a failing task stops the run with its command, output and a hint', { timeout: 180_000 }, async () => {
  await spare.sh('echo "deb http://127.0.0.1:9/debian bookworm main" > /etc/apt/sources.list');
  const result = await addHostVia(berth, { address: `root@${spare.address}`, name: 'node-b', sshKey: key.privateKey });
  assert.equal(result.summary?.succeeded, false, result.raw);
  // Only the host key (pinned by the run before) is checked first; nothing runs after the failed task.
  assert.deepEqual(statuses(result.lines), ['ok', 'failed'], result.raw);
  const failed = result.lines[1];
  assert.equal(failed.status, 'failed');
  assert.match(failed.task, /packages installed/);
  assert.match(failed.detail!, /^command: apt-get update/m);
  assert.match(failed.detail!, /exit code: \d+/);
  assert.match(failed.detail!, /127\.0\.0\.1:9/, 'the command output is shown');
  assert.match(failed.detail!, /^hint: .*sources\.list/m);
  const hosts = await berth.ok('GET', '/hosts');
  assert.equal(hosts.find((h: { name: string }) => h.name === 'node-b'), undefined);
});

test('hosts:add refuses bad requests with JSON errors before running anything', async () => {
  const bad = await berth.api('POST', '/hosts', { address: 'root@not a host' });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.error, 'invalid_address');
  const role = await berth.api('POST', '/hosts', { address: `root@${spare.address}`, role: 'mainframe' });
  assert.equal(role.status, 422);
  assert.equal(role.body.error, 'invalid_role');
  const missing = await berth.api('POST', '/hosts/nope/drain');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error, 'host_not_found');
});
