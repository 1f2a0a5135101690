// Routing local web instances by their address on Berth's own network (BERTH_ROUTE_VIA=container-ip), which
// skips docker-proxy: addresses Berth assigns, kept across crashes, never shared, and the old host-port way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { CaddyAdminClient } from '../src/router/caddy/admin-client.ts';
import { startBerth, viaRouter, eventually, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { DockerRuntime } from '../src/runtime/docker/index.ts';
import { IpAllocator, overlaps, parseCidr, parseSubnet } from '../src/runtime/docker/ip-pool.ts';
import { AppNetworks } from '../src/runtime/docker/berth-network.ts';
import Docker from 'dockerode';

type Caddy = Awaited<ReturnType<typeof startCaddy>>;
interface Ps { name: string; state: string; hostPort: number; restartCount: number; containerId: string }

let caddy: Caddy;
let caddyOld: Caddy;
let berth: BerthServer;
let berthOld: BerthServer;
const first = uniqueName('cip');
const second = uniqueName('cip');
const upgraded = uniqueName('cip');

before(async () => {
  [caddy, caddyOld] = await Promise.all([startCaddy(), startCaddy()]);
  berth = await startBerth(caddy);
  berthOld = await startBerth(caddyOld, { BERTH_ROUTE_VIA: 'host-port' });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${first}`, { confirm: first });
  await berth?.api('DELETE', `/apps/${second}`, { confirm: second });
  await berthOld?.api('DELETE', `/apps/${upgraded}`, { confirm: upgraded });
  await berth?.kill('SIGTERM');
  await berthOld?.kill('SIGTERM');
  await Promise.all([caddy?.stop(), caddyOld?.stop()]);
  for (const server of [berth, berthOld]) {
    if (!server) continue;
    for (const id of docker(['network', 'ls', '-q', '--filter', `label=berth.owner=${installationOf(server)}`]).split('\n').filter(Boolean)) {
      try { docker(['network', 'rm', id]); } catch { /* already gone */ }
    }
  }
});

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const installationOf = (server: BerthServer) => fs.readFileSync(path.join(server.dataDir, 'installation-id'), 'utf8').trim();
/** Each app has a network of its own (test/security/isolation.test.ts), carved from BERTH_NETWORK_SUBNET. */
const networkOf = (server: BerthServer, app: string) => `berth-${installationOf(server)}-${app}`;

/** The container's address on each network it is attached to, and its berth.ip label. */
function addressesOf(containerId: string): { networks: Record<string, { ip: string; assigned: string | null }>; label: string | null } {
  const [info] = JSON.parse(docker(['inspect', containerId]));
  const networks: Record<string, { ip: string; assigned: string | null }> = {};
  for (const [name, net] of Object.entries<any>(info.NetworkSettings.Networks)) {
    networks[name] = { ip: net.IPAddress, assigned: net.IPAMConfig?.IPv4Address ?? null };
  }
  return { networks, label: info.Config.Labels['berth.ip'] ?? null };
}

/** Where the app's route sends requests: its listed upstreams, or what its DNS-named upstream resolves to now. */
async function routeDials(c: Caddy, app: string): Promise<string[]> {
  type Proxy = { handler: string; upstreams?: { dial: string }[]; dynamic_upstreams?: { name: string; port: string; resolver: { addresses: string[] } } };
  const route = await new CaddyAdminClient(c.adminUrl).get<{ handle?: Proxy[] }>(`/id/berth-app-${app}`);
  const proxy = route.handle?.find((h) => h.handler === 'reverse_proxy');
  const named = proxy?.dynamic_upstreams;
  if (!named) return proxy?.upstreams?.map((u) => u.dial) ?? [];
  const resolver = new Resolver();
  resolver.setServers([named.resolver.addresses[0].replace(/^udp\//, '')]);
  return (await resolver.resolve4(named.name)).map((ip) => `${ip}:${named.port}`);
}

const ps = (server: BerthServer, app: string) => server.ok<Ps[]>('GET', `/apps/${app}/ps`);

async function deploy(server: BerthServer, app: string): Promise<void> {
  await server.ok('POST', '/apps', { name: app });
  await server.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
}

test('a web instance joins its app\'s network at the address Berth assigned, and the route dials it there', async () => {
  await deploy(berth, first);
  const [web] = await ps(berth, first);
  const { networks, label } = addressesOf(web.containerId);
  const network = networkOf(berth, first);
  assert.deepEqual(Object.keys(networks), [network], 'only on its app\'s network, not the default bridge');
  assert.ok(label, 'the assigned address is recorded as a label');
  assert.equal(networks[network].assigned, label, 'a static address, not one from the engine\'s pool');
  assert.equal(networks[network].ip, label);
  const subnet = JSON.parse(docker(['network', 'inspect', network]))[0].IPAM.Config[0].Subnet as string;
  assert.ok(overlaps(parseCidr(subnet)!, parseCidr(berth.env.BERTH_NETWORK_SUBNET)!), `${subnet} is carved from BERTH_NETWORK_SUBNET`);
  assert.ok(overlaps(parseCidr(`${label}/32`)!, parseCidr(subnet)!));
  assert.deepEqual(await routeDials(caddy, first), [`${label}:5000`]);
  assert.match((await viaRouter(caddy.httpPort, `${first}.localhost`)).body, /hello from v1 web\.1/);
  // The published port stays: ps shows it, and health checks use it.
  assert.match(await (await fetch(`http://127.0.0.1:${web.hostPort}/`)).text(), /hello from v1 web\.1/);
});

test('a crashed instance is restarted at the same address and answers through Caddy again', async () => {
  const [before] = await ps(berth, first);
  const ipBefore = addressesOf(before.containerId).label;
  await fetch(`http://127.0.0.1:${before.hostPort}/crash`).catch(() => { /* it dies mid-answer */ });
  const after = await eventually('the engine restarts it', async () => {
    const [web] = await ps(berth, first);
    return web.restartCount > before.restartCount && web.state === 'running' && web;
  });
  assert.equal(after.containerId, before.containerId);
  const { networks, label } = addressesOf(after.containerId);
  assert.equal(label, ipBefore);
  assert.equal(networks[networkOf(berth, first)].ip, ipBefore);
  assert.deepEqual(await routeDials(caddy, first), [`${ipBefore}:5000`]);
  await eventually('the app answers through Caddy after the restart', async () =>
    /hello from v1 web\.1/.test((await viaRouter(caddy.httpPort, `${first}.localhost`)).body));
});

test('two apps (and two instances of one) never share an address', async () => {
  await deploy(berth, second);
  await berth.ok('PATCH', `/apps/${first}/formation`, { updates: [{ type: 'web', quantity: 2 }] });
  const instances = [...await ps(berth, first), ...await ps(berth, second)];
  assert.equal(instances.length, 3);
  const ips = instances.map((i) => addressesOf(i.containerId).label);
  assert.ok(ips.every((ip) => ip !== null));
  assert.equal(new Set(ips).size, 3, `addresses: ${ips.join(', ')}`);
  assert.deepEqual((await routeDials(caddy, first)).sort(), ips.slice(0, 2).map((ip) => `${ip}:5000`).sort());
  assert.deepEqual(await routeDials(caddy, second), [`${ips[2]}:5000`]);
  assert.match((await viaRouter(caddy.httpPort, `${second}.localhost`)).body, /hello from v1 web\.1/);
});

test('BERTH_ROUTE_VIA=host-port routes to the published port and puts nothing on a Berth network', async () => {
  await deploy(berthOld, upgraded);
  const [web] = await ps(berthOld, upgraded);
  assert.deepEqual(await routeDials(caddyOld, upgraded), [`127.0.0.1:${web.hostPort}`]);
  const { networks, label } = addressesOf(web.containerId);
  assert.equal(label, null);
  assert.deepEqual(Object.keys(networks), ['bridge']);
});

test('an instance from before (no assigned address) keeps being served by host port until it is replaced', async () => {
  const [old] = await ps(berthOld, upgraded);
  await berthOld.kill('SIGTERM');
  berthOld.env.BERTH_ROUTE_VIA = 'container-ip';
  await berthOld.start();
  const [kept] = await ps(berthOld, upgraded);
  assert.equal(kept.containerId, old.containerId, 'reconcile keeps the running instance');
  assert.deepEqual(await routeDials(caddyOld, upgraded), [`127.0.0.1:${old.hostPort}`]);
  assert.match((await viaRouter(caddyOld.httpPort, `${upgraded}.localhost`)).body, /hello from v1 web\.1/);
  // The next release replaces it with an instance on Berth's network, routed by address.
  await berthOld.ok('PATCH', `/apps/${upgraded}/config`, { GREETING: 'upgraded' });
  const [replaced] = await ps(berthOld, upgraded);
  const ip = addressesOf(replaced.containerId).label;
  assert.ok(ip);
  assert.deepEqual(await routeDials(caddyOld, upgraded), [`${ip}:5000`]);
  assert.match((await viaRouter(caddyOld.httpPort, `${upgraded}.localhost`)).body, /hello from v2 web\.1 greeting=upgraded/);
});

test('a subnet that overlaps another network is refused at startup, naming the clash', async () => {
  const owner = `cip-clash-${process.pid}`;
  const clashing = new DockerRuntime({ socketPath: '/var/run/docker.sock', owner, networkSubnet: berth.env.BERTH_NETWORK_SUBNET });
  await assert.rejects(clashing.prepare(), new RegExp(`overlaps Docker network berth-${installationOf(berth)}-.*BERTH_NETWORK_SUBNET`));
  assert.throws(() => docker(['network', 'inspect', `berth-${owner}`]), 'nothing was created');
});

test('without BERTH_NETWORK_SUBNET, a second installation on the engine carves free subnets instead of clashing', async () => {
  const owners = [`cip-auto-a-${process.pid}`, `cip-auto-b-${process.pid}`];
  const engine = new Docker({ socketPath: '/var/run/docker.sock' });
  try {
    const subnets: string[] = [];
    for (const owner of owners) {
      const networks = new AppNetworks({ docker: engine, owner, subnet: 'auto', call: (_what, request) => request(AbortSignal.timeout(30_000)) });
      await networks.prepare();
      await networks.ensure('app');
      subnets.push(JSON.parse(docker(['network', 'inspect', `berth-${owner}-app`]))[0].IPAM.Config[0].Subnet);
    }
    assert.match(subnets[0], /^10\.2\d\d\.\d+\.0\/24$/);
    assert.notEqual(subnets[0], subnets[1], 'two installations, two subnets');
  } finally {
    for (const owner of owners) { try { docker(['network', 'rm', `berth-${owner}-app`]); } catch { /* not made */ } }
  }
});

test('the allocator skips network, gateway, broadcast and taken addresses, and reuses a freed one last', () => {
  const pool = new IpAllocator(parseSubnet('10.9.8.0/28'));
  assert.equal(pool.pick([]), '10.9.8.2');
  assert.equal(pool.pick(['10.9.8.3', '10.9.8.4']), '10.9.8.5');
  const rest = Array.from({ length: 11 }, () => pool.pick([]));
  assert.deepEqual(rest.slice(-3), ['10.9.8.14', '10.9.8.2', '10.9.8.3']);
  const all = Array.from({ length: 13 }, (_, i) => `10.9.8.${i + 2}`);
  assert.throws(() => pool.pick(all), /No free address/);
  assert.throws(() => parseSubnet('10.9.8.0/30'), /not an IPv4 subnet/);
});
