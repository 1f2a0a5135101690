// Issue 14, fuzzing the edges: random and hostile input at every API route (enumerated from
// src/api/routes/*.ts and the console's live routes), at app and domain names, config keys and values,
// Procfiles and .dockerignore files, and malformed git pkt-lines at the git receiver. Every answer must
// be < 500, API errors JSON {error, message}; the server stays up; another team's running app, its
// releases, config and domains, and the users are unchanged afterwards. Bounded: fixed seeds and run
// counts (well under a minute of fuzzing), and only loopback addresses anywhere in the input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { startCaddy, type TestCaddy } from '../support/caddy.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startBerth, viaRouter, TEST_IMAGE, type BerthServer } from '../support/berth.ts';
import { ScratchRepos } from '../support/scratch-repos.ts';
import { gitEnv } from '../support/git-env.ts';
import { parseProcfile } from '../../src/builder/procfile.ts';
import { dockerignoreFilter } from '../../src/builder/dockerignore.ts';
import { BuildError } from '../../src/builder/errors.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SEED = 20261203;
const VICTIM = 'victim';
const SANDBOX = 'sandbox'; // the fuzzing member's own app: valid input may change it, nothing else

// ---- the routes, read from the sources so a new route is fuzzed without anyone remembering to ----------

interface Route { method: string; path: string }

/** Where each routes file is mounted (src/api/app.ts); a file missing here fails the test. */
const MOUNTS: Record<string, string> = {
  'access.ts': '/api/v1/apps', 'alerts.ts': '/api/v1/apps', 'apps.ts': '/api/v1/apps', 'config.ts': '/api/v1/apps',
  'domains.ts': '/api/v1/apps', 'metrics.ts': '/api/v1/apps', 'ps.ts': '/api/v1/apps', 'releases.ts': '/api/v1/apps',
  'admin.ts': '/api/v1/admin', 'audit.ts': '/api/v1/audit', 'hosts.ts': '/api/v1/hosts', 'session.ts': '/api/v1/session',
  'tokens.ts': '/api/v1/tokens', 'users.ts': '/api/v1/users',
  // Mounted under /api/v1/apps too (https.ts by domains.ts).
  'https.ts': '/api/v1/apps', 'stopping.ts': '/api/v1/apps', 'run.ts': '/api/v1/apps', 'run-detached.ts': '/api/v1/apps',
  'reviews.ts': '/api/v1/apps', 'connection.ts': '/api/v1/apps', 'addons.ts': '/api/v1/apps', 'backup.ts': '/api/v1/admin',
  'canary.ts': '/api/v1/apps',
  'autoscale.ts': '/api/v1/apps',
  'backups.ts': '/api/v1/addons',
  // Outside /api/v1: a git host's webhooks (its routes are hooks.post, not fuzzed as API routes here).
  'git-hooks.ts': '/hooks',
};

function enumerateRoutes(): Route[] {
  const routes: Route[] = [];
  const read = (file: string, prefix: (p: string) => string) => {
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/\bapi\.(get|post|put|patch|delete)\('([^']*)'/g)) {
      routes.push({ method: m[1]!.toUpperCase(), path: prefix(m[2]!).replace(/\/$/, '') || '/' });
    }
  };
  const dir = path.join(ROOT, 'src/api/routes');
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const mount = MOUNTS[name];
    assert.ok(mount, `src/api/routes/${name} is new: add where it is mounted to MOUNTS in this test`);
    // metrics.ts also holds the server-wide Prometheus route, mounted at /metrics.
    read(path.join(dir, name), (p) => (name === 'metrics.ts' && p === '/' ? '/metrics' : mount + p));
  }
  read(path.join(ROOT, 'src/web/live-routes.ts'), (p) => `/api/v1${p}`);
  return routes;
}

// ---- hostile input --------------------------------------------------------------------------------------

