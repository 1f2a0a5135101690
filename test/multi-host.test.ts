// Apps across machines: two test hosts (containers with their own dockerd) join through hosts:add, an
// app's instances spread over them and the local engine, hosts:drain moves instances away without a
// failed request, and a host cut off the network is routed around and its instances recreated.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startCaddy } from './support/caddy.ts';
import { CaddyAdminClient } from '../src/router/caddy/admin-client.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { startWebhookReceiver } from './support/webhook.ts';
import { forwardTcp, type Forward } from './support/tcp-forward.ts';
import { startBerth, viaRouter, eventually, sleep, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import {
  addHostVia, startTestHosts, makeOperatorKey, DOCKER_READY_IMAGE, type TestHost, type TestNetwork,
} from './support/test-hosts.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let registry: TestRegistry;
let forward: Forward;
let network: TestNetwork;
let key: ReturnType<typeof makeOperatorKey>;
let hostA: TestHost;
let hostB: TestHost;
const app = uniqueName('mh');
const hostname = `${app}.localhost`;

interface Ps { name: string; state: string; host: string; hostName: string; hostPort: number }

before(async () => {
  ({ network, key, hosts: [hostA, hostB] } = await startTestHosts('berth-mh', [DOCKER_READY_IMAGE, DOCKER_READY_IMAGE]));
  registry = await startRegistry();
  const [, registryPort] = registry.address.split(':');
  // The hosts pull from the registry at this machine's address on their network.
  forward = await forwardTcp(network.gateway, { host: '127.0.0.1', port: Number(registryPort) });
  caddy = await startCaddy();
  berth = await startBerth(caddy, {
    BERTH_REGISTRY: registry.address, BERTH_REGISTRY_ADVERTISE: forward.address,
    BERTH_WEBHOOK_ALLOW: '127.0.0.0/8', // the alert webhook receiver is on loopback
  });
  // What a build would have done: the release image is in Berth's registry.
  const ref = `${registry.address}/${app}:v1`;
  execFileSync('docker', ['tag', TEST_IMAGE, ref]);
  execFileSync('docker', ['push', ref], { stdio: 'ignore' });
});

after(async () => {
  for (const load of loads) await load.stop(); // a failed assertion leaves its load running
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  await network?.remove();
  await forward?.close();
  await registry?.stop();
  key?.dispose();
  try { execFileSync('docker', ['rmi', `${registry.address}/${app}:v1`], { stdio: 'ignore' }); } catch { /* already gone */ }
});

const ps = () => berth.ok<Ps[]>('GET', `/apps/${app}/ps`);

/** The upstreams of the app's route as Caddy has them now. */
async function routeDials(): Promise<string[]> {
  const route = await new CaddyAdminClient(caddy.adminUrl).get<{ handle?: { handler: string; upstreams?: { dial: string }[] }[] }>(`/id/berth-app-${app}`);
  return route.handle?.find((h) => h.handler === 'reverse_proxy')?.upstreams?.map((u) => u.dial) ?? [];
}

/**
 * A request through the router every 100 ms until stopped, each on its own (one that hangs on a dead host does
 * not hold back the next, as it would not for real clients); records when every failed one was sent and failed.
 */
type Load = { failures: { sent: number; at: number; why: string }[]; total: () => number; stop: () => Promise<void> };
const loads = new Set<Load>();

function keepRequesting(): Load {
  const failures: { sent: number; at: number; why: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  let total = 0;
  let running = true;
  const one = async () => {
    const sent = Date.now();
    try {
      const res = await viaRouter(caddy.httpPort, hostname);
      if (res.status !== 200) failures.push({ sent, at: Date.now(), why: `HTTP ${res.status}` });
    } catch (err) {
      failures.push({ sent, at: Date.now(), why: (err as Error).message });
    }
  };
  const loop = (async () => {
    while (running) {
      if (inFlight.size < 200) { // bounded: 200 requests hanging for their 10 s timeout at most
        total++;
        const request = one().finally(() => inFlight.delete(request));
        inFlight.add(request);
      }
      await sleep(100);
    }
    await Promise.all(inFlight);
  })();
  const load: Load = { failures, total: () => total, stop: async () => { running = false; await loop; loads.delete(load); } };
  loads.add(load);
  return load;
}

/** "3 × request timed out, sent +0.1–0.4 s, failed +10.1–10.4 s; ..." per reason. */
function describeFailures(failures: { sent: number; at: number; why: string }[], since: number): string {
  const s = (ms: number) => ((ms - since) / 1000).toFixed(1);
  return [...new Set(failures.map((f) => f.why))].map((why) => {
    const some = failures.filter((f) => f.why === why);
    const sent = some.map((f) => f.sent);
    const at = some.map((f) => f.at);
    return `${some.length} × ${why}, sent +${s(Math.min(...sent))}–${s(Math.max(...sent))} s, failed +${s(Math.min(...at))}–${s(Math.max(...at))} s`;
  }).join('; ');
}

test('two hosts join with hosts:add (Docker already installed: the installer configures and starts it)', { timeout: 300_000 }, async () => {
  const results = await Promise.all([hostA, hostB].map((h, i) =>
    addHostVia(berth, { address: `root@${h.address}`, name: `node-${i + 1}`, sshKey: key.privateKey })));
  for (const result of results) {
    assert.ok(result.summary?.succeeded, result.raw);
    assert.equal(result.lines.find((l) => l.task.startsWith('packages installed'))?.status, 'ok');
  }
  const hosts = await berth.ok('GET', '/hosts');
  assert.deepEqual(hosts.map((h: { name: string; status: string }) => `${h.name}:${h.status}`), ['local:up', 'node-1:up', 'node-2:up']);
});

test('an app\'s instances spread over every host, each routed at HOST_ADDRESS:PORT', { timeout: 300_000 }, async () => {
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: `${registry.address}/${app}:v1` });
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 3 }] });
  const instances = await ps();
  assert.equal(instances.length, 3);
  assert.deepEqual(new Set(instances.map((i) => i.host)), new Set(['127.0.0.1', hostA.address, hostB.address]),
    `one instance per host, got ${JSON.stringify(instances)}`);
  assert.deepEqual(new Set(instances.map((i) => i.hostName)), new Set(['local', 'node-1', 'node-2']));
  const served = new Set<string>();
  for (let i = 0; i < 12; i++) served.add((await viaRouter(caddy.httpPort, hostname)).body.match(/web\.\d/)?.[0] ?? '?');
  assert.deepEqual([...served].sort(), ['web.1', 'web.2', 'web.3']);
});

