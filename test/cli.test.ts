// The berth CLI as a user runs it: a child process against a fake API server that records requests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, test } from 'node:test';

import { CLI_ENTRY as CLI } from './support/cli.ts';
const TOKEN = 'test-token';

interface Seen { method: string; url: string; auth: string | undefined; body: any }
let seen: Seen[] = [];
let server: http.Server;
let apiUrl: string;
let configDir: string;

const app = (name: string) => ({
  name, url: `http://${name}.localhost`, gitUrl: `http://localhost:7070/git/${name}.git`, status: 'running',
  currentRelease: 3, instances: 2, domains: [`${name}.localhost`], createdAt: '2026-11-20T10:00:00Z', lastDeployAt: null,
  scheduler: 'docker',
});
const release = (version: number, extra = {}) => ({
  version, status: 'succeeded', description: `Deploy hello:${version}`, image: `hello:${version}`, imageId: null,
  configKeys: [], formation: [], createdAt: new Date().toISOString(), finishedAt: null, failureReason: null, current: false, ...extra,
});
const logLine = (n: number) => ({ time: `2026-11-25T17:00:0${n}.123Z`, process: n % 2 ? 'web' : 'worker', index: 1, stream: 'stdout', line: `line ${n}` });

type Reply = [status: number, body: unknown] | 'stream';
const error = (status: number, code: string, message: string): Reply => [status, { error: code, message }];

/** Just enough of docs/api.md to see what the CLI sends and how it prints the answers. */
function route(method: string, pathname: string, body: any): Reply {
  const [, name, rest = ''] = /^\/apps\/([^/]+)(.*)$/.exec(pathname) ?? [];
  if (pathname === '/apps') return method === 'GET' ? [200, [app('hello'), app('api')]] : [201, app(body.name)];
  if (name && name !== 'hello') return error(404, 'not_found', `app "${name}" not found`);
  switch (`${method} ${rest}`) {
    case 'GET ': return [200, app(name)];
    case 'DELETE ': return [200, { deleted: name }];
    case 'POST /deploys':
      if (body.image === 'broken:1') {
        return [422, { error: 'release_failed', message: 'release v4 failed', release: release(4, { status: 'failed', failureReason: 'web.1 exited with code 3' }) }];
      }
      return [201, release(3, { current: true })];
    case 'GET /releases': return [200, [release(3, { current: true }), release(2)]];
    case 'POST /rollback': return [201, release(5)];
    case 'GET /config': return [200, { GREETING: "it's me", DATABASE_URL: 'postgres://u:p@db/x?ssl=true' }];
    case 'PATCH /config': return [200, { config: {}, release: release(6) }];
    case 'GET /formation': return [200, [{ type: 'web', quantity: 2, memoryMB: 512, cpus: 0.5, command: null }]];
    case 'PATCH /formation':
      return [200, body.updates.map((u: any) => ({ type: u.type, quantity: u.quantity ?? 1, memoryMB: u.memoryMB ?? null, cpus: u.cpus ?? null, command: null }))];
    case 'GET /ps':
      return [200, [{ name: 'web.1', type: 'web', index: 1, release: 3, state: 'running', host: '127.0.0.1', hostPort: 20001, startedAt: null, restartCount: 0, containerId: 'c1' }]];
    case 'POST /ps/restart': return [200, []];
    case 'GET /logs': return 'stream';
    case 'GET /domains': return [200, [
      { hostname: 'hello.localhost', kind: 'default', certificate: { state: 'internal', issuer: 'Caddy internal CA' } },
      { hostname: 'www.example.com', kind: 'custom', certificate: { state: 'issued', expiresAt: '2027-03-01T10:00:00.000Z', issuer: 'R11' } },
      { hostname: 'api.example.com', kind: 'custom', certificate: { state: 'failed', reason: 'DNS problem: NXDOMAIN looking up A for api.example.com', retryAt: '2026-12-03T10:05:00.000Z' } },
    ]];
    case 'POST /domains': return [201, { hostname: body.hostname, kind: 'custom' }];
    case 'DELETE /domains/www.example.com': return [200, { deleted: 'www.example.com' }];
  }
  return error(404, 'not_found', `no route ${method} ${pathname}`);
}