/** Only loopback addresses: the fuzz must never make Berth reach another machine (webhooks, image pulls). */
const HOSTILE_STRINGS = [
  '', ' ', '\u0000', '\u0000admin', '..', '../..', '../../../../etc/passwd', '%2e%2e%2f', '%zz', '%', '/', '//', '\\', '.git',
  'victim', 'VICTIM', 'ｖｉｃｔｉｍ', 'victim\u0000', 'sandbox/../victim', 'admin', 'fuzzer', 'web', 'web.1', 'release', 'v1', '1', '0', '-1',
  '99999999999999999999', '1e309', 'NaN', 'Infinity', '0x10', 'true', 'null', 'undefined', '__proto__', 'constructor', 'prototype',
  'hasOwnProperty', 'toString', '\r\nX-Injected: 1', '\u202egnp.exe', '🚀', '👩‍👩‍👧‍👦'.repeat(50), 'a'.repeat(300), 'a'.repeat(70_000),
  "'; DROP TABLE apps; --", '" OR 1=1 --', '${jndi:ldap://127.0.0.1:1/a}', '$(touch /tmp/berth-fuzz-pwned)', '`id`', '<script>alert(1)</script>',
  '*', '*.localhost', '*.*', 'victim.localhost', 'victim.localhost.', 'VICTIM.LOCALHOST', 'xn--vctim-0ra.localhost', '*a*a*a*a*a*a*a*a*a*a*a*a*b',
  '(a+)+$', '(?<x>', '[', '.*', '**/*', 'PORT', 'BERTH_APP', 'DYNO', 'http://127.0.0.1:2019/stop', 'http://[::1]:1/', 'http://localhost:9/',
  'file:///etc/passwd', 'gopher://127.0.0.1:25/', 'unix:/var/run/docker.sock', '127.0.0.1:1/none:latest', 'sha256:' + '0'.repeat(64),
  '127.0.0.1:1/victim:v1', 'refs/heads/main', 'main', 'HEAD', 'dev:main', '1h', '-1h', '999999d', '0s', 'read', 'deploy', 'full',
];

const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
);

const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { weight: 5, arbitrary: hostileString },
    { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(-0)) },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }) },
  ),
})).value;

/** Keys the routes read, so hostile values reach their checks; plus random keys. */
const BODY_KEYS = [
  'name', 'role', 'hostname', 'image', 'confirm', 'deployBranch', 'scheduler', 'updates', 'type', 'quantity', 'memoryMB', 'cpus', 'user',
  'token', 'scope', 'expires', 'expiresIn', 'description', 'version', 'condition', 'webhook', 'url', 'threshold', 'window', 'host', 'hostKey',
  'GREETING', 'PORT', '__proto__', 'constructor',
];

const body = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom(...BODY_KEYS), hostileString), hostileValue, { maxKeys: 5 }).map((o) => JSON.stringify(o)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom('{', '{"name":', '[]', 'null', '"x"', '{"a":1}{"b":2}', '\u0000', '{"__proto__":{"admin":true}}', ' ') },
  { weight: 1, arbitrary: hostileString },
);

const contentType = fc.constantFrom('application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x', 'application/json; charset=utf-16', undefined);

/**
 * Keeps the fuzz on this machine whatever it generates: a URL (a webhook) that parses with another host
 * points at loopback instead, and an `image` that could be pulled from a public registry gets a loopback
 * registry that refuses connections.
 */
function loopbackOnly(text: string | undefined): string | undefined {
  if (text === undefined) return text;
  let value: unknown;
  try { value = JSON.parse(text); } catch { return text; }
  const fix = (v: unknown, key: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => fix(x, key));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fix(x, k)]));
    if (typeof v !== 'string') return v;
    if (key === 'image' && !/^(127\.0\.0\.1:1\/|sha256:)/.test(v)) return `127.0.0.1:1/${v}`;
    try {
      const host = new URL(v).hostname;
      if (host && !['127.0.0.1', '[::1]', 'localhost'].includes(host)) return `http://127.0.0.1:1/${encodeURIComponent(v)}`;
    } catch { /* not a URL */ }
    return v;
  };
  return JSON.stringify(fix(value, ''));
}

// ---- the server under attack --------------------------------------------------------------------------

let caddy: TestCaddy;
let registry: TestRegistry;
let berth: BerthServer;
let member = '';
let work = '';

interface Answer { status: number; contentType: string; text: string }

