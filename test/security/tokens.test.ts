// Issue 14, hole 6: tokens are listed, scoped, expire and are revoked one by one, against a real server,
// real git pushes and a real terminal websocket. Each attack: the request, and that it fails cleanly with
// nothing lost (the app's release, config and branch stay as they were).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { startCaddy } from '../support/caddy.ts';
import { startRegistry } from '../support/registry.ts';
import { gitEnv } from '../support/git-env.ts';
import { SERVER_ENTRY, issueAdminToken, sleep, startBerth, uniqueName, eventually, type BerthServer } from '../support/berth.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
import { CLI_ENTRY as CLI } from '../support/cli.ts';
const FIXTURES = path.join(ROOT, 'test/fixtures/push');
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let alice = '';
const app = uniqueName('tok');
let work = '';
let repo = '';

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tokens-'));
  alice = (await berth.ok('POST', '/users', { name: 'alice' })).token;
  assert.equal((await berth.api('POST', '/apps', { name: app }, alice)).status, 201);
  repo = path.join(work, 'site');
  fs.cpSync(path.join(FIXTURES, 'static-site'), repo, { recursive: true });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'site');
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: repo, encoding: 'utf8', env: gitEnv() }).trim();
}

function push(token: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('git', ['push', `http://berth:${token}@127.0.0.1:${berth.port}/git/${app}.git`, 'main'], { cwd: repo, env: gitEnv() });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

function cli(token: string, ...args: string[]): { code: number; out: string; err: string } {
  const env = { ...process.env, BERTH_API_URL: berth.url, BERTH_TOKEN: token, BERTH_CONFIG_DIR: path.join(work, 'cli') };
  try {
    const out = execFileSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, out, err: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: e.stdout, err: e.stderr };
  }
}

