// Hole 7: one app's containers must not reach another app's, and no container runs with Docker's default
// privileges. Two real apps on a real server; the attacks run inside app A's container with `docker exec`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { startCaddy } from '../support/caddy.ts';
import { startBerth, viaRouter, uniqueName, TEST_IMAGE, type BerthServer } from '../support/berth.ts';
import { testNetworkSubnet } from '../support/network.ts';
import { DockerRuntime } from '../../src/runtime/docker/index.ts';
import { AppNetworks } from '../../src/runtime/docker/berth-network.ts';
import { createOptions, DEFAULT_HARDENING, KEPT_CAPABILITIES, oneOffOptions } from '../../src/runtime/docker/container-config.ts';
import { overlaps, parseCidr } from '../../src/runtime/docker/ip-pool.ts';
import type { InstanceSpec } from '../../src/runtime/types.ts';

type Caddy = Awaited<ReturnType<typeof startCaddy>>;
interface Ps { containerId: string; state: string }

const PIDS_LIMIT = 64;
let caddy: Caddy;
let berth: BerthServer;
const appA = uniqueName('iso-a');
const appB = uniqueName('iso-b');

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy, { BERTH_PIDS_LIMIT: String(PIDS_LIMIT) });
  for (const app of [appA, appB]) {
    await berth.ok('POST', '/apps', { name: app });
    await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  }
});

after(async () => {
  for (const app of [appA, appB]) await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
});

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
}

const installation = () => fs.readFileSync(path.join(berth.dataDir, 'installation-id'), 'utf8').trim();
const containerOf = async (app: string) => (await berth.ok<Ps[]>('GET', `/apps/${app}/ps`))[0].containerId;
const inspect = (id: string) => JSON.parse(docker(['inspect', id]))[0];

/** Connects from inside a container; prints connected, timeout or the error code. Bounded by a 3 s timeout. */
function probeFrom(containerId: string, host: string, port: number): string {
  const script = `const s=require('net').connect(${port},'${host}');s.setTimeout(3000);` +
    `s.on('connect',()=>{console.log('connected');process.exit(0)});` +
    `s.on('timeout',()=>{console.log('timeout');process.exit(0)});` +
    `s.on('error',(e)=>{console.log(e.code);process.exit(0)})`;
  return docker(['exec', containerId, 'node', '-e', script]).trim();
}

test('each app is on a network of its own, carved from the installation\'s range', async () => {
  const range = parseCidr(berth.env.BERTH_NETWORK_SUBNET)!;
  const subnets = [];
  for (const app of [appA, appB]) {
    const networks = Object.keys(inspect(await containerOf(app)).NetworkSettings.Networks);
    assert.deepEqual(networks, [`berth-${installation()}-${app}`], 'on its own network only, not the default bridge');
    const subnet = JSON.parse(docker(['network', 'inspect', networks[0]]))[0].IPAM.Config[0].Subnet as string;
    assert.ok(overlaps(parseCidr(subnet)!, range) && parseCidr(subnet)!.size < range.size, `${subnet} inside ${berth.env.BERTH_NETWORK_SUBNET}`);
    subnets.push(subnet);
  }
  assert.notEqual(subnets[0], subnets[1]);
});

test('from inside app A, app B\'s instance cannot be reached, while Caddy routes to both', async () => {
  const a = inspect(await containerOf(appA));
  const b = inspect(await containerOf(appB));
  const ipOf = (info: any) => (Object.values(info.NetworkSettings.Networks)[0] as { IPAddress: string }).IPAddress;
  // The probe works: A reaches itself.
  assert.equal(probeFrom(a.Id, ipOf(a), 5000), 'connected');
  const result = probeFrom(a.Id, ipOf(b), 5000);
  assert.ok(['timeout', 'EHOSTUNREACH', 'ECONNREFUSED', 'ENETUNREACH'].includes(result), `A reached B: ${result}`);
  for (const app of [appA, appB]) {
    assert.match((await viaRouter(caddy.httpPort, `${app}.localhost`)).body, /hello from v1 web\.1/);
  }
});