/** One request with a deadline; streams (follow=1, events) are cut after their first bytes. */
async function send(method: string, url: string, init: { token?: string | null; auth?: string; body?: string; type?: string } = {}): Promise<Answer> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 15_000);
  try {
    const headers: Record<string, string> = {};
    if (init.auth !== undefined) headers.authorization = init.auth;
    else if (init.token) headers.authorization = `Bearer ${init.token}`;
    if (init.type) headers['content-type'] = init.type;
    const res = await fetch(`${berth.url}${url}`, {
      method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : init.body, signal: abort.signal, redirect: 'manual',
    });
    const type = res.headers.get('content-type') ?? '';
    if (/event-stream|ndjson/.test(type) && res.status < 300) {
      await res.body?.cancel();
      return { status: res.status, contentType: type, text: '' };
    }
    return { status: res.status, contentType: type, text: await res.text() };
  } finally {
    clearTimeout(timer);
  }
}

function checkAnswer(what: string, answer: Answer, json = true): void {
  assert.ok(answer.status < 500, `${what} → ${answer.status} ${answer.text.slice(0, 300)}\n--- server log ---\n${berth.output.slice(-3000)}`);
  if (!json || answer.status < 400) return;
  let parsed: { error?: unknown; message?: unknown };
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    assert.fail(`${what} → ${answer.status} is not JSON: ${answer.text.slice(0, 200)}`);
  }
  assert.equal(typeof parsed.error, 'string', `${what}: ${answer.text.slice(0, 200)}`);
  assert.equal(typeof parsed.message, 'string', `${what}: ${answer.text.slice(0, 200)}`);
}

/** Everything of other tenants the fuzz must not change, as the admin sees it. */
async function snapshot(): Promise<unknown> {
  const get = async (route: string) => (await berth.ok('GET', route));
  const apps = (await get('/apps')).map((a: { name: string; currentRelease: number | null; domains: string[]; deployBranch: string; status: string }) =>
    ({ name: a.name, currentRelease: a.currentRelease, domains: a.domains, deployBranch: a.deployBranch, status: a.status }))
    .filter((a: { name: string }) => a.name === VICTIM || !sandboxFamily(a.name));
  return {
    apps,
    releases: (await get(`/apps/${VICTIM}/releases`)).map((r: { version: number; status: string; image: string }) => [r.version, r.status, r.image]),
    config: await get(`/apps/${VICTIM}/config`),
    // A name's certificate state moves on by itself (pending, then issued or failed): not the fuzz's doing.
    domains: (await get(`/apps/${VICTIM}/domains`)).map((d: { hostname: string; kind: string }) => ({ hostname: d.hostname, kind: d.kind })),
    formation: await get(`/apps/${VICTIM}/formation`),
    access: await get(`/apps/${VICTIM}/access`),
    users: (await get('/users')).map((u: { name: string; role: string }) => [u.name, u.role]),
  };
}

/** Apps the fuzzing member may have created with a valid random name: theirs to change. */
const memberApps = new Set<string>();
const sandboxFamily = (name: string) => name === SANDBOX || memberApps.has(name);

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fuzz-'));
  member = (await berth.ok('POST', '/users', { name: 'fuzzer' })).token;
  await berth.ok('POST', '/apps', { name: VICTIM });
  await berth.ok('PATCH', `/apps/${VICTIM}/config`, { GREETING: 'victim-ok', SECRET_KEY: 's3cret' });
  await berth.ok('POST', `/apps/${VICTIM}/deploys`, { image: TEST_IMAGE });
  await berth.ok('POST', `/apps/${VICTIM}/domains`, { hostname: 'www.victim.example' });
  const created = await berth.api('POST', '/apps', { name: SANDBOX }, member);
  assert.equal(created.status, 201, JSON.stringify(created.body));
});

