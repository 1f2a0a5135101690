// Network holders (src/runtime/docker/holders.ts): a push starts them while it builds, and its new containers
// join their network namespaces instead of setting one up. Against the real engine: the runtime on its own, then a
// real push through a server. The dockerd restart at the end runs only with BERTH_TEST_RESTART_DOCKERD=1 (.ci/run).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { DockerRuntime } from '../src/runtime/docker/index.ts';
import { createOptions, holderOptions, inHolder, oneOffOptions } from '../src/runtime/docker/container-config.ts';
import type { Instance, InstanceSpec } from '../src/runtime/types.ts';
import { freePort } from './support/ports.ts';
import { testNetworkSubnet } from './support/network.ts';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { fixtureRepo, gitPush } from './support/git-push.ts';
import { gitEnv } from './support/git-env.ts';
import { eventually, startBerth, uniqueName, viaRouter, type BerthServer } from './support/berth.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SOCKET = '/var/run/docker.sock';
const IMAGE = 'berth-test/hello:latest';
const HOLDER_IMAGE = 'berth/debian:bookworm';
const RESTART_DOCKERD = process.env.BERTH_TEST_RESTART_DOCKERD === '1';
const docker = new Docker({ socketPath: SOCKET });
const owner = `holders-${randomBytes(3).toString('hex')}`;
const subnet = testNetworkSubnet();
const runtime = new DockerRuntime({ socketPath: SOCKET, owner, networkSubnet: subnet, holderImage: HOLDER_IMAGE });
const runtimes = [runtime];
/** Another runtime of the same installation (as after a restart), with its own settings. */
function anotherRuntime(overrides: Partial<ConstructorParameters<typeof DockerRuntime>[0]> = {}): DockerRuntime {
  const made = new DockerRuntime({ socketPath: SOCKET, owner, networkSubnet: subnet, holderImage: HOLDER_IMAGE, ...overrides });
  runtimes.push(made);
  return made;
}
const apps = new Set<string>();

function newApp(): string {
  const app = `nh-${randomBytes(4).toString('hex')}`;
  apps.add(app);
  return app;
}

async function webSpec(app: string, overrides: Partial<InstanceSpec> = {}): Promise<InstanceSpec> {
  return {
    app, release: 1, process: 'web', index: 1, generation: 0, image: IMAGE, command: null, containerPort: 5000,
    hostPort: await freePort(), memoryMB: null, cpus: null,
    env: { PORT: '5000', DYNO: `web.${overrides.index ?? 1}`, BERTH_RELEASE: 'v1' }, ...overrides,
  };
}

/** This installation's holders of the app, as the engine lists them. */
async function holdersOf(app: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: ['berth.netholder=1', `berth.owner=${owner}`, `berth.app=${app}`] } });
}

async function body(host: string, port: number, route = '/'): Promise<string | undefined> {
  try {
    return await (await fetch(`http://${host}:${port}${route}`, { signal: AbortSignal.timeout(2000) })).text();
  } catch {
    return undefined;
  }
}

/** Connects from inside a container; prints connected, timeout or the error code (3 s at most). */
function probeFrom(containerId: string, host: string, port: number): string {
  const script = `const s=require('net').connect(${port},'${host}');s.setTimeout(3000);` +
    `s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('timeout',()=>{console.log('timeout');process.exit(0)});` +
    `s.on('error',(e)=>{console.log(e.code);process.exit(0)})`;
  return execFileSync('docker', ['exec', containerId, 'node', '-e', script], { encoding: 'utf8', timeout: 30_000 }).trim();
}

after(async () => {
  for (const app of apps) {
    for (const instance of await runtime.list(app)) await runtime.remove(instance.id, 0);
    for (const made of runtimes) await made.dropPrepared(app);
  }
  await anotherRuntime().removeLeftoverOneOffs(); // holders nobody joined, and the networks they kept
});

