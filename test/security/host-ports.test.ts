// Issue 14, hole 9: a remote host publishes app instances on its own address, so anyone who reaches the host
// could talk to every app directly, past the router (its TLS, maintenance pages and access logs). hosts:add
// now installs a firewall that admits only the router to the published ports. For real: a host joins through
// a real Berth server, an app gets an instance there, the router (Caddy on this machine) still serves it, and
// another machine on the same network cannot connect to it; the task is idempotent, --check changes nothing,
// and the rules outlive a dockerd restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startCaddy } from '../support/caddy.ts';
import { chainRules, jumpsFirst, sshClientAddress } from '../../installer/tasks/app-port-firewall.ts';
import { routerAddressesFrom } from '../../src/config.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { forwardTcp, type Forward } from '../support/tcp-forward.ts';
import { startBerth, viaRouter, eventually, uniqueName, TEST_IMAGE, type BerthServer } from '../support/berth.ts';
import {
  addHostVia, startTestHosts, makeOperatorKey, DOCKER_READY_IMAGE, FRESH_IMAGE, type TestHost, type TestNetwork,
} from '../support/test-hosts.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let registry: TestRegistry;
let forward: Forward;
let network: TestNetwork;
let key: ReturnType<typeof makeOperatorKey>;
let host: TestHost;      // joins Berth and runs an instance
let outsider: TestHost;  // another machine on the host's network: the attacker
const app = uniqueName('fw');
const hostname = `${app}.localhost`;
const PORT_RANGE = '24000-24999';
const FIREWALL_TASK = /^app ports 24000-24999 admit only the router/;

interface Ps { name: string; state: string; host: string; hostName: string; hostPort: number }

before(async () => {
  ({ network, key, hosts: [host, outsider] } = await startTestHosts('berth-fw', [DOCKER_READY_IMAGE, FRESH_IMAGE]));
  registry = await startRegistry();
  const [, registryPort] = registry.address.split(':');
  forward = await forwardTcp(network.gateway, { host: '127.0.0.1', port: Number(registryPort) });
  caddy = await startCaddy();
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address, BERTH_REGISTRY_ADVERTISE: forward.address, BERTH_PORT_RANGE: PORT_RANGE });
  const ref = `${registry.address}/${app}:v1`;
  execFileSync('docker', ['tag', TEST_IMAGE, ref]);
  execFileSync('docker', ['push', ref], { stdio: 'ignore' });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  await network?.remove();
  await forward?.close();
  await registry?.stop();
  key?.dispose();
  try { execFileSync('docker', ['rmi', `${registry.address}/${app}:v1`], { stdio: 'ignore' }); } catch { /* already gone */ }
});

const addHost = (extra: Record<string, unknown> = {}) =>
  addHostVia(berth, { address: `root@${host.address}`, name: 'node-fw', sshKey: key.privateKey, ...extra });
const firewallLine = (lines: { task: string; status: string }[]) => lines.find((l) => FIREWALL_TASK.test(l.task));

/** What the outsider gets from HOST:PORT within 3 s: the first line of an HTTP answer, or "blocked". */
async function outsiderAsks(port: number): Promise<string> {
  const out = await outsider.sh(`timeout 3 bash -c 'exec 3<>/dev/tcp/${host.address}/${port} && ` +
    `printf "GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n" >&3 && head -1 <&3' 2>/dev/null || echo blocked`);
  return out.trim();
}

/** The instance on the remote host, and the instance names the router answered with over a few requests. */
async function servedThroughRouter(): Promise<{ remote: Ps; served: Set<string> }> {
  const remote = (await berth.ok<Ps[]>('GET', `/apps/${app}/ps`)).find((i) => i.host === host.address);
  assert.ok(remote, 'an instance runs on the remote host');
  const served = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const res = await viaRouter(caddy.httpPort, hostname);
    assert.equal(res.status, 200, res.body);
    served.add(res.body.match(/web\.\d/)?.[0] ?? '?');
  }
  return { remote, served };
}

test('the rules: the router returns to Docker\'s own, everyone else is dropped; the jump must come first, once', () => {
  assert.deepEqual(chainRules(['10.0.0.5'], [20000, 29999]), [
    '-A BERTH-APPS -s 10.0.0.5/32 -m conntrack --ctstate DNAT --ctorigdstport 20000:29999 --ctdir ORIGINAL -j RETURN',
    '-A BERTH-APPS -m conntrack --ctstate DNAT --ctorigdstport 20000:29999 --ctdir ORIGINAL -j DROP',
  ]);
  assert.equal(jumpsFirst('-N DOCKER-USER\n-A DOCKER-USER -j BERTH-APPS\n-A DOCKER-USER -j RETURN\n'), true);
  assert.equal(jumpsFirst('-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n-A DOCKER-USER -j BERTH-APPS\n'), false);
  assert.equal(jumpsFirst('-N DOCKER-USER\n-A DOCKER-USER -j BERTH-APPS\n-A DOCKER-USER -j BERTH-APPS\n'), false);
  assert.equal(sshClientAddress('203.0.113.7 51234 22\n'), '203.0.113.7');
  assert.equal(sshClientAddress('2001:db8::1 51234 22'), null, 'IPv6: BERTH_ROUTER_ADDRESS must say');
  assert.equal(sshClientAddress(''), null);
  assert.deepEqual(routerAddressesFrom({ BERTH_ROUTER_ADDRESS: ' 10.0.0.5, 10.0.0.6 ' }), ['10.0.0.5', '10.0.0.6']);
  assert.throws(() => routerAddressesFrom({ BERTH_ROUTER_ADDRESS: '10.0.0.0/8' }), /IPv4 addresses/);
});

