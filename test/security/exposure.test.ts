// Hole 5, plaintext by default: a server started with the default settings listens on loopback only;
// the network reaches the API, console and git through Caddy on berth.<domain> with TLS (plain HTTP on
// that name is redirected); git clone and push work there; no app can claim that name; the session
// cookie is Secure over https; and the git hook's callback is on a private socket, not the API's port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { buildApiRoute } from '../../src/router/caddy/config.ts';
import { CaddyAdminClient } from '../../src/router/caddy/admin-client.ts';
import { startCaddy, type TestCaddy } from '../support/caddy.ts';
import { startRegistry } from '../support/registry.ts';
import { gitEnv } from '../support/git-env.ts';
import { eventually, startBerth, uniqueName, viaRouter, type BerthServer } from '../support/berth.ts';

const API_HOST = 'berth.localhost';
const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/push/static-site');
const app = uniqueName('tls');

let caddy: TestCaddy;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let ca = '';
let caFile = '';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-exposure-'));

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** A request to https://berth.localhost:<port> as a client elsewhere would send it, trusting only Caddy's internal CA. */
function viaTls(route: string, opts: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: caddy.httpsPort, servername: API_HOST, ca, path: route, method: opts.method ?? 'GET', agent: false,
      headers: {
        host: `${API_HOST}:${caddy.httpsPort}`,
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...opts.headers,
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject).end(body);
  });
}

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  // The defaults under test: no BERTH_API_HOST, no BERTH_API_HOST_NAME (berth.<domain>), no BERTH_PUBLIC_URL.
  berth = await startBerth(caddy, { BERTH_API_HOST: '', BERTH_REGISTRY: registry.address, BERTH_STACK_GENERIC: 'berth/node:24' });
  const root = await new CaddyAdminClient(caddy.adminUrl).get<{ root_certificate: string }>('/pki/ca/local');
  ca = root.root_certificate;
  caFile = path.join(tmp, 'caddy-root.pem');
  fs.writeFileSync(caFile, ca);
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
  if (berth) fs.rmSync(berth.dataDir, { recursive: true, force: true });
});