describe('the container options (pure)', () => {
  const spec: InstanceSpec = {
    app: 'shop', release: 3, process: 'web', index: 1, generation: 0, image: 'img', command: null, env: { A: '1' },
    containerPort: 5000, hostPort: 21000, memoryMB: 256, cpus: null,
  };

  test('a holder: sleep as nobody, read-only, no capabilities, tiny limits, at its address; never an instance or a one-off', () => {
    const holder = holderOptions('shop', 'inst', 'berth/debian:bookworm', { network: 'berth-inst-shop', ip: '10.9.0.7' });
    assert.match(holder.name!, /^berth-shop-netns-[0-9a-z]+$/);
    assert.deepEqual([holder.Entrypoint, holder.Cmd, holder.User], [['sleep'], ['infinity'], '65534:65534']);
    assert.deepEqual(holder.Labels, { 'berth.netholder': '1', 'berth.owner': 'inst', 'berth.app': 'shop', 'berth.ip': '10.9.0.7' });
    const host = holder.HostConfig!;
    assert.deepEqual([host.ReadonlyRootfs, host.CapDrop, host.CapAdd, host.SecurityOpt], [true, ['ALL'], undefined, ['no-new-privileges']]);
    assert.ok(host.Memory! <= 32 * 1024 * 1024 && host.PidsLimit! <= 16);
    assert.equal(host.NetworkMode, 'berth-inst-shop');
    assert.deepEqual(holder.NetworkingConfig, { EndpointsConfig: { 'berth-inst-shop': { IPAMConfig: { IPv4Address: '10.9.0.7' } } } });
  });

  test('an instance in a holder: its namespace, its address, no published port; everything else as placed on its own', () => {
    const own = createOptions(spec, 'inst', '127.0.0.1', null);
    const joined = inHolder(own, { id: 'abc123', ip: '10.9.0.7' }, 5000);
    assert.equal(joined.HostConfig!.NetworkMode, 'container:abc123');
    assert.equal(joined.HostConfig!.PortBindings, undefined);
    assert.equal(joined.ExposedPorts, undefined);
    assert.equal(joined.NetworkingConfig, undefined);
    assert.equal(joined.Labels!['berth.port'], undefined, 'no host port: it is reached at its address');
    assert.deepEqual([joined.Labels!['berth.ip'], joined.Labels!['berth.netns'], joined.Labels!['berth.container-port']], ['10.9.0.7', 'abc123', '5000']);
    const { HostConfig: ownHost, Labels: _l, ExposedPorts: _e, ...ownRest } = own;
    const { HostConfig: joinedHost, Labels: _jl, ...joinedRest } = joined;
    assert.deepEqual(joinedRest, ownRest, 'name, image, command and env unchanged');
    const { PortBindings: _p, ...ownHostRest } = ownHost!;
    assert.deepEqual({ ...joinedHost, NetworkMode: undefined }, { ...ownHostRest, NetworkMode: undefined }, 'the same confinement and limits');
    const oneOff = inHolder(oneOffOptions({ app: 'shop', release: 3, image: 'img', command: ['true'], env: {}, memoryMB: null, timeoutSec: 5 }, 'inst'), { id: 'def', ip: '10.9.0.8' }, null);
    assert.equal(oneOff.Labels!['berth.container-port'], undefined, 'a one-off is not routed');
    assert.equal(oneOff.Labels!['berth.oneoff'], '1');
  });
});

