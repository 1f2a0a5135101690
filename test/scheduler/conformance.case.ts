// One set of tests every scheduler must pass (the pattern of Hono's router/common.case.test.ts): each
// scheduler's test file (docker.test.ts, k8s.test.ts) calls schedulerConformance() with what differs —
// the server settings that select it and how to see what it still runs. Everything is driven through a real
// Berth server and a private Caddy, so the deployer's logic is covered too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startCaddy, type TestCaddy } from '../support/caddy.ts';
import { startBerth, viaRouter, eventually, uniqueName, TEST_IMAGE, type BerthServer } from '../support/berth.ts';
import { gitEnv } from '../support/git-env.ts';
import { underTraffic } from '../support/traffic.ts';
import { CanaryTraffic, countOf } from '../support/canary-traffic.ts';
import { CaddyRouter } from '../../src/router/caddy/index.ts';
import { CaddyAdminClient } from '../../src/router/caddy/admin-client.ts';

export interface SchedulerUnderTest {
  name: 'docker' | 'k3s';
  /** Server settings that make this scheduler available (and the default for none). */
  serverEnv: () => Promise<Record<string, string>>;
  /** A progress line of a successful rollout, as `git push` shows it (`remote: …`). */
  rolloutLine: RegExp;
  /** What this scheduler still runs or keeps for the app (containers, pods, Services, Secrets, Jobs…). */
  leftovers: (app: string) => Promise<string[]>;
  cleanup?: () => Promise<void>;
}

const HELLO = path.resolve(import.meta.dirname, '../fixtures/hello');