async function createToken(token: string, body: Record<string, unknown>): Promise<{ id: number; token: string; scope: string; expiresAt: string | null }> {
  const res = await berth.api('POST', '/tokens', body, token);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** The app's state an attack must leave untouched. */
async function appState(): Promise<string> {
  const info = await berth.ok('GET', `/apps/${app}`);
  const config = await berth.ok('GET', `/apps/${app}/config`);
  const releases = await berth.ok('GET', `/apps/${app}/releases`);
  const refs = execFileSync('git', ['ls-remote', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`], { env: gitEnv(), encoding: 'utf8' });
  return JSON.stringify({ release: info.currentRelease, config, releases: releases.length, refs });
}

test('the first admin token is printed once by issue-admin-token: no file, not in the server log', async () => {
  assert.equal(fs.existsSync(path.join(berth.dataDir, 'admin-token')), false, 'no token file in the data dir');
  assert.ok(!berth.output.includes(berth.token), 'the server log does not contain the admin token');
  assert.doesNotMatch(berth.output, /berth_[A-Za-z0-9_-]{32}/, 'the server log contains no token at all');
  // A later issue prints a different, working token; --if-none prints nothing while the admin has one.
  const second = await issueAdminToken(SERVER_ENTRY, berth.env);
  assert.notEqual(second, berth.token);
  assert.equal((await berth.api('GET', '/users', undefined, second)).status, 200);
  const ifNone = execFileSync(process.execPath, [SERVER_ENTRY, 'issue-admin-token', '--if-none'], { env: { ...process.env, ...berth.env }, encoding: 'utf8' });
  assert.equal(ifNone, '');
  assert.equal((fs.statSync(path.join(berth.dataDir, 'berth.db')).mode & 0o777), 0o600, 'only the owner may open berth.db (and mint admin tokens)');
  assert.equal((await berth.api('DELETE', `/tokens/${(await berth.ok('GET', '/tokens')).find((t: { current: boolean }) => !t.current).id}`)).status, 200);
  assert.equal((await berth.api('GET', '/users', undefined, second)).status, 401, 'the revoked second token is dead');
});

test('tokens:create prints the secret once; tokens lists without it; only a sha256 hash is stored', async () => {
  const created = cli(alice, 'tokens:create', '--scope', 'deploy', '--expires', '30d', '--description', 'CI for shop');
  assert.equal(created.code, 0, created.err);
  const secret = /^(berth_\S+)$/m.exec(created.out)?.[1];
  assert.ok(secret, created.out);
  const listed = cli(alice, 'tokens');
  assert.equal(listed.code, 0, listed.err);
  assert.match(listed.out, /deploy\s+20\d\d-\d\d-\d\d \d\d:\d\d\s+-\s+(\S+ ago|just now)\s+CI for shop/);
  assert.ok(!listed.out.includes(secret!), 'the list never shows a secret');
  const json = JSON.parse(cli(alice, 'tokens', '--json').out) as { id: number; scope: string; expiresAt: string; current: boolean }[];
  const row = json.find((t) => t.scope === 'deploy')!;
  assert.ok(Math.abs(Date.parse(row.expiresAt) - Date.now() - 30 * 86_400_000) < 60_000, row.expiresAt);
  assert.equal(json.filter((t) => t.current).length, 1, 'the token the command used is marked');

  const db = new Database(path.join(berth.dataDir, 'berth.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT * FROM tokens').all() as Record<string, unknown>[];
    assert.ok(!JSON.stringify(rows).includes(secret!), 'the secret is nowhere in the tokens table');
    assert.ok(rows.some((r) => r.token_hash === crypto.createHash('sha256').update(secret!).digest('hex')));
  } finally { db.close(); }

  assert.equal(cli(alice, 'tokens:revoke', String(row.id)).code, 0);
  assert.equal((await berth.api('GET', `/apps/${app}`, undefined, secret!)).status, 401);
  assert.equal(cli(alice, 'tokens:create', '--scope', 'root').code, 2, 'a wrong scope is a usage error');
  assert.equal((await berth.api('POST', '/tokens', { scope: 'root' }, alice)).body.error, 'invalid_scope');
  assert.equal((await berth.api('POST', '/tokens', { expires: 'forever' }, alice)).status, 400);
});

test('last used is stamped on use, at most once a minute', async () => {
  const t = await createToken(alice, { description: 'last-used' });
  const lastUsed = async () => ((await berth.api('GET', '/tokens', undefined, alice)).body as { id: number; lastUsedAt: string | null }[])
    .find((r) => r.id === t.id)!.lastUsedAt;
  assert.equal(await lastUsed(), null);
  await berth.api('GET', '/apps', undefined, t.token);
  const first = await lastUsed();
  assert.ok(first && Date.now() - Date.parse(first) < 10_000, String(first));
  await sleep(20);
  await berth.api('GET', '/apps', undefined, t.token);
  assert.equal(await lastUsed(), first, 'a second use within the minute writes nothing');
  await berth.api('DELETE', `/tokens/${t.id}`, undefined, alice);
});

test('scopes: read is GET-only without secrets; deploy pushes and deploys only; admin is for admins', async () => {
  await berth.ok('PATCH', `/apps/${app}/config`, { SECRET_KEY: 'hunter2' });
  const read = await createToken(alice, { scope: 'read' });
  const deploy = await createToken(alice, { scope: 'deploy' });
  const before = await appState();
  const refused: [string, string, string, unknown?][] = [
    [read.token, 'GET', `/apps/${app}/config`], [read.token, 'PATCH', `/apps/${app}/config`, { SECRET_KEY: 'x' }],
    [read.token, 'POST', `/apps/${app}/ps/restart`, {}], [read.token, 'POST', '/apps', { name: uniqueName('r') }],
    [read.token, 'GET', '/tokens'], [read.token, 'POST', '/tokens', { scope: 'full' }],
    [deploy.token, 'GET', `/apps/${app}/config`], [deploy.token, 'PATCH', `/apps/${app}/config`, { SECRET_KEY: 'x' }],
    [deploy.token, 'POST', '/tokens', { scope: 'full' }], [deploy.token, 'GET', '/tokens'],
    [deploy.token, 'POST', `/apps/${app}/access`, { user: 'admin' }], [deploy.token, 'DELETE', `/apps/${app}`, { confirm: app }],
    [deploy.token, 'POST', `/apps/${app}/domains`, { hostname: 'shop.example.com' }],
  ];
  for (const [token, method, route, body] of refused) {
    const res = await berth.api(method, route, body, token);
    assert.equal(res.status, 403, `${method} ${route}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error, 'insufficient_scope');
    assert.ok(!JSON.stringify(res.body).includes('hunter2'));
  }
  assert.equal((await berth.api('GET', `/apps/${app}`, undefined, read.token)).status, 200, 'read reads');
  assert.equal((await berth.api('GET', `/apps/${app}/releases`, undefined, deploy.token)).status, 200, 'deploy reads');
  assert.equal(await appState(), before, 'nothing changed');

  // A member cannot mint an admin token, an admin's everyday (full) token does no admin work, an admin-scoped one does.
  assert.equal((await berth.api('POST', '/tokens', { scope: 'admin' }, alice)).status, 403);
  const adminFull = await createToken(berth.token, { scope: 'full' });
  const denied = await berth.api('POST', '/users', { name: 'mallory' }, adminFull.token);
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error, 'insufficient_scope');
  assert.equal((await berth.api('POST', '/tokens', { scope: 'admin' }, adminFull.token)).status, 403, 'full cannot mint admin');
  assert.equal((await berth.api('GET', `/apps/${app}`, undefined, adminFull.token)).status, 200, "an admin's full token still sees every app");
  assert.equal((await berth.api('GET', '/users', undefined, berth.token)).status, 200);
  assert.equal((await createToken(berth.token, { scope: 'admin' })).scope, 'admin');

  // Someone else's token: invisible and not revocable.
  const bob = (await berth.ok('POST', '/users', { name: 'bob' })).token;
  const missing = await berth.api('DELETE', `/tokens/${read.id}`, undefined, bob);
  assert.equal(missing.status, 404);
  assert.ok(!(await berth.api('GET', '/tokens', undefined, bob)).body.some((t: { id: number }) => t.id === read.id));
  assert.equal((await berth.api('GET', `/apps/${app}`, undefined, read.token)).status, 200, "alice's token still works");
  assert.ok((await berth.ok('GET', '/tokens?all=1')).some((t: { id: number; user: string }) => t.id === read.id && t.user === 'alice'), 'admins see everyone\'s');
  assert.equal((await berth.api('GET', '/tokens?all=1', undefined, alice)).status, 403);
});