test('hosts:drain moves the instances off a host without one failed request', { timeout: 300_000 }, async () => {
  const load = keepRequesting();
  await sleep(500);
  const started = Date.now();
  const drained = await berth.ok('POST', '/hosts/node-1/drain');
  const tookMs = Date.now() - started;
  await sleep(1000);
  await load.stop();
  assert.equal(drained.moved, 1);
  const instances = await ps();
  assert.equal(instances.length, 3);
  assert.ok(!instances.some((i) => i.host === hostA.address), JSON.stringify(instances));
  assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.total()} requests failed during the drain`);
  console.log(`# drain: ${(tookMs / 1000).toFixed(1)} s, ${load.total()} requests, 0 failed`);
  const hosts = await berth.ok('GET', '/hosts');
  assert.equal(hosts.find((h: { name: string }) => h.name === 'node-1').draining, true);
  await berth.ok('DELETE', '/hosts/node-1/drain');
});

test('a host cut off the network: routed around within 30 s, capacity back within 60 s', { timeout: 300_000 }, async () => {
  const onB = (await ps()).filter((i) => i.host === hostB.address);
  assert.ok(onB.length >= 1, 'node-2 runs an instance');
  // A host_down alert on the app, sent Slack-style to a webhook on loopback.
  const hook = await startWebhookReceiver();
  await berth.ok('POST', `/apps/${app}/alerts`, { rule: 'host_down', webhook: hook.url, format: 'slack' });
  const load = keepRequesting();
  await sleep(500);
  const cutAt = Date.now();
  await network.disconnect(hostB);
  // The moment it is marked down, the route stops naming it: long before a replacement passes its health check.
  const markedDown = await eventually('node-2 marked down', async () => /host node-2 is down/.test(berth.output) && Date.now(), 60_000);
  let dials: string[] = [];
  const routedAround = await eventually('the route without node-2', async () => {
    dials = await routeDials();
    return !dials.some((d) => d.startsWith(`${hostB.address}:`)) && Date.now();
  }, 10_000);
  assert.ok(routedAround - markedDown < 1500, `the route dropped node-2 ${routedAround - markedDown} ms after it was marked down`);
  assert.equal(dials.length, 2, `the surviving upstreams stay: ${dials.join(', ')}`);
  const restored = await eventually('3 running instances, none on node-2', async () => {
    const now = await ps();
    return now.length === 3 && now.every((i) => i.state === 'running' && i.host !== hostB.address) && Date.now();
  }, 90_000);
  await sleep(3000);
  await load.stop();
  const lastFailure = load.failures.at(-1)?.at;
  const failingForMs = lastFailure ? lastFailure - cutAt : 0;
  const capacityMs = restored - cutAt;
  console.log(`# host failure: ${load.failures.length} of ${load.total()} requests failed, the last ${(failingForMs / 1000).toFixed(1)} s ` +
    `after the cut; marked down after ${((markedDown - cutAt) / 1000).toFixed(1)} s, routed around ${routedAround - markedDown} ms later; ` +
    `capacity restored after ${(capacityMs / 1000).toFixed(1)} s` +
    (load.failures.length ? ` (${describeFailures(load.failures, cutAt)})` : ''));
  const afterReroute = load.failures.filter((f) => f.sent > routedAround);
  assert.deepEqual(afterReroute, [], 'no request sent after the route dropped node-2 failed');
  assert.ok(failingForMs < 30_000, `requests still failed ${failingForMs} ms after the cut: ${JSON.stringify(load.failures.slice(-3))}`);
  assert.ok(capacityMs < 60_000, `capacity came back only after ${capacityMs} ms`);
  const hosts = await berth.ok('GET', '/hosts');
  assert.equal(hosts.find((h: { name: string }) => h.name === 'node-2').status, 'down');
  assert.match(berth.output, /host node-2 is down/);
  const notice = await eventually('the host_down alert', async () => hook.bodies.find((n) => /node-2/.test(n)), 30_000);
  assert.match(JSON.parse(notice).text, /FIRING: `host_down` \(host\(s\) down: node-2\)/);
  assert.equal(hook.bodies.filter((n) => /FIRING/.test(n)).length, 1, 'one notification, not a storm');
  await hook.close();
});

test('hosts:remove drains a host and forgets it; unknown hosts are a JSON 404', { timeout: 120_000 }, async () => {
  const removed = await berth.ok('DELETE', '/hosts/node-1');
  assert.equal(removed.deleted, 'node-1');
  const hosts = await berth.ok('GET', '/hosts');
  assert.equal(hosts.find((h: { name: string }) => h.name === 'node-1'), undefined);
  assert.equal((await ps()).length, 3);
  const again = await berth.api('DELETE', '/hosts/node-1');
  assert.equal(again.status, 404);
  assert.equal(again.body.error, 'host_not_found');
});
