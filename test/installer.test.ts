// hosts:add and hosts:remove through a real Berth server, over SSH to containers that look like fresh Debian 12
// VMs: --check of a k3s server changes nothing; bad requests (--role docker among them: Docker hosts are gone)
// are refused before anything runs; a Docker host an older Berth registered is named in the log at start, listed
// as retired, and hosts:remove runs its cleanup over SSH (no Docker there: a failed line) and drops the record,
// as it does for a host that does not answer. The k3s tasks themselves run in test/k3s-tasks.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCaddy } from './support/caddy.ts';
import { startBerth, type BerthServer } from './support/berth.ts';
import {
  addHostVia, startTestHosts, makeOperatorKey, FRESH_IMAGE, type TestHost, type TestNetwork,
} from './support/test-hosts.ts';
import { registerRetiredDockerHost } from './support/retired-hosts.ts';
import { installationId } from '../src/server/bootstrap.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let network: TestNetwork;
let key: ReturnType<typeof makeOperatorKey>;
let fresh: TestHost;
let old: TestHost;

before(async () => {
  ({ network, key, hosts: [fresh, old] } = await startTestHosts('berth-inst', [FRESH_IMAGE, FRESH_IMAGE]));
  caddy = await startCaddy();
  berth = await startBerth(caddy, { BERTH_REGISTRY_ADVERTISE: '10.9.8.7:5000' }); // only written into the nodes' files
});

after(async () => {
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  await network?.remove();
  key?.dispose();
});

const statuses = (lines: { status: string }[]) => lines.map((l) => l.status);
const listed = async (name: string) => (await berth.ok('GET', '/hosts')).find((h: { name: string }) => h.name === name);

test('hosts:add --check --role k3s-server on a fresh host reports what would change and changes nothing', { timeout: 120_000 }, async () => {
  const result = await addHostVia(berth, { address: `root@${fresh.address}`, name: 'node-a', role: 'k3s-server', sshKey: key.privateKey, check: true });
  assert.equal(result.status, 200, result.raw);
  assert.ok(result.summary?.succeeded, result.raw);
  assert.equal(result.summary!.changed, 0);
  assert.ok(result.summary!.wouldChange >= 3, result.raw);
  assert.ok(statuses(result.lines).every((s) => s === 'would-change' || s === 'ok'), result.raw);
  assert.equal(result.lines.find((l) => l.task.startsWith('curl installed'))?.status, 'would-change', result.raw);
  // Logged in with the operator's key: Berth's own is authorized too (hosts:remove, and agents reading the join token, use it).
  assert.equal(result.lines.find((l) => l.task.startsWith('Berth\'s SSH key authorized for root'))?.status, 'would-change', result.raw);
  assert.equal(result.lines.at(-1)?.task, 'registered with Berth as host "node-a" (k3s-server)');
  assert.equal(await fresh.sh('test -e /usr/local/bin/k3s || test -e /etc/rancher && echo present || echo absent'), 'absent');
  assert.equal(await fresh.sh('command -v curl || echo absent'), 'absent');
  assert.equal(await listed('node-a'), undefined);
});

test('hosts:add refuses bad requests with JSON errors before running anything; --role docker says Docker hosts are gone', async () => {
  const address = `root@${fresh.address}`;
  const cases: [Record<string, unknown>, string, RegExp?][] = [
    [{ address: 'root@not a host', role: 'k3s-server' }, 'invalid_address'],
    [{ address, role: 'mainframe' }, 'invalid_role', /k3s-server, k3s-agent/],
    [{ address, role: 'docker' }, 'docker_hosts_removed', /Docker hosts are gone[\s\S]*docs\/k3s\.md/],
    [{ address }, 'role_required', /--role k3s-server/],
    // A plain kubelet node needs the server's BERTH_KUBELET_* settings, which this server was not given.
    [{ address, role: 'kubelet' }, 'kubelet_settings_missing', /BERTH_KUBELET_BINARY, .*BERTH_KUBELET_CA_KEY, .*BERTH_KUBELET_CLUSTER_CIDR/],
    [{ address, role: 'k3s-agent', podCidr: '10.42.1.0/24' }, 'invalid_pod_cidr', /--role kubelet only/],
  ];
  for (const [body, error, message] of cases) {
    const res = await berth.api('POST', '/hosts', body);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.error, error);
    if (message) assert.match(res.body.message, message);
  }
  const missing = await berth.api('POST', '/hosts/nope/drain');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error, 'host_not_found');
  assert.equal(await fresh.sh('grep -c berth /root/.ssh/authorized_keys || true'), '0', 'nothing logged in to change anything');
});

test('a Docker host of an older Berth: named in the log at start, listed retired, hosts:remove cleans up over SSH and drops it', { timeout: 120_000 }, async () => {
  await registerRetiredDockerHost(berth, old, 'old-docker');
  const notices = berth.output.split('\n').filter((l) => l.includes('host old-docker'));
  assert.equal(notices.length, 1, berth.output.slice(-3000));
  assert.match(notices[0], /is a Docker host of an older Berth: it is no longer used.*berth hosts:remove old-docker.*docs\/k3s\.md/);

  const row = await listed('old-docker');
  assert.deepEqual({ status: row.status, role: row.role, instances: row.instances, load: row.load }, { status: 'retired', role: 'docker', instances: null, load: null });
  const local = await listed('local');
  assert.equal(local.status, 'up');
  assert.equal(typeof local.instances, 'number');
  const drain = await berth.api('POST', '/hosts/old-docker/drain');
  assert.equal(drain.status, 409);
  assert.equal(drain.body.error, 'host_retired');

  const removed = await berth.ok('DELETE', '/hosts/old-docker');
  assert.equal(removed.deleted, 'old-docker');
  assert.equal(removed.moved, 0);
  const log = removed.log.join('\n');
  const owner = installationId(berth.dataDir);
  // The task ran on the host over SSH with Berth's key: its shell answered that there is no docker (127, not ssh's 255).
  assert.match(log, new RegExp(`^failed +containers Berth started here removed \\(label berth\\.owner=${owner}\\)`, 'm'), log);
  assert.match(log, new RegExp(`command: docker ps -aq --filter 'label=berth\\.owner=${owner}'`), log);
  assert.match(log, /exit code: 127/, log);
  assert.match(log, /docker: (command )?not found/, log);
  assert.match(log, /is forgotten all the same/, log);
  assert.equal(await listed('old-docker'), undefined);
  assert.equal((await berth.api('DELETE', '/hosts/old-docker')).status, 404, 'gone for good');
});

test('a retired Docker host that does not answer is reported and forgotten all the same', { timeout: 120_000 }, async () => {
  await registerRetiredDockerHost(berth, old, 'old-silent', 2); // nothing listens on port 2: the connection is refused
  const removed = await berth.ok('DELETE', '/hosts/old-silent');
  const log = removed.log.join('\n');
  assert.match(log, /^failed +containers Berth started here removed/m, log);
  assert.match(log, /exit code: 255/, log);
  assert.match(log, /is forgotten all the same/, log);
  assert.equal(await listed('old-silent'), undefined);
});