test('git: a deploy token pushes and deploys; a read token cannot push; a revoked or expired one is 401; nothing is lost', async () => {
  const deploy = await createToken(alice, { scope: 'deploy', description: 'CI' });
  const pushed = await push(deploy.token);
  assert.equal(pushed.code, 0, pushed.output);
  assert.match(pushed.output, /deployed to/);
  const deployed = await appState();

  fs.appendFileSync(path.join(repo, 'index.html'), '\n<!-- v2 -->\n');
  git('commit', '-qam', 'v2');
  const read = await createToken(alice, { scope: 'read' });
  const byRead = await push(read.token);
  assert.notEqual(byRead.code, 0);
  assert.match(byRead.output, /scope \(read\) cannot push/);
  // read may still fetch the source
  execFileSync('git', ['ls-remote', `http://berth:${read.token}@127.0.0.1:${berth.port}/git/${app}.git`], { env: gitEnv() });

  await berth.ok('DELETE', `/tokens/${deploy.id}`);
  const byRevoked = await push(deploy.token);
  assert.notEqual(byRevoked.code, 0);
  assert.match(byRevoked.output, /Invalid Berth API token \(unknown or revoked\)|Authentication failed/);

  const short = await createToken(alice, { scope: 'deploy', expires: '1s' });
  await sleep(1200);
  const byExpired = await push(short.token);
  assert.notEqual(byExpired.code, 0);
  assert.match(byExpired.output, /token_expired|Authentication failed/);
  const api = await berth.api('GET', `/apps/${app}`, undefined, short.token);
  assert.deepEqual([api.status, api.body.error], [401, 'token_expired']);
  assert.equal(await appState(), deployed, 'the refused pushes changed nothing');
});