describe('the runtime', () => {
  let app = '';
  let web: Instance;
  let holderIds: string[] = [];
  let prepared: ReturnType<DockerRuntime['prepareInstances']>;

  test('prepared holders run sleep as nobody, read-only, without capabilities, on the app network; none is an instance', async () => {
    app = newApp();
    prepared = runtime.prepareInstances(app, 2);
    await prepared.ready;
    const holders = await holdersOf(app);
    assert.equal(holders.length, 2);
    holderIds = holders.map((h) => h.Id);
    for (const holder of holders) {
      const info = await docker.getContainer(holder.Id).inspect();
      assert.equal(info.State.Status, 'running');
      assert.equal(info.Config.User, '65534:65534');
      assert.deepEqual([...(info.Config.Entrypoint as string[]), ...info.Config.Cmd], ['sleep', 'infinity']);
      assert.equal(info.HostConfig.ReadonlyRootfs, true);
      assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
      assert.equal(info.HostConfig.CapAdd, null);
      assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges']);
      assert.ok(info.HostConfig.Memory! > 0 && info.HostConfig.Memory! <= 32 * 1024 * 1024);
      assert.deepEqual(Object.keys(info.NetworkSettings.Networks), [runtime.appNetworkName(app)]);
      assert.equal(info.NetworkSettings.Networks[runtime.appNetworkName(app)!].IPAddress, info.Config.Labels['berth.ip']);
    }
    assert.deepEqual(await runtime.list(app), [], 'a holder is no instance');
  });

  test('a web instance starts in a holder\'s namespace, at its address, publishing no port, and answers there', async () => {
    web = await runtime.start(await webSpec(app));
    const info = await docker.getContainer(web.id).inspect();
    const holder = info.HostConfig.NetworkMode!.replace(/^container:/, '');
    assert.ok(holderIds.includes(holder), `joined a prepared holder: ${info.HostConfig.NetworkMode}`);
    const holderIp = (await docker.getContainer(holder).inspect()).Config.Labels['berth.ip'];
    assert.deepEqual(info.HostConfig.PortBindings ?? {}, {});
    assert.equal(info.Config.Labels['berth.port'], undefined);
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL'], 'hardened as any instance');
    assert.deepEqual({ host: web.host, hostPort: web.hostPort, privateAddress: web.privateAddress },
      { host: holderIp, hostPort: 5000, privateAddress: { host: holderIp, port: 5000 } });
    assert.match(await eventually('an answer at the holder\'s address', () => body(web.host, 5000)), /hello from v1 web\.1/);
    const [listed] = await runtime.list(app);
    assert.equal(listed.state, 'running');
    assert.equal(listed.host, holderIp);
  });

  test('the release command joins the other holder, reaches the web instance, and its holder goes with it', async () => {
    const lines: string[] = [];
    const code = await runtime.runOnce({
      app, release: 1, image: IMAGE, memoryMB: null, timeoutSec: 30, env: {},
      command: ['node', '-e', `fetch('http://${web.host}:5000/').then((r) => r.text()).then((t) => console.log('got', t.trim()))`],
    }, (line) => lines.push(line));
    assert.equal(code, 0, lines.join('\n'));
    assert.match(lines.join('\n'), /got hello from v1 web\.1/);
    const left = await holdersOf(app);
    assert.equal(left.length, 1, 'only the web instance\'s holder is left');
    assert.equal(`container:${left[0].Id}`, (await docker.getContainer(web.id).inspect()).HostConfig.NetworkMode);
  });

  test('end() readies as many again for the next deploy', async () => {
    await prepared.end();
    const holders = await holdersOf(app);
    assert.equal(holders.length, 3, 'the web instance\'s and two ready ones');
    assert.ok(holders.every((h) => h.State === 'running'));
  });

  test('a crash restarts the instance in the same namespace: same address, answering again', async () => {
    const before = (await runtime.list(app))[0];
    await body(web.host, 5000, '/crash');
    const after = await eventually('the restart', async () => {
      const [now] = await runtime.list(app);
      return now.restartCount > before.restartCount && now.state === 'running' && now;
    });
    assert.equal(after.host, before.host);
    assert.match(await eventually('an answer again', () => body(after.host, 5000)), /hello from v1 web\.1/);
  });

  test('another app\'s container cannot reach an instance in a holder', async () => {
    const other = newApp();
    const stranger = await runtime.start(await webSpec(other));
    try {
      await eventually('the other app up', () => body(stranger.host === '127.0.0.1' ? stranger.privateAddress!.host : stranger.host, 5000));
      assert.equal(probeFrom(web.id, web.host, 5000), 'connected', 'the probe works from inside');
      const result = probeFrom(stranger.id, web.host, 5000);
      assert.ok(['timeout', 'EHOSTUNREACH', 'ECONNREFUSED', 'ENETUNREACH'].includes(result), `the other app reached it: ${result}`);
    } finally {
      await runtime.remove(stranger.id, 0);
    }
  });

  test('an instance whose holder stopped is listed as exited (it has no network left)', async () => {
    const holder = await docker.getContainer((await docker.getContainer(web.id).inspect()).HostConfig.NetworkMode!.replace('container:', '')).inspect();
    await docker.getContainer(holder.Id).stop({ t: 0 });
    const [listed] = await runtime.list(app);
    assert.equal(listed.state, 'exited');
    await docker.getContainer(holder.Id).start();
    await docker.getContainer(web.id).restart({ t: 0 }); // joins the namespace the holder set up again
    assert.match(await eventually('an answer after both restarted', () => body(web.host, 5000)), /hello/);
    assert.equal((await runtime.list(app))[0].state, 'running');
  });

  test('an instance that is down while its holder runs is started again (dockerd starts both at once; the joiner can lose)', async () => {
    await docker.getContainer(web.id).stop({ t: 0 });
    assert.equal((await docker.getContainer(web.id).inspect()).State.Running, false);
    const revived = await runtime.reviveJoined();
    assert.deepEqual(revived, [(await docker.getContainer(web.id).inspect()).Name.replace('/', '')]);
    assert.match(await eventually('an answer again', () => body(web.host, 5000)), /hello/);
    assert.deepEqual(await runtime.reviveJoined(), [], 'a running one is left alone');
    // One just created in a holder is a start in progress (CI: revive started it first, and that start failed).
    const info = await docker.getContainer(web.id).inspect();
    const starting = await docker.createContainer({ Image: info.Config.Image, Labels: info.Config.Labels, Cmd: ['true'], HostConfig: { NetworkMode: info.HostConfig.NetworkMode } });
    try {
      assert.deepEqual(await runtime.reviveJoined(), [], 'a container being started is left to its start');
      assert.equal((await starting.inspect()).State.Status, 'created');
    } finally {
      await starting.remove({ force: true });
    }
  });

  test('removing the instance removes its holder; dropPrepared the ready ones, and the app network goes with the last', async () => {
    const own = (await docker.getContainer(web.id).inspect()).HostConfig.NetworkMode!.replace('container:', '');
    await runtime.remove(web.id, 0);
    const ready = await holdersOf(app);
    assert.equal(ready.length, 2);
    assert.ok(!ready.some((h) => h.Id === own));
    await runtime.dropPrepared(app);
    assert.deepEqual(await holdersOf(app), []);
    assert.deepEqual(await docker.listNetworks({ filters: { name: [runtime.appNetworkName(app)!] } }), []);
  });

  test('ready holders go once the app had no push for the idle time; a start after that sets its own network up', async () => {
    const other = newApp();
    const quick = anotherRuntime({ holderIdleMs: 1500 });
    const prepared = quick.prepareInstances(other, 2);
    await prepared.ready;
    await prepared.end();
    assert.equal((await holdersOf(other)).length, 2);
    await eventually('the idle holders removed', async () => (await holdersOf(other)).length === 0, 10_000);
    assert.deepEqual(await docker.listNetworks({ filters: { name: [quick.appNetworkName(other)!] } }), []);
    const instance = await quick.start(await webSpec(other));
    const info = await docker.getContainer(instance.id).inspect();
    assert.deepEqual(Object.keys(info.NetworkSettings.Networks), [quick.appNetworkName(other)], 'placed on its own');
    assert.equal(instance.host, '127.0.0.1');
    await quick.remove(instance.id, 0);
  });

  test('a ready holder removed behind Berth\'s back: the start places its container on its own instead', async () => {
    const other = newApp();
    const prepared = runtime.prepareInstances(other, 1);
    await prepared.ready;
    const [holder] = await holdersOf(other);
    await docker.getContainer(holder.Id).remove({ force: true });
    const instance = await runtime.start(await webSpec(other));
    const info = await docker.getContainer(instance.id).inspect();
    assert.deepEqual(Object.keys(info.NetworkSettings.Networks), [runtime.appNetworkName(other)], 'placed on its own');
    assert.match(await eventually('an answer on its published port', () => body('127.0.0.1', instance.hostPort!)), /hello/);
    await runtime.remove(instance.id, 0);
    await runtime.dropPrepared(other);
  });

  test('holders a stopped Berth left unjoined are removed at start; joined ones stay', async () => {
    const other = newApp();
    const crashed = anotherRuntime();
    const prepared = crashed.prepareInstances(other, 2);
    await prepared.ready;
    const joined = await crashed.start(await webSpec(other));
    // The next Berth's startup: a fresh runtime, as after a restart.
    const next = anotherRuntime();
    const removed = await next.removeLeftoverOneOffs();
    assert.equal(removed.filter((name) => name.startsWith(`berth-${other}-netns-`)).length, 1, removed.join(', '));
    const left = await holdersOf(other);
    assert.equal(left.length, 1);
    assert.equal((await docker.getContainer(joined.id).inspect()).HostConfig.NetworkMode, `container:${left[0].Id}`);
    await next.remove(joined.id, 0);
    assert.deepEqual(await holdersOf(other), []);
  });

  test('without the holder image nothing is prepared, and instances set their network up themselves', async () => {
    const other = newApp();
    const plain = anotherRuntime({ holderImage: 'berth-test/no-such-image:none' });
    const prepared = plain.prepareInstances(other, 1);
    await prepared.ready;
    assert.deepEqual(await holdersOf(other), []);
    const instance = await plain.start(await webSpec(other));
    assert.equal(instance.host, '127.0.0.1');
    assert.match(await eventually('an answer on its published port', () => body('127.0.0.1', instance.hostPort!)), /hello/);
    await prepared.end();
    await plain.remove(instance.id, 0);
  });
});

