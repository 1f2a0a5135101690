// Exercises the Docker runtime driver against the real local engine (loopback only).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { freePort } from './support/ports.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DockerRuntime } from '../src/runtime/docker/index.ts';
import { LogDecoder } from '../src/runtime/docker/log-decoder.ts';
import type { Instance, InstanceSpec, LogLine } from '../src/runtime/types.ts';

const SOCKET = '/var/run/docker.sock';
const IMAGE = 'berth-test/hello:latest';
const CONTAINER_PORT = 5000;
const runtime = new DockerRuntime({ socketPath: SOCKET, owner: 'runtime-test' });
const docker = new Docker({ socketPath: SOCKET });
const appsToClean = new Set<string>();
const foreignContainers: string[] = [];

function newApp(): string {
  const app = `rt-${randomBytes(4).toString('hex')}`;
  appsToClean.add(app);
  return app;
}

async function webSpec(app: string, overrides: Partial<InstanceSpec> = {}): Promise<InstanceSpec> {
  const base = { release: 1, process: 'web', index: 1, generation: 0, ...overrides };
  const hostPort = overrides.hostPort ?? (await freePort());
  return {
    app, image: IMAGE, command: null, containerPort: CONTAINER_PORT, hostPort, memoryMB: null, cpus: null,
    ...base,
    env: {
      PORT: String(CONTAINER_PORT), DYNO: `${base.process}.${base.index}`, BERTH_RELEASE: `v${base.release}`,
      GREETING: 'hi', ...overrides.env,
    },
  };
}

/**
 * Starts a web instance on a free port. A port found free can be grabbed by someone else (another
 * test, an outgoing connection) before the engine binds it: then try another one.
 */
async function startWeb(app: string, overrides: Partial<InstanceSpec> = {}): Promise<{ spec: InstanceSpec; instance: Instance }> {
  for (let attempt = 1; ; attempt++) {
    const spec = await webSpec(app, overrides);
    try {
      return { spec, instance: await runtime.start(spec) };
    } catch (err) {
      if (attempt === 5 || !/address already in use|port is already allocated/.test(String(err))) throw err;
    }
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function get(port: number, path = '/'): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    return await res.text();
  } catch {
    return null;
  }
}

/** Polls until the app answers on its port; returns the body. */
function answer(port: number, path = '/'): Promise<string> {
  return waitFor(`an answer on 127.0.0.1:${port}${path}`, () => get(port, path));
}

async function collect(iterable: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for await (const line of iterable) lines.push(line);
  return lines;
}

after(async () => {
  const leftovers = (await Promise.all([...appsToClean].map((app) => runtime.list(app)))).flat();
  await Promise.all(leftovers.map((instance) => runtime.remove(instance.id, 0)));
  await Promise.all(foreignContainers.map((id) => docker.getContainer(id).remove({ force: true }).catch(() => {})));
});

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('log decoding', () => {
  const identity = { app: 'a', process: 'web', index: 3 };

  test('frames and lines cut at every byte are reassembled, per stream', () => {
    const bytes = Buffer.concat([
      frame(1, '2024-05-01T10:00:00.5Z héllo wörld\n'),
      frame(2, '2024-05-01T10:00:01.123456789Z oops\r\n'),
      // A long line stored as two partial messages: one line, stamped by its first part.
      frame(1, '2024-05-01T10:00:02.000000001Z first half '),
      frame(2, '2024-05-01T10:00:02.100000000Z err tail without newline'),
      frame(1, '2024-05-01T10:00:02.000000002Z second half\n'),
    ]);
    const decoder = new LogDecoder(identity);
    const lines = [];
    for (let i = 0; i < bytes.length; i++) lines.push(...decoder.push(bytes.subarray(i, i + 1)));
    lines.push(...decoder.end());
    assert.deepEqual(lines.map((l) => [l.time, l.stream, l.line]), [
      ['2024-05-01T10:00:00.500000000Z', 'stdout', 'héllo wörld'],
      ['2024-05-01T10:00:01.123456789Z', 'stderr', 'oops'],
      ['2024-05-01T10:00:02.000000001Z', 'stdout', 'first half second half'],
      ['2024-05-01T10:00:02.100000000Z', 'stderr', 'err tail without newline'],
    ]);
    assert.deepEqual({ ...lines[0], time: '', stream: '', line: '' }, { time: '', app: 'a', process: 'web', index: 3, stream: '', line: '' });
  });

  test('stamps with an offset are converted to UTC', () => {
    const [line] = new LogDecoder(identity).push(frame(1, '2024-05-01T12:00:00.250+02:00 x\n'));
    assert.equal(line.time, '2024-05-01T10:00:00.250000000Z');
  });
});