test('an expired or revoked token ends the console sessions made from it, and cannot sign in', async () => {
  const signIn = async (token: string) => fetch(`${berth.url}/api/v1/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }),
  });
  const withCookie = async (cookie: string) => (await fetch(`${berth.url}/api/v1/apps`, { headers: { cookie } })).status;

  const short = await createToken(alice, { expires: '2s' });
  const res = await signIn(short.token);
  assert.equal(res.status, 200);
  const cookie = res.headers.get('set-cookie')!.split(';')[0];
  assert.equal(await withCookie(cookie), 200);
  await sleep(2200);
  assert.equal(await withCookie(cookie), 401, 'the session ended with its token');
  const late = await signIn(short.token);
  assert.deepEqual([late.status, (await late.json()).error], [401, 'token_expired']);

  const revokable = await createToken(alice, {});
  const cookie2 = (await signIn(revokable.token)).headers.get('set-cookie')!.split(';')[0];
  assert.equal(await withCookie(cookie2), 200);
  await berth.ok('DELETE', `/tokens/${revokable.id}`);
  assert.equal(await withCookie(cookie2), 401, 'revoking the token ended the session');

  // A session has its token's scope: a read token's session cannot change anything.
  const read = await createToken(alice, { scope: 'read' });
  const session = await signIn(read.token);
  const { csrfToken } = await session.json();
  const change = await fetch(`${berth.url}/api/v1/apps/${app}/config`, {
    method: 'PATCH', body: JSON.stringify({ A: '1' }),
    headers: { cookie: session.headers.get('set-cookie')!.split(';')[0], 'content-type': 'application/json', 'x-csrf-token': csrfToken },
  });
  assert.equal(change.status, 403);
});

test('a token cannot create a token that outlives it', async () => {
  const short = await createToken(alice, { expires: '1h' });
  const forever = await berth.api('POST', '/tokens', {}, short.token);
  assert.equal(forever.status, 400);
  assert.match(forever.body.message, /cannot outlive it/);
  assert.equal((await berth.api('POST', '/tokens', { expires: '30m' }, short.token)).status, 201);
  const legacy = await berth.api('POST', '/users/alice/tokens', undefined, short.token);
  assert.equal(legacy.status, 400, 'nor through the older per-user route');
});

test('a terminal open with a token closes within seconds of its revocation', async () => {
  await eventually('web.1 running', async () => {
    const ps = (await berth.ok('GET', `/apps/${app}/ps`)) as { name: string; state: string }[];
    return ps.some((i) => i.name === 'web.1' && i.state === 'running');
  }, 60_000);
  const t = await createToken(alice, { description: 'terminal' });
  const ws = new WebSocket(`ws://127.0.0.1:${berth.port}/api/v1/apps/${app}/ps/web.1/terminal`, { headers: { authorization: `Bearer ${t.token}` } });
  let output = '';
  const texts: string[] = [];
  ws.on('message', (data, isBinary) => { if (isBinary) output += data.toString(); else texts.push(data.toString()); });
  const closed = new Promise<{ code: number; at: number }>((resolve) => ws.on('close', (code) => resolve({ code, at: Date.now() })));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  await eventually('the shell answers', async () => {
    ws.send(JSON.stringify({ type: 'input', data: 'echo sh-$((6*7))\n' }));
    await sleep(300);
    return output.includes('sh-42');
  }, 15_000);
  const revokedAt = Date.now();
  await berth.ok('DELETE', `/tokens/${t.id}`);
  const end = await Promise.race([closed, sleep(15_000).then(() => null)]);
  assert.ok(end, 'the terminal was closed');
  assert.equal(end.code, 4403);
  assert.ok(texts.some((m) => /Terminal closed: Invalid API token/.test(m)), texts.join('\n'));
  console.log(`# terminal closed ${end.at - revokedAt} ms after the token was revoked`);
  assert.ok(end.at - revokedAt < 8_000);
  const trail = await berth.ok('GET', `/audit?app=${app}`);
  assert.ok(trail.some((r: { action: string; status: number; detail: string }) => r.action === 'terminal close' && r.status === 401 && /revoked/.test(r.detail)));
});
