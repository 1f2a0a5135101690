// Issue 12, "One-off processes": `berth run` through the real CLI and API websocket, on each scheduler
// (run.test.ts: Docker; run-k8s.test.ts: the Kubernetes test cluster). Scripts get clean stdout/stderr, stdin
// and the exit code; a terminal (a real pty from util-linux `script`) gets a TTY of its size, and Ctrl-C
// reaches the command either way. A Berth killed while a run is attached removes it at start.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startCaddy } from './support/caddy.ts';
import { startBerth, eventually, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';

import { CLI_ENTRY as CLI } from './support/cli.ts';

export interface RunTarget {
  name: 'docker' | 'k3s';
  /** Server settings that make this scheduler available. */
  serverEnv: () => Promise<Record<string, string>>;
  /** The app's one-offs the scheduler still has (containers, pods), whatever their state. */
  oneOffs: (app: string) => Promise<string[]>;
  /** How reconcile names run.1 of the app when it removes it after a restart. */
  orphanLine: (app: string) => RegExp;
  cleanup?: () => Promise<void>;
}

export function runSuite(target: RunTarget | { name: string; skip: string }): void {
  describe(`berth run on ${target.name}`, { skip: 'skip' in target ? target.skip : false }, () => {
    if ('skip' in target) return;
    let caddy: Awaited<ReturnType<typeof startCaddy>>;
    let berth: BerthServer;
    let home: string;
    const app = uniqueName(`run-${target.name}`);
    const runContainers = async () => (await target.oneOffs(app)).join(' ');

    before(async () => {
      caddy = await startCaddy();
      berth = await startBerth(caddy, { ...await target.serverEnv(), BERTH_TERMINAL_RECHECK_MS: '500' }); // access re-checked twice a second
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-run-'));
      await berth.ok('POST', '/apps', { name: app, scheduler: target.name });
      await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
      await berth.ok('PATCH', `/apps/${app}/config`, { GREETING: 'hi there' });
    });

    /** CLIs a failed test left behind: killed, so their one-offs go too. */
    const children: Array<{ kill(signal?: NodeJS.Signals): boolean }> = [];

    after(async () => {
      for (const child of children) child.kill('SIGKILL');
      await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
      await berth?.kill('SIGTERM');
      await caddy?.stop();
      if (home) fs.rmSync(home, { recursive: true, force: true });
      await target.cleanup?.();
    });

    const cliEnv = () => ({ ...process.env, HOME: home, BERTH_CONFIG_DIR: home, BERTH_API_URL: berth.url, BERTH_TOKEN: berth.token });

    function berthRun(args: string[], input = ''): { code: number; out: string; err: string } {
      const res = spawnSync(process.execPath, [CLI, 'run', app, ...args], { env: cliEnv(), input, encoding: 'utf8', timeout: 120_000 });
      return { code: res.status ?? -1, out: res.stdout, err: res.stderr };
    }

    /** The CLI inside a pty of 30 rows and 100 columns (util-linux script); `input` is typed into the terminal. */
    function inTerminal(args: string[]) {
      const quoted = [process.execPath, CLI, 'run', app, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const child = spawn('script', ['-qefc', `stty rows 30 cols 100; exec ${quoted}`, '/dev/null'], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(child);
      let screen = '';
      child.stdout.on('data', (d) => { screen += d; });
      child.stderr.on('data', (d) => { screen += d; });
      const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
      return { child, exited, screen: () => screen };
    }

    test('a script: clean stdout and stderr, the app config and DYNO run.N, stdin passed, the exit code returned', async () => {
      const res = berthRun(['--', 'sh', '-c', 'echo "$GREETING from $DYNO"; echo oops >&2; exit 7']);
      assert.equal(res.code, 7, res.err);
      assert.equal(res.out, 'hi there from run.1\n');
      assert.equal(res.err, 'oops\n');
      const piped = berthRun(['--', 'sh', '-c', 'tr a-z A-Z; test -t 0 || echo no-tty'], 'from a pipe\n');
      assert.equal(piped.code, 0, piped.err);
      assert.equal(piped.out, 'FROM A PIPE\nno-tty\n');
      assert.equal(await runContainers(), '', 'the one-off is gone once it ended');
    });

    test('--size, --timeout and --type reach the one-off; bad input is refused before anything runs', async () => {
      const sized = berthRun(['--size', '256M', '--', 'sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes']);
      assert.equal(sized.out.trim(), String(256 * 1024 * 1024), sized.err);
      const started = Date.now();
      const slow = berthRun(['--timeout', '2s', '--', 'sleep', '60']);
      assert.equal(slow.code, 137, slow.err);
      assert.ok(Date.now() - started < 30_000, 'killed at its time limit');
      assert.equal(berthRun(['--type', 'web', '--', 'sh', '-c', 'echo $BERTH_PROCESS_TYPE']).out, 'web\n');
      const unknownType = berthRun(['--type', 'nope', '--', 'true']);
      assert.equal(unknownType.code, 1);
      assert.match(unknownType.err, /has no process type "nope"/);
      const missing = berthRun(['--', 'no-such-program']);
      assert.notEqual(missing.code, 0);
    });

    test('a terminal: a TTY of the caller\'s size, typed input reaches it, and the exit code comes back', async () => {
      const term = inTerminal(['--', 'sh', '-c', 'tty; stty size; read line; echo "typed: $line"; exit 3']);
      await eventually('the size shown', async () => /30 100/.test(term.screen()), 30_000).catch((err) => { throw new Error(`${err.message}; the terminal showed: ${JSON.stringify(term.screen())}`); });
      term.child.stdin.write('hello\r');
      assert.equal(await term.exited, 3, term.screen());
      assert.match(term.screen(), /\/dev\/pts\/\d+/);
      assert.match(term.screen(), /typed: hello/);
    });

    test('Ctrl-C: the terminal\'s interrupt reaches the command with a TTY, SIGINT without one', async () => {
      const trap = ['--', 'sh', '-c', 'trap "echo got-interrupt; exit 130" INT; echo ready; while :; do sleep 0.2; done'];
      const term = inTerminal(trap);
      await eventually('ready in the terminal', async () => /ready/.test(term.screen()), 30_000);
      term.child.stdin.write('\x03');
      assert.equal(await term.exited, 130, term.screen());
      assert.match(term.screen(), /got-interrupt/);

      const piped = spawn(process.execPath, [CLI, 'run', app, ...trap], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(piped);
      let out = '';
      piped.stdout.on('data', (d) => { out += d; });
      const code = new Promise<number>((resolve) => piped.on('close', (c) => resolve(c ?? -1)));
      await eventually('ready on stdout', async () => out.includes('ready'), 30_000);
      piped.kill('SIGINT');
      assert.equal(await code, 130);
      assert.match(out, /got-interrupt/);
      await eventually('no one-off left', async () => await runContainers() === '', 20_000);
    });

    test('a run never outlives its caller: a dropped connection kills it, and a restart removes what a killed Berth left', async () => {
      const dropped = spawn(process.execPath, [CLI, 'run', app, '--', 'sh', '-c', 'echo ready; sleep 300'], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(dropped);
      let out = '';
      dropped.stdout.on('data', (d) => { out += d; });
      await eventually('ready', async () => out.includes('ready'), 30_000);
      dropped.kill('SIGKILL');
      await eventually('the one-off removed after its caller went', async () => await runContainers() === '', 20_000);

      const orphaned = spawn(process.execPath, [CLI, 'run', app, '--', 'sh', '-c', 'echo ready; sleep 300'], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(orphaned);
      let out2 = '';
      orphaned.stdout.on('data', (d) => { out2 += d; });
      orphaned.on('error', () => {});
      await eventually('ready', async () => out2.includes('ready'), 30_000);
      await berth.kill('SIGKILL');
      assert.notEqual(await runContainers(), '', 'still running while Berth is down');
      await berth.start();
      assert.equal(await runContainers(), '', 'reconcile removed the orphaned one-off');
      assert.match(berth.output, target.orphanLine(app));
      orphaned.kill('SIGKILL');
      const audit = JSON.stringify(await berth.ok('GET', `/audit?app=${app}`));
      assert.match(audit, /run start/);
      assert.match(audit, /run exit/);
    });

    test('ps lists a running one-off as run.N beside the formation; ps:stop run.N ends it and its caller', async () => {
      const running = spawn(process.execPath, [CLI, 'run', app, '--', 'sh', '-c', 'echo ready; sleep 300'], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(running);
      let out = '';
      running.stdout.on('data', (d) => { out += d; });
      const code = new Promise<number>((resolve) => running.on('close', (c) => resolve(c ?? -1)));
      await eventually('ready', async () => out.includes('ready'), 30_000);
      const ps = spawnSync(process.execPath, [CLI, 'ps', app], { env: cliEnv(), encoding: 'utf8' });
      assert.match(ps.stdout, /^run\.1\s+running/m, ps.stdout + ps.stderr);
      assert.match(ps.stdout, /^web\.1\s+running/m);
      const stop = spawnSync(process.execPath, [CLI, 'ps:stop', app, 'run.1'], { env: cliEnv(), encoding: 'utf8' });
      assert.equal(stop.status, 0, stop.stderr);
      assert.match(stop.stdout, /done, stopped run\.1$/m);
      assert.notEqual(await code, 0, 'the caller of a stopped run exits with its non-zero code');
      assert.equal(await runContainers(), '');
      assert.equal((await berth.ok('GET', `/apps/${app}/ps`)).filter((i: { state: string }) => i.state === 'running').length, 1, 'the formation is untouched');
    });

    test('--detach: the command runs without its caller and its output is in berth logs -p run', async () => {
      const res = spawnSync(process.execPath, [CLI, 'run', app, '--detach', '--', 'sh', '-c', 'echo "detached $DYNO says $GREETING"; echo detached-err >&2; exit 5'], { env: cliEnv(), encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stdout, /as run\.\d+, detached: see its output with "berth logs .* -p run"/);
      const logs = await eventually('the detached output in the log', async () => {
        const out = spawnSync(process.execPath, [CLI, 'logs', app, '-p', 'run'], { env: cliEnv(), encoding: 'utf8' }).stdout;
        return /exited with code 5/.test(out) ? out : undefined;
      }, 30_000);
      assert.match(logs, /run\.\d+.*detached run\.\d+ says hi there/);
      assert.match(logs, /detached-err/);
      assert.doesNotMatch(logs, /web\.1/, '-p run shows the one-offs only');
      await eventually('no one-off left', async () => await runContainers() === '', 20_000);
    });

    /** Opens GET /apps/APP/run with this query and token; the refusal's status, or the socket once open. */
    function openRun(query: string, token: string): Promise<{ status: number } | { ws: WebSocket; screen: () => string; exit: Promise<number> }> {
      const ws = new WebSocket(`ws://127.0.0.1:${berth.port}/api/v1/apps/${app}/run?${query}`, { headers: { authorization: `Bearer ${token}` } });
      let screen = '';
      let code = -1;
      const exit = new Promise<number>((resolve) => ws.on('close', () => resolve(code)));
      ws.on('message', (data, binary) => {
        if (binary) screen += (data as Buffer).subarray(1).toString();
        else if (JSON.parse(data.toString()).type === 'exit') code = JSON.parse(data.toString()).code;
      });
      return new Promise((resolve, reject) => {
        ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
        ws.on('open', () => resolve({ ws, screen: () => screen, exit }));
        ws.on('error', reject);
      });
    }

    test('a resize reaches the one-off\'s TTY; read and deploy tokens may not run commands', async () => {
      const command = encodeURIComponent(JSON.stringify(['sh', '-c', 'stty size; read line; stty size']));
      const opened = await openRun(`command=${command}&tty=1&cols=80&rows=24`, berth.token);
      assert.ok('ws' in opened);
      await eventually('the first size', async () => opened.screen().includes('24 80'), 30_000);
      opened.ws.send(JSON.stringify({ type: 'resize', cols: 91, rows: 33 }));
      opened.ws.send(Buffer.from('\r'));
      assert.equal(await opened.exit, 0);
      assert.match(opened.screen(), /24 80[\s\S]*33 91/);

      for (const scope of ['read', 'deploy']) {
        const { token } = await berth.ok('POST', '/tokens', { scope, description: `run test ${scope}` });
        assert.deepEqual(await openRun(`command=${encodeURIComponent('["true"]')}`, token), { status: 403 }, scope);
        assert.equal((await berth.api('POST', `/apps/${app}/runs`, { command: ['true'] }, token)).status, 403, scope);
      }
    });

    test('a token revoked mid-run ends the run and its one-off', async () => {
      const { id, token } = await berth.ok('POST', '/tokens', { scope: 'full', description: 'run revoke test' });
      const command = encodeURIComponent(JSON.stringify(['sh', '-c', 'echo ready; sleep 300']));
      const opened = await openRun(`command=${command}`, token);
      assert.ok('ws' in opened);
      await eventually('ready', async () => opened.screen().includes('ready'), 30_000);
      await berth.ok('DELETE', `/tokens/${id}`);
      assert.equal(await opened.exit, -1, 'no exit code: the run was ended, not finished');
      await eventually('the one-off removed', async () => await runContainers() === '', 20_000);
    });
  });
}