/** Without follow: the last `tail` lines, then the end. With follow: a line every 50 ms until the client goes. */
function streamLogs(url: URL, res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const tail = Number(url.searchParams.get('tail'));
  for (let n = 1; n <= tail; n++) res.write(JSON.stringify(logLine(n)) + '\n');
  if (tail === 7) return void setTimeout(() => res.destroy(), 50); // a server that goes away mid-stream
  if (url.searchParams.get('follow') !== '1') return void res.end();
  let n = tail;
  const timer = setInterval(() => res.write(JSON.stringify(logLine(++n)) + '\n'), 50);
  res.on('close', () => clearInterval(timer));
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let text = '';
  for await (const chunk of req) text += chunk;
  const body = text ? JSON.parse(text) : undefined;
  const url = new URL(req.url!, 'http://x');
  seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return sendJson(res, ...(error(401, 'unauthorized', 'invalid API token') as [number, unknown]));
  const reply = route(req.method!, url.pathname.replace(/^\/api\/v1/, ''), body);
  if (reply === 'stream') return streamLogs(url, res);
  sendJson(res, ...reply);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

interface Run { code: number | null; stdout: string; stderr: string }

function berth(args: string[], options: { env?: Record<string, string | undefined>; input?: string; untilStdout?: RegExp } = {}): Promise<Run> {
  const env = { PATH: process.env.PATH, HOME: configDir, BERTH_CONFIG_DIR: configDir, BERTH_API_URL: apiUrl, BERTH_TOKEN: TOKEN, ...options.env };
  for (const key of Object.keys(env) as Array<keyof typeof env>) if (env[key] === undefined) delete env[key];
  const child = spawn(process.execPath, [CLI, ...args], { env });
  const run: Run = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => {
    run.stdout += chunk;
    if (options.untilStdout?.test(run.stdout)) child.kill('SIGINT');
  });
  child.stderr.on('data', (chunk) => (run.stderr += chunk));
  child.stdin.end(options.input ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ ...run, code })));
}

before(async () => {
  server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());
beforeEach(() => {
  seen = [];
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-'));
});
afterEach(() => fs.rmSync(configDir, { recursive: true, force: true }));

const last = () => seen[seen.length - 1];

test('apps prints an aligned table and sends the token', async () => {
  const run = await berth(['apps']);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^NAME\s+STATUS\s+RELEASE\s+INSTANCES\s+SCHEDULER\s+URL\s+DEPLOYED$/);
  assert.match(lines[1], /^hello\s+running\s+v3\s+2\s+docker\s+http:\/\/hello\.localhost\s+-$/);
  assert.equal(lines[0].indexOf('STATUS'), lines[2].indexOf('running'));
  assert.deepEqual(last(), { method: 'GET', url: '/api/v1/apps', auth: `Bearer ${TOKEN}`, body: undefined });
});

test('--json prints the raw answer', async () => {
  const run = await berth(['apps:info', 'hello', '--json']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), app('hello'));
});

test('apps:info takes the app from -a as well', async () => {
  const run = await berth(['apps:info', '-a', 'hello']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^=== hello\nStatus:\s+running\n/);
  assert.match(run.stdout, /Git URL:\s+http:\/\/localhost:7070\/git\/hello\.git/);
});

test('an API error is one line on stderr and exit 1', async () => {
  const run = await berth(['releases', 'nope']);
  assert.equal(run.code, 1);
  assert.equal(run.stderr, 'berth: app "nope" not found\n');
  assert.equal(run.stdout, '');
});

test('a rejected token says how to log in', async () => {
  const run = await berth(['apps'], { env: { BERTH_TOKEN: 'wrong' } });
  assert.equal(run.code, 1);
  assert.equal(run.stderr, 'berth: invalid API token (run "berth login")\n');
});

test('usage errors exit 2 with the usage line and send nothing', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['config:set', 'hello', 'NOVALUE'], /^berth: "NOVALUE" is not KEY=value\nUsage: berth config:set APP \[KEY=VALUE\.\.\.\] \[--no-review\]\n$/],
    [['ps:scale', 'hello', 'web=2:lots'], /^berth: "lots" is not a size like 512M, 1G or 512M\/0\.5\nUsage: berth ps:scale /],
    [['rollback', 'hello', 'latest'], /^berth: "latest" is not a release version like v3\n/],
    [['apps:info'], /^berth: missing app name\nUsage: berth apps:info APP\n$/],
    [['config:get', 'hello', 'A', 'B'], /^berth: unexpected argument "B"\n/],
    [['config:set', '-a', 'hello'], /^berth: missing KEY=VALUE: none given, and stdin held no KEY=value lines\n/],
    [['logs', 'hello', '--bogus'], /^berth: unknown option '--bogus'\nUsage: berth logs /],
    [['deploy', 'hello'], /^berth: --image is required\n/],
    [['frobnicate'], /^berth: unknown command "frobnicate"\nRun "berth help"/],
  ];
  for (const [args, expected] of cases) {
    const run = await berth(args);
    assert.equal(run.code, 2, args.join(' '));
    assert.match(run.stderr, expected);
  }
  assert.equal(seen.length, 0);
});