describe('a push', () => {
  let caddy: Awaited<ReturnType<typeof startCaddy>>;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let berth: BerthServer;
  let work = '';
  const app = uniqueName('holders');
  const get = () => viaRouter(caddy.httpPort, `${app}.localhost`);
  const installation = () => fs.readFileSync(path.join(berth.dataDir, 'installation-id'), 'utf8').trim();
  const holders = () => docker.listContainers({ all: true, filters: { label: ['berth.netholder=1', `berth.owner=${installation()}`, `berth.app=${app}`] } });
  const ps = () => berth.ok<{ name: string; containerId: string; host: string; hostPort: number; state: string }[]>('GET', `/apps/${app}/ps`);

  before(async () => {
    caddy = await startCaddy();
    registry = await startRegistry();
    berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address, BERTH_STACK_GENERIC: HOLDER_IMAGE });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-holders-'));
    await berth.ok('POST', '/apps', { name: app });
  });

  after(async () => {
    await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
    await berth?.kill('SIGTERM');
    await registry?.stop();
    await caddy?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('its web instance and release command joined holders; two are kept ready for the next push; ps lists the address', async () => {
    const repo = fixtureRepo(path.join(ROOT, 'test/fixtures/push/node-app'), path.join(work, 'app'), `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`);
    // The engine's creates during the push, as they happen (its event history keeps only the last 256).
    const watcher = spawn('docker', ['events', '--filter', `label=berth.owner=${installation()}`, '--filter', 'event=create',
      '--format', '{{.Actor.Attributes.name}} {{index .Actor.Attributes "berth.netns"}}']);
    let events = '';
    watcher.stdout.on('data', (d) => { events += d; });
    const pushed = await gitPush(repo, 'paas', 'main').finally(() => watcher.kill());
    assert.equal(pushed.code, 0, pushed.output);
    assert.match(pushed.output, /running migrations for v1/);
    assert.equal((await get()).status, 200);
    const web = (await ps()).find((i) => i.name === 'web.1')!;
    const info = await docker.getContainer(web.containerId).inspect();
    assert.match(info.HostConfig.NetworkMode!, /^container:/);
    assert.equal(web.host, info.Config.Labels['berth.ip']);
    assert.match(events, /oneoff-\S+ [0-9a-f]{64}/, `the release command joined a holder:\n${events}`);
    assert.match(events, new RegExp(`-web-1-g\\d+ ${info.HostConfig.NetworkMode!.replace('container:', '')}`), events);
    // The worker started after the release command, on its own. One web instance: one holder for it, one for the release command.
    await eventually('the web instance\'s holder and two ready ones', async () => (await holders()).filter((h) => h.State === 'running').length === 3);
  });

  test('the next push\'s web instance joins a holder that was ready before it began; the old one goes with the old instance', async () => {
    const before = (await ps()).find((i) => i.name === 'web.1')!;
    const oldHolder = (await docker.getContainer(before.containerId).inspect()).HostConfig.NetworkMode!.replace('container:', '');
    const ready = (await holders()).map((h) => h.Id).filter((id) => id !== oldHolder);
    const repo = path.join(work, 'app');
    fs.appendFileSync(path.join(repo, 'server.js'), '\n// v2\n');
    execFileSync('git', ['commit', '-qam', 'v2'], { cwd: repo, env: gitEnv() });
    const pushed = await gitPush(repo, 'paas', 'main');
    assert.equal(pushed.code, 0, pushed.output);
    const web = (await ps()).find((i) => i.name === 'web.1' && i.containerId !== before.containerId)!;
    const joined = (await docker.getContainer(web.containerId).inspect()).HostConfig.NetworkMode!.replace('container:', '');
    assert.ok(ready.includes(joined), `joined ${joined.slice(0, 12)}, ready were ${ready.map((id) => id.slice(0, 12)).join(', ')}`);
    await eventually('the old holder gone after the drain, two ready again', async () => {
      const ids = (await holders()).map((h) => h.Id);
      return ids.length === 3 && !ids.includes(oldHolder);
    }, 30_000);
    assert.equal((await get()).status, 200);
  });

  test('after dockerd restarts, the instance in its holder answers again', { skip: RESTART_DOCKERD ? false : 'restarts the shared dockerd: set BERTH_TEST_RESTART_DOCKERD=1', timeout: 300_000 }, async () => {
    execFileSync('bash', ['-c', 'source scripts/lib.sh && restart_dockerd'], { cwd: ROOT, stdio: 'inherit', timeout: 240_000 });
    await eventually('the app answering through Caddy again', async () => (await get().catch(() => null))?.status === 200, 120_000);
    const web = (await ps()).find((i) => i.name === 'web.1')!;
    assert.equal(web.state, 'running');
    assert.match((await docker.getContainer(web.containerId).inspect()).HostConfig.NetworkMode!, /^container:/);
  });

  test('destroying the app removes every holder and its network', async () => {
    const network = `berth-${installation()}-${app}`;
    await berth.ok('DELETE', `/apps/${app}`, { confirm: app });
    assert.deepEqual(await holders(), []);
    assert.deepEqual(await docker.listNetworks({ filters: { name: [network] } }), []);
  });
});