export function schedulerConformance(target: SchedulerUnderTest | { skip: string; name: string }): void {
  describe(`scheduler conformance: ${target.name}`, { skip: 'skip' in target ? target.skip : false }, () => {
    if ('skip' in target) return;
    let caddy: TestCaddy;
    let berth: BerthServer;
    let work: string;
    const app = uniqueName(`cf-${target.name}`);
    const host = `${app}.localhost`;
    const get = (route = '/') => viaRouter(caddy.httpPort, host, route);
    const apps: string[] = [];

    const create = async (name: string) => {
      apps.push(name);
      return berth.ok('POST', '/apps', { name, scheduler: target.name });
    };
    const ps = async (name = app): Promise<Instance[]> => berth.ok('GET', `/apps/${name}/ps`);
    const serving = async (pattern: RegExp) => eventually(`${host} answering ${pattern}`, async () => {
      const res = await get();
      return res.status === 200 && pattern.test(res.body) ? res.body : undefined;
    }, 30_000);

    const runs = async (): Promise<Instance[]> => (await ps()).filter((i) => i.type === 'run');
    /**
     * `berth run` over the API's websocket: `input` then end of input (without a TTY); once the output matches
     * `after`, each of `then` is sent (a control message, input, or 'close' to leave without waiting).
     */
    const runCommand = (command: string[], opts: RunOptions = {}): Promise<RunOutcome> => {
      const query = [`command=${encodeURIComponent(JSON.stringify(command))}`, opts.tty ? `tty=1&cols=${opts.tty.cols}&rows=${opts.tty.rows}` : '', opts.query ?? '']
        .filter(Boolean).join('&');
      const ws = new WebSocket(`ws://127.0.0.1:${berth.port}/api/v1/apps/${app}/run?${query}`, { headers: { authorization: `Bearer ${berth.token}` } });
      const outcome: RunOutcome = { stdout: '', stderr: '', screen: '', code: -1, started: null };
      let pending = opts.after ? [...(opts.then ?? [])] : [];
      return new Promise((resolve, reject) => {
        ws.on('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}: ${decodeURIComponent(String(res.headers['x-berth-error'] ?? ''))}`)));
        ws.on('message', (data, binary) => {
          if (binary) {
            const chunk = (data as Buffer).subarray(1).toString();
            if ((data as Buffer)[0] === 1) outcome.stdout += chunk; else outcome.stderr += chunk;
            outcome.screen += chunk;
          } else {
            const event = JSON.parse(data.toString());
            if (event.type === 'exit') outcome.code = event.code;
            if (event.type === 'started') {
              outcome.started = event.name;
              if (opts.input !== undefined) ws.send(Buffer.from(opts.input));
              if (!opts.tty) ws.send(JSON.stringify({ type: 'eof' }));
            }
          }
          if (pending.length && opts.after!.test(outcome.screen)) {
            for (const item of pending) {
              if (item === 'close') ws.close();
              else ws.send(Buffer.isBuffer(item) ? item : typeof item === 'string' ? Buffer.from(item) : JSON.stringify(item));
            }
            pending = [];
          }
        });
        ws.on('close', () => resolve(outcome));
        ws.on('error', reject);
      });
    };

    before(async () => {
      caddy = await startCaddy();
      berth = await startBerth(caddy, await target.serverEnv());
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-conformance-'));
    });

    after(async () => {
      for (const name of apps) await berth?.api('DELETE', `/apps/${name}`, { confirm: name });
      await berth?.kill('SIGTERM');
      await caddy?.stop();
      await target.cleanup?.();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    test('deploy: the image answers through Caddy, on the scheduler the app was created with', async () => {
      const created = await create(app);
      assert.equal(created.scheduler, target.name);
      await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
      assert.match(await serving(/hello from v1 /), /greeting=$/m);
      const instances = await ps();
      assert.equal(instances.length, 1);
      assert.equal(instances[0].type, 'web');
      assert.equal(instances[0].state, 'running');
      assert.equal(instances[0].release, 1);
    });

    test('a release that fails its health check is rejected; the old release keeps serving', async () => {
      const res = await berth.api('PATCH', `/apps/${app}/config`, { FAIL_HEALTH: '1', HEALTHCHECK_TIMEOUT: '4' });
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.error, 'release_failed');
      assert.match(res.body.message, /health/i);
      assert.match((await get()).body, /hello from v1 /);
      const config = await berth.ok('GET', `/apps/${app}/config`);
      assert.equal(config.FAIL_HEALTH, undefined, 'the failed change was not kept');
      const instances = await ps();
      assert.deepEqual(instances.map((i) => [i.release, i.state]), [[1, 'running']], 'no instance of the failed release is left');
    });

    test('rollback: an earlier release serves again, as a new release', async () => {
      await berth.ok('PATCH', `/apps/${app}/config`, { GREETING: 'two' });
      const two = await serving(/greeting=two/);
      const version = Number(/hello from v(\d+)/.exec(two)![1]);
      const rolledBack = await berth.ok('POST', `/apps/${app}/rollback`, { version: 1 });
      assert.equal(rolledBack.version, version + 1);
      await serving(new RegExp(`hello from v${version + 1} .*greeting=$`, 'm'));
    });

    test('scale up and down: the instances follow and all serve', async () => {
      await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 2 }] });
      // Two running, and nothing else (instances replaced before have drained and gone).
      const two = await eventually('two running web instances', async () => {
        const all = await ps();
        return all.length === 2 && all.every((i) => i.type === 'web' && i.state === 'running') ? all : undefined;
      });
      assert.deepEqual(two.map((i) => i.index).sort(), [1, 2]);
      // Both answer through the one route (each names itself in DYNO). Concurrent requests, since a proxy may
      // keep reusing one upstream connection, and a Service balances connections, not requests.
      const seen = new Set<string>();
      for (let round = 0; round < 10 && seen.size < 2; round++) {
        const bodies = await Promise.all(Array.from({ length: 8 }, () => get()));
        for (const res of bodies) seen.add(/hello from v\d+ (\S+)/.exec(res.body)?.[1] ?? '?');
      }
      assert.equal(seen.size, 2, `requests reached ${[...seen].join(', ')}`);
      await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 1 }] });
      await eventually('one web instance left', async () => (await ps()).filter((i) => i.state !== 'removing').length === 1);
      assert.equal((await get()).status, 200);
    });

    test('restart: new instances replace the running ones', async () => {
      const before = (await ps()).map((i) => i.containerId);
      await berth.ok('POST', `/apps/${app}/ps/restart`, {});
      const after = await eventually('restarted instances', async () => {
        const now = (await ps()).filter((i) => i.state === 'running');
        return now.length === 1 && !before.includes(now[0].containerId) ? now : undefined;
      });
      assert.equal(after[0].type, 'web');
      assert.equal((await get()).status, 200);
    });

    test('ps:stop replaces the instance; maintenance answers 503 while it runs; apps:stop/start keep the formation', async () => {
      const [before] = await eventually('a single running instance', async () => {
        const all = await ps();
        return all.length === 1 && all[0].state === 'running' ? all : undefined;
      });
      assert.deepEqual((await berth.ok('POST', `/apps/${app}/ps/stop`, { target: 'web.1' })).stopped, ['web.1']);
      await eventually('a fresh web.1', async () => {
        const now = (await ps()).filter((i) => i.state === 'running');
        return now.length === 1 && now[0].name === 'web.1' && now[0].containerId !== before.containerId;
      }, 60_000);
      assert.equal((await berth.api('POST', `/apps/${app}/ps/stop`, { target: 'worker' })).status, 404);
      assert.equal((await berth.api('POST', `/apps/${app}/ps/stop`, { target: 'web.1;rm' })).status, 400);

      await berth.ok('POST', `/apps/${app}/maintenance`, { enabled: true });
      const down = await get();
      assert.equal(down.status, 503);
      assert.match(down.body, /down for maintenance/);
      assert.equal((await ps()).filter((i) => i.state === 'running').length, 1, 'instances keep running');
      await berth.ok('POST', `/apps/${app}/maintenance`, { enabled: false });
      await serving(/hello from v\d+ /);

      const formation = await berth.ok('GET', `/apps/${app}/formation`);
      assert.equal((await berth.ok('POST', `/apps/${app}/stop`, {})).stopped, true);
      await eventually('nothing running', async () => (await ps()).length === 0, 60_000);
      assert.equal((await get()).status, 503);
      assert.equal((await berth.ok('GET', `/apps/${app}`)).status, 'stopped');
      assert.deepEqual(await berth.ok('GET', `/apps/${app}/formation`), formation, 'the formation is kept');
      await berth.ok('POST', `/apps/${app}/start`, {});
      await serving(/hello from v\d+ /);
    });

    test('crash: a process that exits comes back by itself', async () => {
      // Once the instances replaced before have drained, so the crash request can only reach this one.
      const [instance] = await eventually('a single instance', async () => {
        const all = await ps();
        return all.length === 1 && all[0].state === 'running' ? all : undefined;
      });
      assert.equal((await get('/crash')).body, 'bye');
      const back = await eventually('the instance restarted', async () => {
        const now = (await ps()).find((i) => i.containerId === instance.containerId);
        return now && now.restartCount > instance.restartCount && now.state === 'running' ? now : undefined;
      }, 40_000);
      assert.equal(back.containerId, instance.containerId);
      await serving(/hello from v/);
    });

    test('logs: what the app prints comes back, stamped and attributed', async () => {
      const probe = `/log-probe-${Math.random().toString(36).slice(2, 8)}`;
      await get(probe);
      const line = await eventually('the request in the log', async () => {
        const res = await fetch(`${berth.url}/api/v1/apps/${app}/logs?tail=200`, { headers: { authorization: `Bearer ${berth.token}` } });
        const lines = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
        return lines.find((l: { line: string }) => l.line.includes(`request GET ${probe}`));
      });
      assert.equal(line.process, 'web');
      assert.equal(line.index, 1);
      // Sub-second stamps: the engine's (ns) or the log store's (ms), which the default view merges in.
      assert.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.(\d{3}|\d{9})Z$/);
      assert.ok(Math.abs(Date.parse(line.time) - Date.now()) < 60_000, `stamped when it was printed: ${line.time}`);
    });

    test('berth run: clean stdout and stderr, the app\'s config, DYNO run.N, stdin to its end, the exit code', async () => {
      await berth.ok('PATCH', `/apps/${app}/config`, { RUN_GREETING: 'two' });
      const out = await runCommand(['sh', '-c', 'echo "$RUN_GREETING from $DYNO"; echo oops >&2; tr a-z A-Z; test -t 0 || echo no-tty; exit 4'], { input: 'from a pipe\n' });
      assert.equal(out.stdout, 'two from run.1\nFROM A PIPE\nno-tty\n');
      assert.equal(out.stderr, 'oops\n');
      assert.equal(out.code, 4);
      assert.equal(out.started, 'run.1');
    });

    test('berth run: a command that prints and exits at once loses no output, run after run', async () => {
      for (let i = 0; i < 5; i++) {
        const out = await runCommand(['sh', '-c', `echo hi-${i}; echo err-${i} >&2; exit 3`]);
        assert.deepEqual([out.stdout, out.stderr, out.code], [`hi-${i}\n`, `err-${i}\n`, 3], `run ${i}`);
      }
      assert.deepEqual((await runCommand(['no-such-program-here'])).code === 0, false);
      assert.deepEqual(await runs(), [], 'no one-off is left once they ended');
    });

    test('berth run with a TTY: the caller\'s size, resizes, typed input and the exit code', async () => {
      const out = await runCommand(['sh', '-c', 'tty; stty size; read line; stty size; echo "typed: $line"; exit 3'], {
        tty: { cols: 100, rows: 30 }, after: /30 100/, then: [{ type: 'resize', cols: 91, rows: 33 }, 'hello\r'],
      });
      assert.equal(out.code, 3, out.screen);
      assert.match(out.screen, /^\/dev\/pts\/\d+\r\n30 100\r\n/, 'nothing of the gate shows, the command\'s output starts the screen');
      assert.match(out.screen, /33 91[\s\S]*typed: hello/);
    });

    test('berth run: Ctrl-C reaches the command (the TTY\'s interrupt, or SIGINT without one)', async () => {
      const trap = ['sh', '-c', 'trap "echo got-interrupt; exit 130" INT; echo ready; while :; do sleep 0.2; done'];
      const withTty = await runCommand(trap, { tty: { cols: 80, rows: 24 }, after: /ready/, then: [Buffer.from('\x03')] });
      assert.equal(withTty.code, 130, withTty.screen);
      assert.match(withTty.screen, /got-interrupt/);
      const piped = await runCommand(trap, { after: /ready/, then: [{ type: 'signal', signal: 'SIGINT' }] });
      assert.equal(piped.code, 130, piped.screen);
      assert.match(piped.stdout, /got-interrupt/);
    });

    test('berth run: --size and --type reach the one-off, and --timeout kills it', async () => {
      const sized = await runCommand(['sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'], { query: 'memoryMB=256' });
      assert.equal(sized.stdout.trim(), String(256 * 1024 * 1024), sized.screen);
      assert.equal((await runCommand(['sh', '-c', 'echo $BERTH_PROCESS_TYPE'], { query: 'type=web' })).stdout, 'web\n');
      const started = Date.now();
      const slow = await runCommand(['sleep', '60'], { query: 'timeout=2' });
      assert.equal(slow.code, 137, slow.screen);
      assert.ok(Date.now() - started < 40_000, 'killed at its time limit');
    });

    test('berth run: listed in ps as run.N (runs started at once get their own N), ended by ps:stop, and gone when its caller leaves', async () => {
      const sleeper = ['sh', '-c', 'echo "ready as $DYNO"; sleep 300'];
      const [first, second] = [runCommand(sleeper, { after: /ready/ }), runCommand(sleeper, { after: /ready/ })];
      await eventually('run.1 and run.2 in ps', async () => {
        const listed = await runs();
        return listed.length === 2 && listed.every((i) => i.state === 'running') && listed.map((i) => i.name).sort().join() === 'run.1,run.2';
      }, 60_000);
      assert.deepEqual((await berth.ok('POST', `/apps/${app}/ps/stop`, { target: 'run.1' })).stopped, ['run.1']);
      assert.deepEqual((await berth.ok('POST', `/apps/${app}/ps/stop`, { target: 'run.2' })).stopped, ['run.2']);
      const ended = await Promise.all([first, second]);
      assert.deepEqual(ended.map((r) => r.stdout).sort(), ['ready as run.1\n', 'ready as run.2\n']);
      assert.ok(ended.every((r) => r.code !== 0), 'the caller of a stopped run gets a non-zero code');
      await eventually('the runs gone', async () => (await runs()).length === 0, 30_000);
      assert.equal((await ps()).filter((i) => i.type === 'web' && i.state === 'running').length, 1, 'the formation is untouched');

      const dropped = await runCommand(['sh', '-c', 'echo ready; sleep 300'], { after: /ready/, then: ['close'] });
      assert.equal(dropped.code, -1);
      await eventually('the one-off removed after its caller went', async () => (await runs()).length === 0, 30_000);
    });

    test('berth run --detach: the output goes to the log store as process run', async () => {
      const { name } = await berth.ok('POST', `/apps/${app}/runs`, { command: ['sh', '-c', 'echo "detached $DYNO"; echo detached-err >&2; exit 5'] });
      assert.match(name, /^run\.\d+$/);
      const lines = await eventually('the detached output in the log', async () => {
        const res = await fetch(`${berth.url}/api/v1/apps/${app}/logs?process=run&since=10m`, { headers: { authorization: `Bearer ${berth.token}` } });
        const text = await res.text();
        return /exited with code 5/.test(text) ? text : undefined;
      }, 60_000);
      assert.match(lines, new RegExp(`detached ${name.replace('.', '\\.')}`));
      assert.match(lines, /detached-err/);
      await eventually('no one-off left', async () => (await runs()).length === 0, 30_000);
    });

    test('exec: a terminal into a running instance runs commands and follows its size', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${berth.port}/api/v1/apps/${app}/ps/web.1/terminal`, { headers: { authorization: `Bearer ${berth.token}` } });
      let screen = '';
      ws.on('message', (data, binary) => { if (binary) screen += data.toString(); });
      await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
      try {
        ws.send(JSON.stringify({ type: 'resize', cols: 77, rows: 21 }));
        ws.send(JSON.stringify({ type: 'input', data: 'echo hi-$((6*7)); stty size\n' }));
        await eventually('the command output', async () => /^hi-42\r?$/m.test(screen) && /^21 77\r?$/m.test(screen), 15_000).catch((err) => { throw new Error(`${err.message}; the screen: ${JSON.stringify(screen)}`); });
      } finally {
        ws.close();
      }
    });

    test('release phase: its output and the rollout stream to git push; a failing release command rejects the push and the old release keeps serving', async () => {
      const pushed = uniqueName(`cf-rel-${target.name}`.slice(0, 12));
      await create(pushed);
      const repo = path.join(work, 'release-app');
      fs.cpSync(HELLO, repo, { recursive: true });
      const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env: gitEnv(), encoding: 'utf8' });
      const procfile = (release: string) => fs.writeFileSync(path.join(repo, 'Procfile'), `web: node /app/server.js\nrelease: ${release}\n`);
      procfile('echo "migrating for $BERTH_RELEASE"');
      git('init', '-q', '-b', 'main');
      git('add', '-A');
      git('commit', '-qm', 'one');
      const remote = `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${pushed}.git`;
      const first = await gitPush(repo, remote);
      assert.equal(first.code, 0, first.output);
      assert.match(first.output, /remote: .*release: migrating for v1/);
      assert.match(first.output, new RegExp(`remote: .*${target.rolloutLine.source}`), 'the rollout streams to git push');
      const pushedHost = `${pushed}.localhost`;
      await eventually('the pushed app serving', async () => /hello from v1 /.test((await viaRouter(caddy.httpPort, pushedHost)).body), 30_000);

      procfile('echo "migration failed" && exit 3');
      git('commit', '-qam', 'two');
      const second = await gitPush(repo, remote);
      assert.notEqual(second.code, 0, second.output);
      assert.match(second.output, /remote: .*release: migration failed/);
      assert.match(second.output, /exited with code 3/);
      assert.match((await viaRouter(caddy.httpPort, pushedHost)).body, /hello from v1 /);
      // What a push readies for the next one (network holders on Docker) goes with the app too.
      await berth.ok('DELETE', `/apps/${pushed}`, { confirm: pushed });
      apps.splice(apps.indexOf(pushed), 1);
      assert.deepEqual(await target.leftovers(pushed), []);
    });

    test('zero failed requests and zero Caddy config writes across three consecutive releases', async () => {
      const configBefore = await caddyConfig(caddy);
      const { total, failures } = await underTraffic({ port: caddy.httpPort, host, clients: 3 }, async () => {
        for (let i = 1; i <= 3; i++) {
          await berth.ok('PATCH', `/apps/${app}/config`, { GREETING: `zdt${i}` });
          await serving(new RegExp(`greeting=zdt${i}`));
        }
      });
      assert.ok(total > 30, `only ${total} requests were made`);
      assert.deepEqual(failures, [], `${failures.length} of ${total} requests failed`);
      // Every scheduler gives an app a stable upstream: releases write nothing to Caddy.
      assert.deepEqual(await caddyConfig(caddy), configBefore, 'three releases changed no Caddy config');
    });

    test('canary: beside the release at 50 % with a header match (ps shows it); abort sends everything back; promote moves everything to it with no failed request', async () => {
      const traffic = new CanaryTraffic(caddy.httpPort, host);
      const releases = async (): Promise<Array<{ version: number; current: boolean; status: string }>> => berth.ok('GET', `/apps/${app}/releases`);
      const running = async () => (await ps()).filter((i) => i.state === 'running').map((i) => `${i.type}.${i.index} v${i.release}`).sort();
      // Only the split is measured: the analysis would judge after a million canary requests.
      const start = async () => `v${(await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE, canary: { weight: 50, header: 'X-Canary=1', minRequests: 1_000_000 } })).version}`;
      const only = async (release: string, what: string) => eventually(what, async () => {
        traffic.fresh();
        return countOf(await traffic.many(40, 4), release) === 40 && countOf(await traffic.many(20, 4, { 'X-Canary': '1' }), release) === 20;
      }, 30_000);
      const noCanaryLeft = (release: string) => eventually(`only ${release} running, no canary object left`, async () =>
        (await ps()).every((i) => `v${i.release}` === release) && !(await target.leftovers(app)).some((name) => name.includes('canary')), 60_000);
      try {
        const stable = `v${(await releases()).find((r) => r.current)!.version}`;
        let canary = await start();
        assert.equal((await releases()).find((r) => `v${r.version}` === canary)?.status, 'canary');
        assert.deepEqual(await running(), [`web.1 ${canary}`, `web.1 ${stable}`].sort(), 'the canary\'s instance is listed as its release\'s');
        await eventually('the split in effect', async () => {
          traffic.fresh();
          return (await traffic.many(20, 4, { 'X-Canary': '1' })).every((a) => a.release === canary);
        }, 30_000);
        traffic.fresh();
        const [gray, plain] = await Promise.all([traffic.many(60, 4, { 'X-Canary': '1' }), traffic.many(200, 8)]);
        assert.ok(gray.every((a) => a.status === 200 && a.release === canary && a.track === 'canary'), 'every request with the header on the canary');
        assert.ok(plain.every((a) => a.status === 200 && a.track === (a.release === canary ? 'canary' : 'stable')));
        assert.equal(countOf(plain, canary) + countOf(plain, stable), 200);
        const share = countOf(plain, canary) / plain.length;
        assert.ok(share > 0.3 && share < 0.7, `the others split about 50/50: ${share} on the canary`);

        await berth.ok('POST', `/apps/${app}/canary/abort`, {});
        await only(stable, 'all traffic back on the release');
        assert.equal((await releases()).find((r) => `v${r.version}` === canary)?.status, 'aborted');
        await noCanaryLeft(stable);

        canary = await start();
        await eventually('the canary serving', async () => { traffic.fresh(); return (await traffic.get({ 'X-Canary': '1' })).release === canary; }, 30_000);
        const { total, failures } = await underTraffic({ port: caddy.httpPort, host, clients: 3 }, async () => {
          await berth.ok('POST', `/apps/${app}/canary/promote`, {});
        });
        assert.deepEqual(failures, [], `${failures.length} of ${total} requests failed during the promote`);
        assert.equal(`v${(await releases()).find((r) => r.current)!.version}`, canary);
        await only(canary, 'all traffic on the promoted release');
        await noCanaryLeft(canary);
      } finally {
        traffic.close();
      }
    });

    test('destroy leaves nothing: no instances, objects or route', async () => {
      const doomed = uniqueName(`cf-del-${target.name}`.slice(0, 12));
      await create(doomed);
      await berth.ok('POST', `/apps/${doomed}/deploys`, { image: TEST_IMAGE });
      await eventually('the doomed app serving', async () => (await viaRouter(caddy.httpPort, `${doomed}.localhost`)).status === 200, 30_000);
      assert.ok((await target.leftovers(doomed)).length > 0, 'the probe sees what the app runs');
      await berth.ok('DELETE', `/apps/${doomed}`, { confirm: doomed });
      apps.splice(apps.indexOf(doomed), 1);
      assert.deepEqual(await target.leftovers(doomed), []);
      const routes = await new CaddyRouter({ adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort }).listRoutes();
      assert.ok(!routes.some((r) => r.app === doomed), 'its route is gone');
      assert.equal((await viaRouter(caddy.httpPort, `${doomed}.localhost`)).status, 404);
    });
  });
}

interface RunOptions {
  input?: string;
  tty?: { cols: number; rows: number };
  /** More of the query string (memoryMB=, type=, timeout=). */
  query?: string;
  after?: RegExp;
  then?: Array<string | Buffer | Record<string, unknown>>;
}

/** What a `berth run` sent back: stdout and stderr apart, both in order (screen), its exit code (-1: none). */
interface RunOutcome { stdout: string; stderr: string; screen: string; code: number; started: string | null }

/** An instance as GET /apps/:app/ps shows it. */
interface Instance { containerId: string; name: string; type: string; index: number; release: number; state: string; restartCount: number }

function gitPush(cwd: string, remote: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('git', ['push', remote, 'main'], { cwd, env: gitEnv() });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Caddy's whole config (what a config write would change). */
async function caddyConfig(caddy: TestCaddy): Promise<unknown> {
  return new CaddyAdminClient(caddy.adminUrl).get('/config/');
}