test('a server that is down is named in one line', async () => {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise((resolve) => closed.close(resolve));
  const run = await berth(['apps'], { env: { BERTH_API_URL: url } });
  assert.equal(run.code, 1);
  assert.equal(run.stderr, `berth: cannot reach the Berth API at ${url} (ECONNREFUSED)\n`);
});

test('deploy reports the new version, and the reason when the release failed', async () => {
  const ok = await berth(['deploy', 'hello', '--image', 'hello:3']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'Deploying hello:3 to hello... done, v3\n');
  assert.deepEqual(last().body, { image: 'hello:3' });
  const failed = await berth(['deploy', '-a', 'hello', '--image', 'broken:1']);
  assert.equal(failed.code, 1);
  assert.equal(failed.stdout, 'Deploying broken:1 to hello... failed\n');
  assert.equal(failed.stderr, 'berth: release v4 failed: web.1 exited with code 3\n');
});

test('releases and rollback vN', async () => {
  const list = await berth(['releases', 'hello']);
  assert.match(list.stdout, /^VERSION\s+STATUS\s+DESCRIPTION\s+CREATED\nv3 \*\s+succeeded\s+Deploy hello:3\s+(just now|\ds ago)\n/);
  const rolled = await berth(['rollback', 'hello', 'v2']);
  assert.equal(rolled.stdout, 'Rolling back hello to v2... done, v5\n');
  assert.deepEqual(last().body, { version: 2 });
  await berth(['rollback', 'hello']);
  assert.deepEqual(last().body, {});
});

test('config prints aligned KEY: value, sorted; --shell quotes what the shell would mangle', async () => {
  const run = await berth(['config', 'hello']);
  assert.equal(run.stdout, "DATABASE_URL: postgres://u:p@db/x?ssl=true\nGREETING:     it's me\n");
  const shell = await berth(['config', 'hello', '--shell']);
  assert.equal(shell.stdout, "DATABASE_URL='postgres://u:p@db/x?ssl=true'\nGREETING='it'\\''s me'\n");
  const get = await berth(['config:get', 'hello', 'GREETING']);
  assert.equal(get.stdout, "it's me\n");
  const missing = await berth(['config:get', 'hello', 'NOPE']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'berth: config var "NOPE" is not set on hello\n');
});