test('instances run without most capabilities, with no-new-privileges and a pids limit', async () => {
  const id = await containerOf(appA);
  const status = docker(['exec', id, 'cat', '/proc/self/status']);
  assert.equal(/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1], capabilityMask(KEPT_CAPABILITIES));
  assert.equal(/^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1], capabilityMask(KEPT_CAPABILITIES));
  assert.match(status, /^NoNewPrivs:\s*1$/m);
  assert.equal(inspect(id).HostConfig.PidsLimit, PIDS_LIMIT);
  // A bounded fork bomb: 100 children are asked for, the limit lets far fewer exist.
  const script = `const {spawn}=require('child_process');let failed=0;const kids=[];` +
    `for(let i=0;i<100;i++){try{const c=spawn('sleep',['5']);c.on('error',()=>failed++);kids.push(c)}catch{failed++}}` +
    `setTimeout(()=>{console.log(JSON.stringify({asked:100,failed}));for(const k of kids)k.kill()},1000)`;
  const { failed } = JSON.parse(docker(['exec', id, 'node', '-e', script]).trim());
  assert.ok(failed > 100 - PIDS_LIMIT, `only ${failed} of 100 forks failed under a limit of ${PIDS_LIMIT}`);
  // The app itself kept running.
  assert.match((await viaRouter(caddy.httpPort, `${appA}.localhost`)).body, /hello from v1 web\.1/);
});

test('release-phase containers get the same confinement and a default memory limit, and leave no network behind', async () => {
  const owner = `iso-oneoff-${process.pid}`;
  const runtime = new DockerRuntime({ socketPath: '/var/run/docker.sock', owner, networkSubnet: testNetworkSubnet() });
  const lines: string[] = [];
  const code = await runtime.runOnce({
    app: 'job', release: 1, image: TEST_IMAGE, env: {}, memoryMB: null, timeoutSec: 30,
    command: ['/bin/sh', '-c', 'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ls /sys/class/net'],
  }, (line) => lines.push(line));
  assert.equal(code, 0, lines.join('\n'));
  assert.ok(lines.includes(`CapEff:\t${capabilityMask(KEPT_CAPABILITIES)}`), lines.join('\n'));
  assert.ok(lines.includes('NoNewPrivs:\t1'));
  assert.ok(lines.includes(String(DEFAULT_HARDENING.oneOffMemoryMB * 1024 * 1024)), lines.join('\n'));
  // Its network went with it: nothing of the app is left.
  assert.throws(() => docker(['network', 'inspect', `berth-${owner}-job`]));
});

test('the container options carry the confinement (pure)', () => {
  const spec: InstanceSpec = {
    app: 'shop', release: 3, process: 'web', index: 1, generation: 0, image: 'img', command: null, env: { A: '1' },
    containerPort: 5000, hostPort: 21000, memoryMB: null, cpus: null,
  };
  const hardening = { pidsLimit: 99, oneOffMemoryMB: 64 };
  const instance = createOptions(spec, 'inst', '127.0.0.1', { network: 'berth-inst-shop', ip: '10.9.0.2' }, hardening);
  assert.deepEqual(instance.HostConfig!.CapDrop, ['ALL']);
  assert.deepEqual(instance.HostConfig!.CapAdd, KEPT_CAPABILITIES);
  assert.ok(!KEPT_CAPABILITIES.includes('NET_RAW') && !KEPT_CAPABILITIES.includes('SYS_ADMIN'));
  assert.deepEqual(instance.HostConfig!.SecurityOpt, ['no-new-privileges']);
  assert.equal(instance.HostConfig!.PidsLimit, 99);
  assert.equal(instance.HostConfig!.NetworkMode, 'berth-inst-shop');
  assert.equal(instance.Labels!['berth.ip'], '10.9.0.2');
  const worker = createOptions({ ...spec, process: 'worker', containerPort: null, hostPort: null }, 'inst', '127.0.0.1', { network: 'n', ip: '10.9.0.3' });
  assert.equal(worker.Labels!['berth.ip'], '10.9.0.3', 'workers hold their address too');
  assert.equal(worker.Labels!['berth.container-port'], undefined, 'but are not routed');
  const oneOff = oneOffOptions({ app: 'shop', release: 3, image: 'img', command: ['true'], env: {}, memoryMB: null, timeoutSec: 5 }, 'inst', null, hardening);
  assert.equal(oneOff.HostConfig!.Memory, 64 * 1024 * 1024);
  assert.equal(oneOff.HostConfig!.PidsLimit, 99);
  assert.deepEqual(oneOff.HostConfig!.SecurityOpt, ['no-new-privileges']);
  const sized = oneOffOptions({ app: 'shop', release: 3, image: 'img', command: ['true'], env: {}, memoryMB: 1024, timeoutSec: 5 }, 'inst');
  assert.equal(sized.HostConfig!.Memory, 1024 * 1024 * 1024, 'a formation size wins over the default');
});