describe('start, list and remove', () => {
  const app = newApp();
  let spec: InstanceSpec;

  test('start returns the running instance and list maps its labels', async () => {
    const { spec: startedSpec, instance: started } = await startWeb(app, { memoryMB: 64, cpus: 0.5 });
    spec = startedSpec;
    assert.equal(started.name, `berth-${app}-v1-web-1-g0`);
    assert.equal(started.state, 'running');
    const [listed, ...others] = await runtime.list(app);
    assert.equal(others.length, 0);
    assert.deepEqual(
      { ...listed, startedAt: typeof listed.startedAt },
      {
        id: started.id, name: `berth-${app}-v1-web-1-g0`, app, release: 1, process: 'web', index: 1, generation: 0,
        image: IMAGE, host: '127.0.0.1', hostPort: spec.hostPort, memoryMB: 64, cpus: 0.5,
        state: 'running', startedAt: 'string', restartCount: 0,
      },
    );
    assert.ok(!Number.isNaN(Date.parse(listed.startedAt ?? '')));
    assert.ok((await runtime.list()).some((i) => i.id === started.id), 'listing all apps includes it');
    assert.equal((await runtime.list(`${app}-other`)).length, 0);
  });

  test('the app answers on 127.0.0.1:hostPort with its env', async () => {
    assert.equal(await answer(spec.hostPort!), 'hello from v1 web.1 greeting=hi\n');
  });

  test('limits, init, restart policy, log rotation and loopback publishing are set', async () => {
    const [instance] = await runtime.list(app);
    const info = await docker.getContainer(instance.id).inspect();
    assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(info.HostConfig.NanoCpus, 500_000_000);
    assert.equal(info.HostConfig.Init, true);
    assert.equal(info.HostConfig.RestartPolicy?.Name, 'unless-stopped');
    assert.deepEqual(info.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
    assert.deepEqual(info.HostConfig.PortBindings, { '5000/tcp': [{ HostIp: '127.0.0.1', HostPort: String(spec.hostPort) }] });
    assert.equal(info.Config.Labels['berth.managed'], '1');
    assert.equal(info.Config.Labels['berth.port'], String(spec.hostPort));
  });

  test('a crashed instance is restarted by the engine on the same host port', async () => {
    const [before] = await runtime.list(app);
    assert.equal(await answer(spec.hostPort!, '/crash'), 'bye');
    const restarted = await waitFor('a restart', async () => {
      const [now] = await runtime.list(app);
      return now.restartCount > before.restartCount && now.state === 'running' && now;
    });
    assert.equal(restarted.id, before.id);
    assert.equal(restarted.hostPort, spec.hostPort);
    assert.notEqual(restarted.startedAt, before.startedAt);
    assert.equal(await answer(spec.hostPort!), 'hello from v1 web.1 greeting=hi\n');
  });

  test('starting the same name again replaces the old container', async () => {
    const [old] = await runtime.list(app);
    const replacement = await runtime.start({ ...spec, env: { ...spec.env, GREETING: 'again' } });
    assert.notEqual(replacement.id, old.id);
    const listed = await runtime.list(app);
    assert.deepEqual(listed.map((i) => i.id), [replacement.id]);
    assert.equal(await answer(spec.hostPort!), 'hello from v1 web.1 greeting=again\n');
  });

  test('remove stops and removes; removing again or an unknown id is fine', async () => {
    const [instance] = await runtime.list(app);
    const began = Date.now();
    await runtime.remove(instance.id, 10);
    assert.ok(Date.now() - began < 5000, 'init forwards SIGTERM so node stops without waiting for the timeout');
    assert.equal((await runtime.list(app)).length, 0);
    await assert.rejects(docker.getContainer(instance.id).inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
    await runtime.remove(instance.id, 10);
    await runtime.remove('berth-no-such-container', 1);
    assert.equal(await get(spec.hostPort!), null);
  });

  test('a start that the engine refuses (port taken) leaves no container behind', async () => {
    const { instance: first } = await startWeb(app, { index: 1 });
    const clash = await webSpec(app, { index: 2, hostPort: first.hostPort! });
    await assert.rejects(runtime.start(clash), /port is already allocated|address already in use/);
    assert.deepEqual((await runtime.list(app)).map((i) => i.id), [first.id]);
    await runtime.remove(first.id, 1);
  });

  test('a process with command, no port and no limits', async () => {
    const worker = await runtime.start({
      ...(await webSpec(app, { process: 'worker' })), containerPort: null, hostPort: null,
      command: ['node', '-e', 'console.log("worker up"); setInterval(() => {}, 1000)'],
    });
    assert.equal(worker.hostPort, null);
    assert.equal(worker.memoryMB, null);
    assert.equal(worker.cpus, null);
    const info = await docker.getContainer(worker.id).inspect();
    assert.deepEqual(info.Config.Cmd, ['node', '-e', 'console.log("worker up"); setInterval(() => {}, 1000)']);
    assert.equal(info.HostConfig.Memory, 0);
    assert.equal(info.HostConfig.PortBindings, null);
    await runtime.remove(worker.id, 1);
  });
});

describe('installations sharing one engine', () => {
  test("another installation's containers are neither listed nor replaced", async () => {
    const app = newApp();
    const spec = await webSpec(app);
    const foreign = await docker.createContainer({
      name: `berth-${app}-v1-web-1-g0`, Image: IMAGE,
      Labels: { 'berth.managed': '1', 'berth.owner': 'someone-else', 'berth.app': app, 'berth.release': '1', 'berth.process': 'web', 'berth.index': '1', 'berth.generation': '0' },
    });
    foreignContainers.push(foreign.id);
    assert.deepEqual(await runtime.list(app), []);
    await assert.rejects(runtime.start(spec), /is not this Berth installation's \(owner: someone-else\)/);
    await docker.getContainer(foreign.id).inspect();
    assert.deepEqual(await collect(runtime.logs(app, { tail: 10, follow: false })), []);
  });
});

describe('a wedged engine', () => {
  test('calls fail with a clear error after the request deadline instead of hanging', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-wedged-'));
    const socketPath = join(dir, 'docker.sock');
    // Accepts connections and never answers, like a deadlocked dockerd.
    const connections = new Set<Socket>();
    const silent = createServer((socket) => connections.add(socket));
    await new Promise<void>((resolve) => silent.listen(socketPath, resolve));
    try {
      const wedged = new DockerRuntime({ socketPath, owner: 'runtime-test', requestTimeoutMs: 300 });
      const began = Date.now();
      await assert.rejects(wedged.list(), /the Docker engine did not complete listing containers within/);
      await assert.rejects(wedged.remove('abc', 0), /did not complete stopping abc/);
      await assert.rejects(collect(wedged.logs('x', { tail: 5, follow: false })), /did not complete listing containers of x/);
      assert.ok(Date.now() - began < 3000);
    } finally {
      for (const socket of connections) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('images', () => {
  test('resolveImage of a local image gives its sha256 id', async () => {
    const info = await runtime.resolveImage(IMAGE);
    assert.ok(info);
    assert.match(info.id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(await runtime.resolveImage(info.id), info, 'resolving by id gives the same image');
  });

  test('resolveImage of a missing image returns null quickly', async () => {
    const began = Date.now();
    assert.equal(await runtime.resolveImage('no-such-image-xyz:1'), null);
    assert.equal(await runtime.resolveImage(`sha256:${'0'.repeat(64)}`), null);
    assert.ok(Date.now() - began < 5000, `took ${Date.now() - began} ms`);
  });

  test('start with a missing image throws a clear error and creates nothing', async () => {
    const app = newApp();
    await assert.rejects(runtime.start({ ...(await webSpec(app)), image: 'no-such-image-xyz:1' }), /image no-such-image-xyz:1 is not present/);
    assert.equal((await runtime.list(app)).length, 0);
  });
});

describe('logs', () => {
  const isNanoIso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

  test('tail merges the instances of an app by time, newest last', async () => {
    const app = newApp();
    const [{ spec: one }, { spec: two }] = await Promise.all([startWeb(app, { index: 1 }), startWeb(app, { index: 2 })]);
    for (const [spec, path] of [[one, '/a1'], [two, '/b1'], [one, '/a2'], [two, '/b2']] as const) await answer(spec.hostPort!, path);
    const requests = (lines: LogLine[], index: number) =>
      lines.filter((l) => l.index === index && l.line.startsWith('request GET /')).map((l) => l.line);

    // The engine writes each container's log asynchronously: wait until all four requests have landed.
    const all = await waitFor('the four requests in the logs', async () => {
      const lines = await collect(runtime.logs(app, { tail: 100, follow: false }));
      return requests(lines, 1).length + requests(lines, 2).length === 4 && lines;
    });
    // Each line is tagged with the instance that wrote it, and each instance's own order is kept.
    assert.deepEqual(requests(all, 1), ['request GET /a1', 'request GET /a2']);
    assert.deepEqual(requests(all, 2), ['request GET /b1', 'request GET /b2']);
    assert.equal(all.filter((l) => l.line.startsWith('listening on')).length, 2);
    for (const line of all) {
      assert.deepEqual([line.app, line.process, line.stream], [app, 'web', 'stdout']);
      assert.match(line.time, isNanoIso);
    }
    // Merged by the engine's stamps. They are taken when dockerd reads a line, not when the app
    // wrote it, so under load two instances can interleave differently than the requests did.
    assert.deepEqual(all.map((l) => l.time), all.map((l) => l.time).toSorted());

    const tail = await collect(runtime.logs(app, { tail: 4, follow: false }));
    assert.deepEqual(tail, all.slice(-4));
    assert.deepEqual(await collect(runtime.logs(`${app}-none`, { tail: 10, follow: false })), []);
  });

  test('stderr lines are tagged as stderr, long lines come back whole', async () => {
    const app = newApp();
    await runtime.start({
      ...(await webSpec(app, { process: 'worker' })), containerPort: null, hostPort: null,
      command: ['node', '-e', 'console.error("to stderr"); console.log("to stdout"); console.log("y".repeat(40000)); setInterval(() => {}, 1000)'],
    });
    const lines = await waitFor('all lines', async () => {
      const got = await collect(runtime.logs(app, { tail: 10, follow: false }));
      return got.length >= 3 && got;
    });
    assert.deepEqual(lines.map((l) => [l.stream, l.line.slice(0, 9)]).toSorted(), [['stderr', 'to stderr'], ['stdout', 'to stdout'], ['stdout', 'yyyyyyyyy']]);
    assert.equal(lines.find((l) => l.line.startsWith('y'))?.line, 'y'.repeat(40000), 'a line the engine stored in 16 KiB parts comes back whole');
  });

  test('follow yields the tail, then live lines, picks up new instances and restarts, and ends on abort', async () => {
    const app = newApp();
    const { spec: v1 } = await startWeb(app, { release: 1 });
    await answer(v1.hostPort!, '/before-follow');
    await waitFor('the first request logged', async () =>
      (await collect(runtime.logs(app, { tail: 1, follow: false }))).at(-1)?.line === 'request GET /before-follow');

    const controller = new AbortController();
    const lines: LogLine[] = [];
    const following = (async () => {
      for await (const line of runtime.logs(app, { tail: 1, follow: true, signal: controller.signal })) lines.push(line);
    })();
    const seen = (text: string) => waitFor(`"${text}" in the followed logs`, () => lines.some((l) => l.line === text));

    await seen('request GET /before-follow');
    await answer(v1.hostPort!, '/live');
    await seen('request GET /live');

    const { spec: v2 } = await startWeb(app, { release: 2, index: 2 });
    await answer(v2.hostPort!, '/new-release');
    await seen('listening on 5000 as v2 web.2');
    await seen('request GET /new-release');
    assert.equal(lines.find((l) => l.line === 'request GET /new-release')?.index, 2);

    // The engine ends follow streams when a container stops; the restarted instance must be picked up again.
    await answer(v1.hostPort!, '/crash');
    await seen('crash requested');
    await waitFor('v1 restarted', async () => (await runtime.list(app)).some((i) => i.release === 1 && i.restartCount > 0 && i.state === 'running'));
    await answer(v1.hostPort!, '/after-restart');
    await seen('request GET /after-restart');

    controller.abort();
    await withTimeout(following, 3000, 'the iteration to end on abort');

    const texts = lines.map((l) => `${l.index} ${l.line}`);
    assert.equal(texts[0], '1 request GET /before-follow', 'starts with the tail');
    assert.equal(new Set(texts).size, texts.length, `no duplicates: ${texts.join(' | ')}`);
    assert.equal(texts.filter((t) => t === '1 listening on 5000 as v1 web.1').length, 1, 'the restart logged a fresh listening line');
    for (const line of lines) assert.match(line.time, isNanoIso);
  });

  test('follow on an already aborted signal ends at once', async () => {
    const controller = new AbortController();
    controller.abort();
    assert.deepEqual(await collect(runtime.logs(newApp(), { tail: 10, follow: true, signal: controller.signal })), []);
  });
});