test('config:set keeps = inside values; config:unset sends nulls', async () => {
  const run = await berth(['config:set', 'hello', 'URL=postgres://h/db?a=b&c=d', 'EMPTY=']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(last(), { method: 'PATCH', url: '/api/v1/apps/hello/config', auth: `Bearer ${TOKEN}`, body: { URL: 'postgres://h/db?a=b&c=d', EMPTY: '' } });
  assert.equal(run.stdout, 'Setting URL, EMPTY and restarting hello... done, v6\nEMPTY: \nURL:   postgres://h/db?a=b&c=d\n');
  await berth(['config:unset', 'hello', 'A', 'B']);
  assert.deepEqual(last().body, { A: null, B: null });
});

test('ps:scale parses quantities and sizes into formation updates', async () => {
  const run = await berth(['ps:scale', 'hello', 'web=3', 'worker=1:1G', 'clock=2:512M/0.5']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(last().body, {
    updates: [
      { type: 'web', quantity: 3 },
      { type: 'worker', quantity: 1, memoryMB: 1024 },
      { type: 'clock', quantity: 2, memoryMB: 512, cpus: 0.5 },
    ],
  });
  assert.equal(run.stdout, 'Scaling hello... done, now running web=3 worker=1:1G clock=2:512M/0.5\n');
  const show = await berth(['ps:scale', 'hello']);
  assert.equal(show.stdout, 'web=2:512M/0.5\n');
  const twice = await berth(['ps:scale', 'hello', 'web=1', 'web=2']);
  assert.equal(twice.code, 2);
});

test('ps:resize, ps:restart and ps', async () => {
  await berth(['ps:resize', 'hello', 'web=512M/0.5']);
  assert.deepEqual(last().body, { updates: [{ type: 'web', memoryMB: 512, cpus: 0.5 }] });
  const restart = await berth(['ps:restart', 'hello', 'web']);
  assert.equal(restart.stdout, 'Restarting web processes of hello... done\n');
  assert.deepEqual(last().body, { type: 'web' });
  const ps = await berth(['ps', 'hello']);
  assert.match(ps.stdout, /^NAME\s+STATE\s+RELEASE\s+ADDRESS\s+STARTED\s+RESTARTS\nweb\.1\s+running\s+v3\s+127\.0\.0\.1:20001\s+-\s+0\n$/);
});

test('domains', async () => {
  const list = await berth(['domains', 'hello']);
  assert.equal(list.stdout, [
    'HOSTNAME         KIND     CERTIFICATE',
    'hello.localhost  default  internal',
    'www.example.com  custom   issued, expires 2027-03-01 (R11)',
    'api.example.com  custom   failed, retrying at 10:05:00 UTC',
    'api.example.com: DNS problem: NXDOMAIN looking up A for api.example.com',
    '',
  ].join('\n'));
  await berth(['domains:add', 'hello', 'www.example.com']);
  assert.deepEqual(last().body, { hostname: 'www.example.com' });
  const removed = await berth(['domains:remove', 'hello', 'www.example.com']);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(last().url, '/api/v1/apps/hello/domains/www.example.com');
});

test('apps:destroy refuses without a matching --confirm', async () => {
  const refused = await berth(['apps:destroy', 'hello', '--confirm', 'hallo']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^berth: refusing to destroy "hello" \("hallo" does not match\): re-run with --confirm hello\n$/);
  assert.equal(seen.length, 0);
  const done = await berth(['apps:destroy', 'hello', '--confirm', 'hello']);
  assert.equal(done.code, 0, done.stderr);
  assert.deepEqual(last().body, { confirm: 'hello' });
});

test('logs -n prints Heroku-style lines; --process filters', async () => {
  const run = await berth(['logs', 'hello', '-n', '3']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(last().url, '/api/v1/apps/hello/logs?tail=3');
  assert.equal(
    run.stdout,
    '2026-11-25T17:00:01.123Z app[web.1]: line 1\n2026-11-25T17:00:02.123Z app[worker.1]: line 2\n2026-11-25T17:00:03.123Z app[web.1]: line 3\n',
  );
  const web = await berth(['logs', 'hello', '-n', '4', '--process', 'worker']);
  assert.equal(web.stdout.trimEnd().split('\n').length, 2);
});

test('logs -t keeps printing lines as they arrive until interrupted', async () => {
  const run = await berth(['logs', 'hello', '-t', '-n', '1'], { untilStdout: /line 4\n/ });
  assert.equal(last().url, '/api/v1/apps/hello/logs?tail=1&follow=1');
  assert.match(run.stdout, /^2026-11-25T17:00:01\.123Z app\[web\.1\]: line 1\n(.* app\[\w+\.1\]: line \d\n){3}/);
  assert.equal(run.code, 0);
});

test('a stream cut off by the server is one error line after the lines it got', async () => {
  const run = await berth(['logs', 'hello', '-t', '-n', '7']);
  assert.equal(run.code, 1);
  assert.equal(run.stdout.trimEnd().split('\n').length, 7);
  assert.match(run.stderr, /^berth: lost the connection to the Berth API at http:\/\/127\.0\.0\.1:\d+ \(\w+\)\n$/);
});

test('login verifies the token and stores it with mode 0600; logout removes it', async () => {
  const noEnv = { BERTH_API_URL: undefined, BERTH_TOKEN: undefined };
  const before = await berth(['apps:create', 'demo'], { env: noEnv });
  assert.deepEqual([before.code, before.stdout], [1, '']);
  assert.match(before.stderr, /^berth: not logged in to http:\/\/localhost:7070: run "berth login" or set BERTH_TOKEN\n$/);
  const bad = await berth(['login', '--api', apiUrl, '--token', 'wrong'], { env: noEnv });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /rejected the token: invalid API token/);
  const login = await berth(['login', '--api', apiUrl + '/'], { env: noEnv, input: `${TOKEN}\n` });
  assert.equal(login.code, 0, login.stderr);
  const file = path.join(configDir, 'credentials.json');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { api: apiUrl, token: TOKEN });
  const apps = await berth(['apps'], { env: noEnv });
  assert.equal(apps.code, 0, apps.stderr);
  assert.equal(last().auth, `Bearer ${TOKEN}`);
  const elsewhere = await berth(['apps'], { env: { ...noEnv, BERTH_API_URL: 'http://127.0.0.1:9' } });
  assert.match(elsewhere.stderr, /^berth: not logged in to http:\/\/127\.0\.0\.1:9/); // the token stays with its server
  const logout = await berth(['logout'], { env: noEnv });
  assert.equal(logout.stdout, 'Logged out.\n');
  assert.equal(fs.existsSync(file), false);
});