test('two apps\' first starts at once get two networks; making one is idempotent', async () => {
  const owner = `iso-nets-${process.pid}`;
  const engine = new Docker({ socketPath: '/var/run/docker.sock' });
  const networks = new AppNetworks({ docker: engine, owner, subnet: testNetworkSubnet(), call: (_what, request) => request(AbortSignal.timeout(30_000)) });
  try {
    const [x, y, x2] = await Promise.all([networks.ensure('x'), networks.ensure('y'), networks.ensure('x')]);
    assert.equal(x, x2);
    assert.ok(!overlaps(x.subnet, y.subnet));
    const fresh = new AppNetworks({ docker: engine, owner, subnet: 'auto', call: (_what, request) => request(AbortSignal.timeout(30_000)) });
    assert.deepEqual((await fresh.ensure('x')).subnet, x.subnet, 'an existing network is reused with its subnet');
    await networks.release('x', async () => true);
    assert.ok(docker(['network', 'inspect', `berth-${owner}-x`]), 'kept while a container of the app exists');
    await networks.release('x', async () => false);
    assert.throws(() => docker(['network', 'inspect', `berth-${owner}-x`]), 'removed with the last one');
    // y has no container (as after a crash between the last removal and the network's): the next start drops it.
    await new AppNetworks({ docker: engine, owner, subnet: 'auto', call: (_what, request) => request(AbortSignal.timeout(30_000)) }).prepare();
    assert.throws(() => docker(['network', 'inspect', `berth-${owner}-y`]), 'a left-behind network is removed at startup');
  } finally {
    for (const app of ['x', 'y']) { try { docker(['network', 'rm', `berth-${owner}-${app}`]); } catch { /* gone */ } }
  }
});

test('upgrade: the shared network of an earlier version stays while a container uses it, then goes', async () => {
  const owner = `iso-legacy-${process.pid}`;
  const range = testNetworkSubnet();
  const engine = new Docker({ socketPath: '/var/run/docker.sock' });
  const call = <T>(_what: string, request: (signal: AbortSignal) => Promise<T>) => request(AbortSignal.timeout(30_000));
  docker(['network', 'create', '--subnet', range, '--label', `berth.owner=${owner}`, '--label', 'berth.managed=1', `berth-${owner}`]);
  const old = docker(['create', '--network', `berth-${owner}`, TEST_IMAGE]).trim();
  try {
    const networks = new AppNetworks({ docker: engine, owner, subnet: range, call });
    await networks.prepare(); // no clash: the range is its own, held by the old network
    assert.ok(docker(['network', 'inspect', `berth-${owner}`]), 'kept: a container still uses it');
    const fresh = await networks.ensure('x');
    assert.ok(!overlaps(fresh.subnet, parseCidr(range)!), 'the app network takes a free range meanwhile');
    docker(['rm', '-f', old]);
    await networks.release('x', async () => false);
    assert.throws(() => docker(['network', 'inspect', `berth-${owner}`]), 'the old network went with its last container');
    assert.throws(() => docker(['network', 'inspect', `berth-${owner}-x`]));
  } finally {
    try { docker(['rm', '-f', old]); } catch { /* removed above */ }
    for (const name of [`berth-${owner}`, `berth-${owner}-x`]) { try { docker(['network', 'rm', name]); } catch { /* gone */ } }
  }
});

test('destroying an app removes its network; the other app keeps running', async () => {
  const network = `berth-${installation()}-${appB}`;
  assert.ok(docker(['network', 'inspect', network]));
  await berth.ok('DELETE', `/apps/${appB}`, { confirm: appB });
  assert.throws(() => docker(['network', 'inspect', network]), 'the network went with the app');
  assert.match((await viaRouter(caddy.httpPort, `${appA}.localhost`)).body, /hello from v1 web\.1/);
});

/** /proc/self/status prints capability sets as 16 hex digits; bit n is capability number n. */
function capabilityMask(names: string[]): string {
  const numbers: Record<string, number> = { CHOWN: 0, DAC_OVERRIDE: 1, FOWNER: 3, KILL: 5, SETGID: 6, SETUID: 7, NET_BIND_SERVICE: 10 };
  const mask = names.reduce((sum, name) => sum | (1n << BigInt(numbers[name])), 0n);
  return mask.toString(16).padStart(16, '0');
}