test('hosts:add installs the firewall: the router reaches the instance on the host, another machine does not', { timeout: 300_000 }, async () => {
  const first = await addHost();
  assert.ok(first.summary?.succeeded, first.raw);
  const line = firewallLine(first.lines);
  assert.equal(line?.status, 'changed', first.raw);
  // The router's address is where the host sees Berth's SSH come from: this machine on the test network.
  assert.match(line!.task, new RegExp(`\\(${network.gateway.replace(/\./g, '\\.')}\\)$`));
  assert.match(await host.sh('iptables -S DOCKER-USER | sed -n 2p'), /^-A DOCKER-USER -j BERTH-APPS$/);

  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: `${registry.address}/${app}:v1` });
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 2 }] });
  const { remote, served } = await servedThroughRouter();
  assert.ok(remote.hostPort >= 24000 && remote.hostPort <= 24999, `published at ${remote.hostPort}`);
  assert.ok(served.has(remote.name.match(/web\.\d/)![0]), `the router served the remote instance ${remote.name}: ${[...served]}`);
  assert.equal(await outsiderAsks(remote.hostPort), 'blocked');
  // The outsider does reach the host (its SSH port is outside the range): only the app ports are closed to it.
  assert.match(await outsider.sh(`timeout 3 bash -c 'exec 3<>/dev/tcp/${host.address}/22 && head -c 7 <&3'`), /^SSH-2.0/);
});

test('a second run is all ok and changes nothing; --check reports a tampered firewall and leaves it; a run repairs it', { timeout: 300_000 }, async () => {
  const rules = () => host.sh('iptables -S; md5sum /usr/local/sbin/berth-app-firewall');
  const before = await rules();
  const second = await addHost();
  assert.ok(second.summary?.succeeded, second.raw);
  assert.deepEqual(new Set(second.lines.map((l) => l.status)), new Set(['ok']), second.raw);
  assert.equal(await rules(), before, 'a second run must not touch the rules');

  // Without the jump to Berth's chain the port is open to anyone: what the firewall is for (and proof this test can fail).
  const { remote } = await servedThroughRouter();
  await host.sh('iptables -D DOCKER-USER -j BERTH-APPS');
  assert.match(await outsiderAsks(remote.hostPort), /^HTTP\/1\.[01] 200/);
  const tampered = await rules();

  const check = await addHost({ check: true });
  assert.ok(check.summary?.succeeded, check.raw);
  assert.equal(firewallLine(check.lines)?.status, 'would-change', check.raw);
  assert.equal(check.summary!.changed, 0);
  assert.equal(await rules(), tampered, '--check changes nothing');

  const repair = await addHost();
  assert.equal(firewallLine(repair.lines)?.status, 'changed', repair.raw);
  assert.equal(await rules(), before);
  assert.equal(await outsiderAsks(remote.hostPort), 'blocked');
  const { served } = await servedThroughRouter();
  assert.ok(served.has(remote.name.match(/web\.\d/)![0]));
});

test('the rules outlive a dockerd restart, and come back before dockerd after a reboot', { timeout: 300_000 }, async () => {
  const before = await host.sh('iptables -S BERTH-APPS; iptables -S DOCKER-USER');
  // A plain restart, not Berth's launcher: dockerd recreates its chains but keeps DOCKER-USER's rules (live-restore keeps the containers).
  await host.sh('pid=$(cat /var/run/docker.pid); kill "$pid"; for i in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done; ' +
    '(setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &); for i in $(seq 120); do docker info >/dev/null 2>&1 && exit 0; sleep 0.5; done; exit 1');
  assert.equal(await host.sh('iptables -S BERTH-APPS; iptables -S DOCKER-USER'), before);
  const remote = await eventually('the remote instance served through the router again', async () => {
    const answer = await servedThroughRouter().catch(() => null);
    return answer?.served.has(answer.remote.name.match(/web\.\d/)![0]) && answer.remote;
  }, 30_000);
  assert.equal(await outsiderAsks(remote.hostPort), 'blocked');
  const again = await addHost();
  assert.equal(firewallLine(again.lines)?.status, 'ok', again.raw);

  // A reboot empties iptables and stops dockerd: Berth's launcher (no systemd here) sets the rules before dockerd starts.
  await host.sh('iptables -D DOCKER-USER -j BERTH-APPS; iptables -F BERTH-APPS; iptables -X BERTH-APPS; ' +
    'pid=$(cat /var/run/docker.pid); kill "$pid"; for i in $(seq 60); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.5; done; exit 1');
  const rebooted = await addHost();
  assert.equal(rebooted.lines.find((l) => l.task.startsWith('Docker engine running'))?.status, 'changed', rebooted.raw);
  assert.equal(firewallLine(rebooted.lines)?.status, 'ok', `the launcher already set the rules: ${rebooted.raw}`);
  assert.equal(await host.sh('iptables -S BERTH-APPS; iptables -S DOCKER-USER'), before);
});
