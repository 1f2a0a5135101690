// Teams: users, per-app access (tenant isolation), web sessions with CSRF, and the audit trail —
// against a real server, through the API, git and the CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { gitEnv } from './support/git-env.ts';
import { startBerth, uniqueName, type BerthServer } from './support/berth.ts';

import { CLI_ENTRY as CLI } from './support/cli.ts';
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let alice = '';
let bob = '';
const aliceApp = uniqueName('alice');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-access-'));

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy);
  alice = (await berth.ok('POST', '/users', { name: 'alice' })).token;
  bob = (await berth.ok('POST', '/users', { name: 'bob', role: 'member' })).token;
});

after(async () => {
  await berth?.api('DELETE', `/apps/${aliceApp}`, { confirm: aliceApp });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('only admins manage users; bad names and roles are refused', async () => {
  assert.equal((await berth.api('POST', '/users', { name: 'eve' }, bob)).status, 403);
  assert.equal((await berth.api('GET', '/users', undefined, bob)).status, 403);
  assert.equal((await berth.api('POST', '/users', { name: 'Bad Name' })).body.error, 'invalid_user_name');
  assert.equal((await berth.api('POST', '/users', { name: 'carol', role: 'root' })).body.error, 'invalid_role');
  assert.equal((await berth.api('POST', '/users', { name: 'alice' })).status, 409);
  assert.deepEqual((await berth.api('GET', '/users/me', undefined, bob)).body, { name: 'bob', role: 'member' });
  const names = (await berth.ok('GET', '/users')).map((u: { name: string }) => u.name);
  assert.ok(names.includes('alice') && names.includes('bob') && names.includes('admin'), names.join(','));
});

test("a member sees only their apps: another team's app answers like a missing one", async () => {
  assert.equal((await berth.api('POST', '/apps', { name: aliceApp }, alice)).status, 201);
  assert.deepEqual((await berth.api('GET', '/apps', undefined, bob)).body, []);
  for (const [method, route, body] of [
    ['GET', `/apps/${aliceApp}`], ['GET', `/apps/${aliceApp}/config`], ['PATCH', `/apps/${aliceApp}/config`, { FOO: 'x' }],
    ['GET', `/apps/${aliceApp}/logs`], ['DELETE', `/apps/${aliceApp}`, { confirm: aliceApp }], ['GET', `/apps/${aliceApp}/releases`],
  ] as [string, string, unknown?][]) {
    const res = await berth.api(method, route, body, bob);
    assert.equal(res.status, 404, `${method} ${route}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.message, new RegExp(`App "${aliceApp}" not found`));
  }
  assert.equal((await berth.api('GET', `/apps/${aliceApp}/config`, undefined, alice)).status, 200);
  assert.equal((await berth.api('GET', `/apps/${aliceApp}`)).status, 200, 'admins see every app');
});

test('git refuses a push to an app the user cannot see', () => {
  const url = new URL(`/git/${aliceApp}.git`, berth.url);
  url.username = 'bob';
  url.password = bob;
  const res = spawnSync('git', ['ls-remote', url.toString()], { env: gitEnv({}), encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(res.status, 0);
  assert.match(res.stderr, /403|do not have access/);
});

test('access:add lets a collaborator in; access:remove takes them out (CLI)', () => {
  const env = gitEnv({ HOME: tmp, BERTH_CONFIG_DIR: tmp, BERTH_API_URL: berth.url, BERTH_TOKEN: alice });
  const cli = (token: string, ...args: string[]) => spawnSync(process.execPath, [CLI, ...args], {
    env: { ...env, BERTH_TOKEN: token }, encoding: 'utf8', timeout: 60_000,
  });
  const added = cli(alice, 'access:add', aliceApp, 'bob');
  assert.equal(added.status, 0, added.stderr);
  const list = cli(alice, 'access', aliceApp);
  assert.match(list.stdout, /alice\s+member/);
  assert.match(list.stdout, /bob\s+member/);
  assert.equal(cli(bob, 'config', aliceApp).status, 0, 'bob can now read the config');
  assert.equal(cli(alice, 'access:remove', aliceApp, 'bob').status, 0);
  const denied = cli(bob, 'config', aliceApp);
  assert.equal(denied.status, 1);
  assert.match(denied.stderr, /not found/);
  const users = cli(berth.token, 'users:create', 'dave');
  assert.equal(users.status, 0, users.stderr);
  assert.match(users.stdout, /berth_[A-Za-z0-9_-]{20,}/);
});

test('web sessions: HttpOnly SameSite cookie, CSRF header required for changes, sign out ends it', async () => {
  const signIn = await fetch(`${berth.url}/api/v1/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: alice }),
  });
  assert.equal(signIn.status, 200);
  const setCookie = signIn.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /berth_session=[^;]+/);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  const { csrfToken, user } = await signIn.json() as { csrfToken: string; user: { name: string } };
  assert.equal(user.name, 'alice');
  const cookie = setCookie.split(';')[0];
  const call = (method: string, route: string, headers: Record<string, string> = {}, body?: unknown) => fetch(`${berth.url}/api/v1${route}`, {
    method, headers: { cookie, 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal((await call('GET', '/apps')).status, 200);
  const forged = await call('PATCH', `/apps/${aliceApp}/config`, {}, { FROM_ELSEWHERE: '1' });
  assert.equal(forged.status, 403);
  assert.equal(((await forged.json()) as { error: string }).error, 'csrf_failed');
  assert.deepEqual((await berth.ok('GET', `/apps/${aliceApp}/config`)), {}, 'the forged change changed nothing');
  assert.equal((await call('PATCH', `/apps/${aliceApp}/config`, { 'x-csrf-token': csrfToken }, { FROM_CONSOLE: '1' })).status, 200);
  assert.equal((await call('DELETE', '/session', { 'x-csrf-token': csrfToken })).status, 200);
  assert.equal((await call('GET', '/apps')).status, 401);
  const wrong = await fetch(`${berth.url}/api/v1/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'berth_nope' }),
  });
  assert.equal(wrong.status, 401);
});

test('the audit trail records who changed what, from where; members see only their own part', async () => {
  await berth.ok('PATCH', `/apps/${aliceApp}/config`, { AUDITED: 'yes' }); // as admin
  const all = await berth.ok('GET', '/audit?limit=200');
  const configChange = all.find((e: any) => e.actor === 'admin' && e.action === `PATCH /apps/:app/config` && e.app === aliceApp);
  assert.ok(configChange, JSON.stringify(all.slice(0, 5)));
  assert.equal(configChange.status, 200);
  assert.equal(configChange.ip, '127.0.0.1');
  assert.ok(all.some((e: any) => e.actor === 'alice' && e.action === 'POST /apps' && e.app === aliceApp));
  assert.ok(all.some((e: any) => e.actor === 'alice' && e.action === 'PATCH /apps/:app/config' && e.status === 403), 'the forged request is on record');
  assert.ok(all.some((e: any) => e.actor === 'alice' && e.action === 'sign-out'));
  assert.ok(all.some((e: any) => e.actor === 'admin' && e.action === 'POST /users' && e.detail === 'user bob (member)'));
  assert.ok(!all.some((e: any) => e.action.startsWith('GET ')), 'reads are not audited');
  const bobs = await berth.api('GET', '/audit', undefined, bob);
  assert.equal(bobs.status, 200);
  assert.ok(bobs.body.every((e: any) => e.actor === 'bob' || e.app === null), JSON.stringify(bobs.body));
  assert.ok(!bobs.body.some((e: any) => e.app === aliceApp), 'bob is no longer on the app');
  const cli = spawnSync(process.execPath, [CLI, 'audit', '-a', aliceApp, '-n', '5'], {
    env: gitEnv({ HOME: tmp, BERTH_CONFIG_DIR: tmp, BERTH_API_URL: berth.url, BERTH_TOKEN: berth.token }), encoding: 'utf8', timeout: 60_000,
  });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /admin\s+PATCH \/apps\/:app\/config\s+/);
});