/** The local addresses (hex, as /proc/net/tcp{,6} writes them) of listening sockets on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) => fs.readFileSync(file, 'utf8').split('\n').slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A') // 0A: LISTEN
    .map((cols) => cols[1].split(':')[0]));
}

test('by default the API listens on 127.0.0.1 only', () => {
  assert.equal(loadConfig({}).apiHost, '127.0.0.1');
  assert.equal(loadConfig({ BERTH_DOMAIN: 'example.com' }).apiHostName, 'berth.example.com');
  assert.deepEqual(listeners(berth.port), ['0100007F'], 'one listening socket, on 127.0.0.1 (not 0.0.0.0, not ::)');
});

test('the API route streams (no buffering) and plain HTTP on its name only redirects', async () => {
  const route = buildApiRoute({ hostname: API_HOST, upstream: { host: '127.0.0.1', port: 7070 } }, 443);
  const proxy = JSON.stringify(route);
  assert.match(proxy, /"handler":"reverse_proxy","upstreams":\[\{"dial":"127.0.0.1:7070"\}\],"flush_interval":-1/);
  assert.match(proxy, /"Location":\["https:\/\/\{http.request.host\}\{http.request.uri\}"\]/);
  const plain = await viaRouter(caddy.httpPort, API_HOST, '/api/v1/health');
  assert.equal(plain.status, 308);
  assert.equal(plain.body, '', 'nothing of the API is served over plain HTTP');
});

test('the API answers through Caddy on berth.<domain> over TLS, with Caddy\'s CA', async () => {
  const health = await eventually('the API over TLS', async () => {
    const res = await viaTls('/api/v1/health');
    return res.status === 200 && res;
  });
  assert.equal(JSON.parse(health.body).ok, true);
  assert.equal((await viaTls('/api/v1/apps')).status, 401);
  // Created on loopback: a change that rewrites Caddy's config cuts the requests Caddy is proxying (Caddy 2.6).
  await berth.ok('POST', '/apps', { name: app });
  const info = await viaTls(`/api/v1/apps/${app}`, { token: berth.token });
  assert.equal(info.status, 200, info.body);
  // The git remote it hands out is the address the client used: https on the API's name.
  assert.equal(JSON.parse(info.body).gitUrl, `https://${API_HOST}:${caddy.httpsPort}/git/${app}.git`);
  const local = await berth.ok('GET', `/apps/${app}`);
  assert.equal(local.gitUrl, `${berth.url}/git/${app}.git`, 'on the loopback address, the loopback URL');
});

test('the session cookie is Secure over https, and only there', async () => {
  const overTls = await viaTls('/api/v1/session', { method: 'POST', body: { token: berth.token } });
  assert.equal(overTls.status, 200, overTls.body);
  assert.match(String(overTls.headers['set-cookie']), /berth_session=.*; Secure/);
  const res = await fetch(`${berth.url}/api/v1/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: berth.token }),
  });
  assert.equal(res.status, 200);
  assert.doesNotMatch(res.headers.get('set-cookie') ?? '', /Secure/);
});

test('through Caddy the audit trail has the address Caddy saw, and a forged X-Forwarded-For changes nothing', async () => {
  const forged = await viaTls('/api/v1/session', { method: 'POST', body: { token: 'berth_forged' }, headers: { 'x-forwarded-for': '203.0.113.9' } });
  assert.equal(forged.status, 401);
  const events = await berth.ok('GET', '/audit?limit=20');
  const failed = events.find((e: { action: string; detail: string | null }) => e.action === 'auth failed' && /console sign-in/.test(e.detail ?? ''));
  assert.ok(failed, JSON.stringify(events.slice(0, 5)));
  assert.equal(failed.ip, '127.0.0.1', 'the client as Caddy saw it (this test connects from loopback), not the forged header');
});

test('git push and clone work through the API\'s TLS name', async () => {
  const repo = path.join(tmp, 'site');
  fs.cpSync(FIXTURE, repo, { recursive: true });
  const remote = `https://berth:${berth.token}@${API_HOST}:${caddy.httpsPort}/git/${app}.git`;
  // git resolves the name to loopback and trusts Caddy's CA, as a client given that CA would.
  const tls = ['-c', `http.curloptResolve=${API_HOST}:${caddy.httpsPort}:127.0.0.1`];
  const env = gitEnv({ GIT_SSL_CAINFO: caFile });
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' });
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'site');
  // The first deploy gives the app its route in Caddy, and a Caddy config change cuts every request it is
  // proxying (Caddy 2.6): that one goes over loopback. Later releases leave Caddy's config alone.
  git(repo, 'push', '-q', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`, 'main');
  fs.appendFileSync(path.join(repo, 'index.html'), '<!-- over TLS -->\n');
  git(repo, 'commit', '-qam', 'over TLS');
  const push = await new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn('git', [...tls, 'push', remote, 'main'], { cwd: repo, env, timeout: 180_000 });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
  assert.equal(push.code, 0, push.output);
  assert.match(push.output, /remote: /, 'the build streamed back through Caddy');
  assert.match(push.output, /main -> main/);
  await eventually('the site pushed over TLS answers', async () => (await viaRouter(caddy.httpPort, `${app}.localhost`)).body.includes('over TLS'));

  git(tmp, ...tls, 'clone', '-q', remote, 'clone');
  assert.equal(fs.readFileSync(path.join(tmp, 'clone', 'index.html'), 'utf8'), fs.readFileSync(path.join(repo, 'index.html'), 'utf8'));
});

test('no app can claim the API\'s hostname, not even an admin\'s', async () => {
  const named = await berth.api('POST', '/apps', { name: 'berth' });
  assert.equal(named.status, 409);
  assert.equal(named.body.error, 'hostname_reserved');
  const asDomain = await berth.api('POST', `/apps/${app}/domains`, { hostname: API_HOST });
  assert.equal(asDomain.status, 409);
  assert.equal(asDomain.body.error, 'hostname_reserved');
  const member = (await berth.ok('POST', '/users', { name: 'mallory', role: 'member' })).token;
  await berth.ok('POST', `/apps/${app}/access`, { user: 'mallory' });
  assert.equal((await berth.api('POST', `/apps/${app}/domains`, { hostname: API_HOST.toUpperCase() }, member)).status, 403);
  // Even an admin's wildcard over the domain leaves the API's exact name with the API.
  await berth.ok('POST', `/apps/${app}/domains`, { hostname: '*.localhost' });
  const health = await viaTls('/api/v1/health');
  assert.equal(health.status, 200);
  assert.equal(JSON.parse(health.body).ok, true);
  await berth.ok('DELETE', `/apps/${app}/domains/${encodeURIComponent('*.localhost')}`);
});

test('the git hook callback is not on the API\'s port: a private socket (0600) in the data dir', async () => {
  for (const url of [`${berth.url}/git-hook`, `${berth.url}/git-hook/`]) {
    const res = await fetch(url, { method: 'POST', headers: { 'x-berth-hook-token': 'x', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 404, url);
  }
  assert.equal((await viaTls('/git-hook', { method: 'POST', body: {} })).status, 404);
  const socket = path.join(berth.dataDir, 'run', 'git-hook.sock');
  assert.ok(fs.statSync(socket).isSocket());
  assert.equal(fs.statSync(socket).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(socket)).mode & 0o777, 0o700);
});