after(async () => {
  if (berth) {
    const names = ((await berth.api('GET', '/apps')).body as Array<{ name: string }>).map((a) => a.name);
    for (const name of names) await berth.api('DELETE', `/apps/${name}`, { confirm: name });
  }
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('fuzzing every API route, names, config, Procfiles, .dockerignore and git', () => {
  let before: unknown;
  test('snapshot of what the fuzz must not change', async () => {
    before = await snapshot();
    assert.match((await viaRouter(caddy.httpPort, `${VICTIM}.localhost`)).body, /greeting=victim-ok/);
  });

  test('every route, any method it has, hostile path, query, headers and body: < 500, JSON errors', { timeout: 120_000 }, async () => {
    const routes = enumerateRoutes();
    assert.ok(routes.length >= 45, `only ${routes.length} routes found in src/api/routes`);
    const segment = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(VICTIM, SANDBOX, SANDBOX, 'fuzzer', 'admin', 'web.1', '1', 'v1', 'nope') },
      { weight: 2, arbitrary: hostileString.map((s) => encodeURIComponent(s)) },
      { weight: 1, arbitrary: fc.constantFrom('%zz', '%', '%00', '..%2f..%2fusers', '%ff%fe', '.', '..') },
    );
    const query = fc.dictionary(fc.oneof(fc.constantFrom('since', 'until', 'grep', 'tail', 'follow', 'limit', 'before', 'app', 'user', 'step', 'process', 'instance', 'type'), hostileString), hostileString, { maxKeys: 3 })
      .map((q) => Object.entries(q).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));
    const who = fc.constantFrom('member', 'member', 'member', 'member', 'anonymous', 'garbage', 'admin-read');
    const garbageAuth = fc.constantFrom('Bearer', 'Bearer \u00ff', 'Basic Og==', `Bearer ${'x'.repeat(5000)}`, 'Bearer a b', 'Negotiate x', '');
    const request = fc.record({
      route: fc.constantFrom(...routes), segments: fc.array(segment, { minLength: 3, maxLength: 3 }), query, body, type: contentType, who, garbageAuth,
    });
    let count = 0;
    const statuses = new Map<number, number>();
    await fc.assert(fc.asyncProperty(request, async (r) => {
      // The admin only reads: a valid admin write is allowed to change things.
      const method = r.who === 'admin-read' ? 'GET' : r.route.method;
      let i = 0;
      const url = r.route.path.replace(/:[a-z]+/g, () => r.segments[i++]!) + (r.query ? `?${r.query}` : '');
      const auth = r.who === 'garbage' ? r.garbageAuth : undefined;
      const token = r.who === 'member' ? member : r.who === 'admin-read' ? berth.token : null;
      // A valid name might create an app of the member's: theirs, cleaned up with the others.
      if (method === 'POST' && r.route.path === '/api/v1/apps' && r.body) {
        try { const name = (JSON.parse(r.body) as { name?: unknown }).name; if (typeof name === 'string') memberApps.add(name); } catch { /* not JSON */ }
      }
      count++;
      const answer = await send(method, url, { token, auth, body: loopbackOnly(r.body), type: r.type });
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      checkAnswer(`${r.who} ${method} ${url}`, answer, url.startsWith('/api/'));
    }), { seed: SEED, numRuns: 700, endOnFailure: true });
    assert.equal(count, 700);
    console.log(`${routes.length} routes, 700 requests, answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
    assert.ok([...statuses.keys()].some((st) => st >= 200 && st < 300), 'no request got through at all: the fuzz tested nothing past the checks');
  });

  test('domain names: only valid ones outside BERTH_DOMAIN are ever stored, nothing else changes', { timeout: 60_000 }, async () => {
    const hostname = fc.oneof(
      hostileString,
      fc.domain(),
      fc.tuple(fc.constantFrom('*.', '', 'www.', 'WWW.', 'xn--'), fc.domain(), fc.constantFrom('', '.', '..', '.localhost', '.localhost.')).map((p) => p.join('')),
      fc.webSegment().map((s) => `${s}.localhost`),
    );
    await fc.assert(fc.asyncProperty(hostname, async (name) => {
      const answer = await send('POST', `/api/v1/apps/${SANDBOX}/domains`, { token: member, body: JSON.stringify({ hostname: name }), type: 'application/json' });
      checkAnswer(`domain ${JSON.stringify(name)}`, answer);
      if (answer.status === 201) {
        const stored = JSON.parse(answer.text).hostname as string;
        assert.ok(!stored.startsWith('*') && !/(^|\.)localhost$/.test(stored), `a member got ${stored}`);
        assert.match(stored, /^[a-z0-9.-]+$/);
      }
    }), { seed: SEED, numRuns: 120, endOnFailure: true });
    assert.match((await viaRouter(caddy.httpPort, `${VICTIM}.localhost`)).body, /greeting=victim-ok/);
  });

  test('app names and config: < 500, and config only on the member\'s own app', { timeout: 60_000 }, async () => {
    await fc.assert(fc.asyncProperty(hostileValue, async (name) => {
      if (typeof name === 'string') memberApps.add(name);
      checkAnswer(`app name ${JSON.stringify(name)?.slice(0, 80)}`, await send('POST', '/api/v1/apps', { token: member, body: JSON.stringify({ name }), type: 'application/json' }));
    }), { seed: SEED, numRuns: 100, endOnFailure: true });
    const config = fc.dictionary(fc.oneof(hostileString, fc.constantFrom('GREETING', 'PORT', 'BERTH_DOCKERFILE', 'BERTH_BUILD_ARGS', '__proto__', 'a'.repeat(200))), hostileValue, { minKeys: 1, maxKeys: 4 });
    await fc.assert(fc.asyncProperty(config, fc.constantFrom(SANDBOX, VICTIM), async (vars, app) => {
      const answer = await send('PATCH', `/api/v1/apps/${app}/config`, { token: member, body: JSON.stringify(vars), type: 'application/json' });
      checkAnswer(`config ${app}`, answer);
      if (app === VICTIM) assert.equal(answer.status, 404);
    }), { seed: SEED, numRuns: 120, endOnFailure: true });
  });

  test('Procfile and .dockerignore parsers: a result or a BuildError, quickly, for any text', () => {
    const lines = fc.array(fc.oneof(hostileString, fc.constantFrom('web: node server.js', 'release: ./migrate', 'worker:', ':', 'WEB: x', 'web: a\u0000b', '!*', '**', '\\', '[', '[!]', '#x', '!', '/', '../..')), { maxLength: 30 });
    fc.assert(fc.property(lines, fc.array(hostileString, { maxLength: 5 }), (text, paths) => {
      for (const run of [() => parseProcfile(text.join('\n')), () => { const keep = dockerignoreFilter(text.join('\r\n'), []); paths.forEach((p) => keep(p)); }]) {
        const started = performance.now();
        try { run(); } catch (err) { assert.ok(err instanceof BuildError, `not a BuildError: ${(err as Error).stack}`); }
        assert.ok(performance.now() - started < 500, 'parsing took longer than 500 ms');
      }
    }), { seed: SEED, numRuns: 500 });
  });

  test('malformed pkt-lines, huge refs and bad lengths at the git receiver: < 500, refs unchanged', { timeout: 120_000 }, async () => {
    const basic = (token: string) => `Basic ${Buffer.from(`x:${token}`).toString('base64')}`;
    const refsBefore = await lsRemote(SANDBOX);
    const pkt = (payload: string) => `${(payload.length + 4).toString(16).padStart(4, '0')}${payload}`;
    const sha = fc.constantFrom('0'.repeat(40), 'f'.repeat(40), 'z'.repeat(40), '1'.repeat(64), '', 'HEAD');
    const part = fc.oneof(
      fc.tuple(sha, sha, fc.oneof(hostileString, fc.constantFrom('refs/heads/main', 'refs/heads/' + 'a'.repeat(65_000), 'refs/../../x', 'refs/heads/main\u0000report-status side-band-64k')))
        .map(([a, b, ref]) => pkt(`${a} ${b} ${ref}\n`)),
      fc.constantFrom('0000', '0001', '0002', '0003', '0004', 'ffff', 'zzzz', '00', '10000', 'PACK', 'PACK\u0000\u0000\u0000\u0002\u0000\u0000\u0000\u0001'),
      fc.integer({ min: 5, max: 0xffff }).map((n) => `${n.toString(16).padStart(4, '0')}short`),
      hostileString,
    );
    const gitRequest = fc.record({
      parts: fc.array(part, { maxLength: 6 }),
      app: fc.constantFrom(`${SANDBOX}.git`, `${VICTIM}.git`, SANDBOX, '..%2fvictim.git', '%zz.git', 'a'.repeat(300)),
      service: fc.constantFrom('git-receive-pack', 'git-upload-pack', 'git-upload-archive', 'info/refs', 'HEAD', '..%2f..%2fconfig'),
      type: fc.constantFrom('application/x-git-receive-pack-request', 'application/x-git-upload-pack-request', 'text/plain', undefined),
      get: fc.boolean(),
    });
    await fc.assert(fc.asyncProperty(gitRequest, async (g) => {
      const answer = g.get
        ? await send('GET', `/git/${g.app}/info/refs?service=${encodeURIComponent(g.service)}`, { auth: basic(member) })
        : await send('POST', `/git/${g.app}/${g.service}`, { auth: basic(member), body: g.parts.join(''), type: g.type });
      checkAnswer(`git ${g.get ? 'GET info/refs' : 'POST'} ${g.app} ${g.service}`, answer, false);
    }), { seed: SEED, numRuns: 150, endOnFailure: true });
    assert.deepEqual(await lsRemote(SANDBOX), refsBefore);
  });

  // One real push (a build takes tens of seconds on a busy machine, so the Procfile always ends with a line
  // that refuses it before the engine builds): through git, the hook, the planning worker and back.
  test('a push with a hostile Procfile and .dockerignore is refused cleanly', { timeout: 120_000 }, async () => {
    const repos = new ScratchRepos(work, path.join(ROOT, 'test/fixtures/push'));
    const samples = fc.sample(fc.record({
      procfile: fc.array(fc.oneof(hostileString, fc.constantFrom('web: node .berth/static-server.mjs', 'release: true', 'web:')), { minLength: 1, maxLength: 5 })
        .map((lines) => [...lines, 'WEB: uppercase types are refused']),
      dockerignore: fc.array(fc.oneof(hostileString, fc.constantFrom('*', '!index.html', '**', '[')), { maxLength: 8 }),
    }), { seed: SEED, numRuns: 1 });
    for (const [n, sample] of samples.entries()) {
      const repo = repos.create({ Procfile: sample.procfile.join('\n'), '.dockerignore': sample.dockerignore.join('\n') }, 'static-site');
      const result = await gitPush(repo, n === 0 ? [] : ['--force']);
      console.log(`push ${n + 1}: ${/deployed to/.test(result.output) ? 'deployed' : 'refused'}: ${result.output.split('\n').find((l) => /Push rejected|deployed to/.test(l))?.trim()}`);
      assert.notEqual(result.code, 0, result.output);
      assert.match(result.output, /remote: !\s+Push rejected: .*(Procfile|\.dockerignore)/);
      assert.equal((await berth.api('GET', '/health')).status, 200);
    }
  });

  test('afterwards: the server is up, the victim answers, and nothing of theirs changed', async () => {
    assert.equal((await berth.api('GET', '/health')).status, 200);
    assert.match((await viaRouter(caddy.httpPort, `${VICTIM}.localhost`)).body, /greeting=victim-ok/);
    assert.match((await viaRouter(caddy.httpPort, 'www.victim.example')).body, /greeting=victim-ok/);
    assert.deepEqual(await snapshot(), before);
    assert.equal((await berth.api('GET', '/users/me', undefined, berth.token)).status, 200, 'the admin token still works');
    assert.ok(!fs.existsSync('/tmp/berth-fuzz-pwned'), 'no input ever reached a shell');
  });
});

function lsRemote(app: string): Promise<string> {
  return run('git', ['ls-remote', `http://x:${member}@127.0.0.1:${berth.port}/git/${app}.git`]).then((r) => r.output);
}

function gitPush(repo: string, extra: string[]): Promise<{ code: number; output: string }> {
  return run('git', ['-C', repo, 'push', ...extra, `http://x:${member}@127.0.0.1:${berth.port}/git/${SANDBOX}.git`, 'HEAD:main']);
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: gitEnv() });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}
