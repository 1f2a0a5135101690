// Issue 14, hole 10 (the smaller ones), against a real server where it runs: a cross-site sign-in, a
// terminal that outlives its user's access, 500s that leak internals, an audit trail without config key
// names or failed logins (and one that an attacker could flood), build logs kept forever, and trust on
// first use for hosts' SSH keys. Each attack: the request, and that it fails cleanly with nothing lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { startCaddy } from '../support/caddy.ts';
import { startBerth, eventually, sleep, uniqueName, TEST_IMAGE, type BerthServer } from '../support/berth.ts';
import { openDb } from '../../src/state/db.ts';
import { AuditStore } from '../../src/state/audit-store.ts';
import { BuildLogStore } from '../../src/pipeline/build-log.ts';
import { hostKeyTask, keysToPin, mismatchMessage, normalizeFingerprint, parseKeyscan, sshFingerprint } from '../../installer/tasks/host-key.ts';

const PUBLIC_URL = 'http://berth.example.test:8443';
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let bob = '';
const app = uniqueName('term');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-hole10-'));

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy, { BERTH_PUBLIC_URL: PUBLIC_URL, BERTH_TERMINAL_RECHECK_MS: '1000' });
  bob = (await berth.ok('POST', '/users', { name: 'bob' })).token;
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function signIn(body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${berth.url}/api/v1/session`, { method: 'POST', body, headers });
}

function sessionCount(): number {
  const db = new Database(path.join(berth.dataDir, 'berth.db'), { readonly: true });
  try { return (db.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n; } finally { db.close(); }
}

test('POST /session: a cross-site text/plain or form post, or a foreign Origin, gets no session', async () => {
  const before = sessionCount();
  const payload = JSON.stringify({ token: bob });
  // What an attacker's page can send without a CORS preflight: text/plain (JSON-looking) and forms.
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const res = await signIn(payload, { 'content-type': type, origin: 'http://evil.example' });
    assert.equal(res.status, 415, type);
    assert.equal((await res.json()).error, 'unsupported_media_type');
    assert.equal(res.headers.get('set-cookie'), null);
  }
  const noType = await signIn(payload, {});
  assert.equal(noType.status, 415);
  const foreign = await signIn(payload, { 'content-type': 'application/json', origin: 'http://evil.example' });
  assert.deepEqual([foreign.status, (await foreign.json()).error, foreign.headers.get('set-cookie')], [403, 'cross_origin', null]);
  const bogus = await signIn(payload, { 'content-type': 'application/json', origin: 'null' });
  assert.equal(bogus.status, 403, 'a sandboxed page (Origin: null) is cross-site too');
  assert.equal(sessionCount(), before, 'no session was created by any of them');

  // Berth's own pages: same origin as the request's Host, or BERTH_PUBLIC_URL; and non-browser clients (no Origin).
  for (const origin of [berth.url, PUBLIC_URL, undefined]) {
    const res = await signIn(payload, { 'content-type': 'application/json; charset=utf-8', ...(origin ? { origin } : {}) });
    assert.equal(res.status, 200, String(origin));
    assert.match(res.headers.get('set-cookie') ?? '', /berth_session=/);
  }
  assert.equal(sessionCount(), before + 3);
});

test('a 500 says only "internal" and a request id; the detail is in the server log under that id', async () => {
  await berth.ok('POST', '/apps', { name: app });
  const members = await berth.ok('GET', `/apps/${app}/access`);
  // A real internal failure: the database refuses the write (a trigger stands in for a full disk).
  const secret = 'disk I/O error at /var/lib/berth/berth.db page 4711';
  const db = new Database(path.join(berth.dataDir, 'berth.db'));
  db.exec(`CREATE TRIGGER boom BEFORE INSERT ON app_members BEGIN SELECT RAISE(ABORT, '${secret}'); END;`);
  let res;
  try {
    res = await berth.api('POST', `/apps/${app}/access`, { user: 'bob' });
  } finally {
    db.exec('DROP TRIGGER boom');
    db.close();
  }
  assert.equal(res.status, 500);
  assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message', 'requestId']);
  assert.equal(res.body.error, 'internal');
  assert.match(res.body.requestId, /^[0-9a-f]{16}$/);
  const text = JSON.stringify(res.body);
  for (const leak of ['disk I/O', 'berth.db', '/var/lib', 'SqliteError', 'at ']) assert.ok(!text.includes(leak), `the answer leaks "${leak}": ${text}`);
  await eventually('the detail in the server log', async () => berth.output.includes(`internal error ${res.body.requestId}`) && berth.output.includes(secret));
  // Nothing half-done: bob was not added, and the same request works once the database does.
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/access`), members);
  assert.equal((await berth.api('POST', `/apps/${app}/access`, { user: 'bob' })).status, 201);
  await berth.ok('DELETE', `/apps/${app}/access/bob`);
});

test('the audit trail names config keys (never values) and records failed logins with their address', async () => {
  await berth.ok('PATCH', `/apps/${app}/config`, { API_KEY: 's3cret-value-1', DEBUG: '1' });
  await berth.ok('PATCH', `/apps/${app}/config`, { DEBUG: null });
  const refused = await berth.api('PATCH', `/apps/${app}/config`, { 'bad key': 's3cret-value-2' });
  assert.equal(refused.status, 400);
  const trail = await berth.ok('GET', `/audit?app=${app}&limit=20`) as { action: string; detail: string | null; status: number }[];
  const changes = trail.filter((r) => r.action === 'PATCH /apps/:app/config');
  assert.deepEqual(changes.map((r) => [r.status, r.detail]), [[400, 'set bad key'], [200, 'unset DEBUG'], [200, 'set API_KEY, DEBUG']]);
  assert.ok(!JSON.stringify(await berth.ok('GET', '/audit?limit=1000')).includes('s3cret-value'), 'no config value is on the trail');

  // Guessing tokens from one address: recorded, with the address, but at most 5 a minute.
  for (let i = 0; i < 12; i++) await berth.api('GET', '/apps', undefined, `berth_guess${i}`);
  await berth.api('GET', '/apps', undefined, 'berth_not-a-token'); // over the limit: not recorded
  const failures = (await berth.ok('GET', '/audit?limit=1000') as { action: string; ip: string; status: number; detail: string }[])
    .filter((r) => r.action === 'auth failed');
  assert.equal(failures.length, 5, JSON.stringify(failures));
  for (const f of failures) {
    assert.equal(f.status, 401);
    assert.match(f.ip, /127\.0\.0\.1/);
    assert.match(f.detail, /^unauthorized via GET \/api\/v1\/apps/);
  }
  const members = await berth.api('GET', '/audit?limit=1000', undefined, bob);
  assert.ok(!members.body.some((r: { action: string }) => r.action === 'auth failed'), 'members do not see others\' failed logins');
});

test('failed-login records are limited per address and overall, and say how many were skipped', () => {
  const store = new AuditStore(openDb(path.join(tmp, 'audit.db')));
  const t0 = 1_800_000_000_000;
  const recorded = (ip: string, n: number, at = t0) => Array.from({ length: n }, () => store.recordFailedAuth({ ip, reason: 'unauthorized', channel: 'git' }, at)).filter(Boolean).length;
  assert.equal(recorded('10.0.0.1', 50), 5);
  assert.equal(recorded('10.0.0.2', 3), 3);
  assert.match(store.list({ limit: 3 })[2].detail!, /; 45 more failure\(s\) not recorded \(rate limit\)$/, 'the next record tells');
  // Many addresses (an attacker with a /64) are capped overall.
  let spread = 0;
  for (let i = 0; i < 200; i++) spread += recorded(`2001:db8::${i.toString(16)}`, 1);
  assert.equal(spread, 60 - 8);
  // The next window records again, and says what the last one skipped.
  assert.equal(recorded('10.0.0.1', 1, t0 + 61_000), 1);
  const [last] = store.list({ limit: 1 });
  assert.match(last.detail!, /; 148 more failure\(s\) not recorded \(rate limit\)$/);
});

test('an open terminal closes when its user loses access, is removed, or its session ends', async () => {
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  await berth.ok('POST', `/apps/${app}/access`, { user: 'bob' });
  const carol = (await berth.ok('POST', '/users', { name: 'carol' })).token;
  await berth.ok('POST', `/apps/${app}/access`, { user: 'carol' });

  // Access taken away: bob's terminal (token) ends, and bob's config is as it was.
  const bobTerm = await openTerminal({ authorization: `Bearer ${bob}` });
  let t = Date.now();
  await berth.ok('DELETE', `/apps/${app}/access/bob`);
  let end = await bobTerm.closed;
  assert.equal(end.code, 4403);
  assert.ok(bobTerm.texts.some((m) => m.includes('Terminal closed: bob no longer has access')), bobTerm.texts.join('\n'));
  console.log(`# terminal closed ${end.at - t} ms after access was removed`);
  assert.ok(end.at - t < 5_000);

  // The user deleted: carol's terminal ends (her tokens went with her).
  const carolTerm = await openTerminal({ authorization: `Bearer ${carol}` });
  t = Date.now();
  await berth.ok('DELETE', '/users/carol');
  end = await carolTerm.closed;
  assert.equal(end.code, 4403);
  assert.ok(end.at - t < 5_000);

  // A console session signed out elsewhere: its terminal ends too.
  await berth.ok('POST', `/apps/${app}/access`, { user: 'bob' });
  const signed = await signIn(JSON.stringify({ token: bob }), { 'content-type': 'application/json' });
  const cookie = signed.headers.get('set-cookie')!.split(';')[0];
  const { csrfToken } = await signed.json();
  const sessionTerm = await openTerminal({ cookie, origin: berth.url });
  t = Date.now();
  await fetch(`${berth.url}/api/v1/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrfToken } });
  end = await sessionTerm.closed;
  assert.equal(end.code, 4403);
  assert.ok(sessionTerm.texts.some((m) => /session ended/.test(m)), sessionTerm.texts.join('\n'));
  assert.ok(end.at - t < 5_000);

  const trail = await berth.ok('GET', `/audit?app=${app}&limit=100`) as { action: string; actor: string; status: number }[];
  assert.equal(trail.filter((r) => r.action === 'terminal close' && r.status === 401).length, 3);
});

async function openTerminal(headers: Record<string, string>): Promise<{ texts: string[]; closed: Promise<{ code: number; at: number }> }> {
  await eventually('web.1 running', async () => ((await berth.ok('GET', `/apps/${app}/ps`)) as { name: string; state: string }[])
    .some((i) => i.name === 'web.1' && i.state === 'running'), 60_000);
  const ws = new WebSocket(`ws://127.0.0.1:${berth.port}/api/v1/apps/${app}/ps/web.1/terminal`, { headers });
  const texts: string[] = [];
  let output = '';
  ws.on('message', (data, isBinary) => { if (isBinary) output += data.toString(); else texts.push(data.toString()); });
  const closed = new Promise<{ code: number; at: number }>((resolve) => ws.on('close', (code) => resolve({ code, at: Date.now() })));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  await eventually('the shell answers', async () => {
    ws.send(JSON.stringify({ type: 'input', data: 'echo ok-$((40+2))\n' }));
    await sleep(300);
    return output.includes('ok-42');
  }, 15_000);
  return { texts, closed };
}

test('build logs: only the last builds of each app are kept, a destroyed app\'s go, running ones stay', async () => {
  const dir = path.join(tmp, 'data');
  let keep = new Set([3, 4]);
  const logs = new BuildLogStore(dir, { keep: () => keep });
  for (const id of [1, 2, 3]) { const w = logs.open(id); w.line(`build ${id}`); w.finish(); }
  const running = logs.open(5);
  running.line('still building');
  const w4 = logs.open(4);
  w4.line('four');
  await sleep(100); // the files are written
  w4.finish(); // a build's end prunes: 1 and 2 are not kept, 5 is running
  await sleep(100);
  const files = () => fs.readdirSync(path.join(dir, 'builds')).sort();
  assert.deepEqual(files(), ['3.log', '4.log', '5.log']);
  keep = new Set(); // the app was destroyed: its builds are gone from the database
  assert.equal(logs.prune(), 2);
  assert.deepEqual(files(), ['5.log']);
  running.finish();
});

test('hosts:add --host-key: the fingerprint check pins only the expected key and refuses any other', async () => {
  // Two real host keys, their fingerprints as ssh-keygen -lf prints them.
  const keys = ['ed25519', 'ecdsa'].map((type) => {
    const file = path.join(tmp, `host_${type}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', file]);
    const pub = fs.readFileSync(`${file}.pub`, 'utf8').trim().split(' ');
    const fingerprint = execFileSync('ssh-keygen', ['-lf', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1];
    return { type: pub[0], blob: pub[1], fingerprint };
  });
  for (const k of keys) assert.equal(sshFingerprint(Buffer.from(k.blob, 'base64')), k.fingerprint, 'the same fingerprint as ssh-keygen -lf');
  const scan = `# 10.0.0.5:22 SSH-2.0-OpenSSH_9.2\n${keys.map((k) => `10.0.0.5 ${k.type} ${k.blob}`).join('\n')}\ngarbage line\n`;
  const offered = parseKeyscan(scan);
  assert.deepEqual(offered.map((k) => k.fingerprint), keys.map((k) => k.fingerprint));
  assert.deepEqual(keysToPin(offered, keys[1].fingerprint).map((k) => k.type), [keys[1].type]);
  assert.deepEqual(keysToPin(offered, null).length, 2, 'without --host-key: trust on first use');
  const other = 'SHA256:' + 'A'.repeat(43);
  assert.deepEqual(keysToPin(offered, other), []);
  assert.match(mismatchMessage('10.0.0.5', other, offered), /did not offer the host key SHA256:A+ \(it offered ssh-ed25519 SHA256:/);
  assert.equal(normalizeFingerprint(keys[0].fingerprint.slice('SHA256:'.length)), keys[0].fingerprint);
  assert.equal(normalizeFingerprint('MD5:aa:bb'), null);

  // The installer task against a known_hosts file: a pinned key that is not the expected one stops the run.
  const knownHostsFile = path.join(tmp, 'known_hosts');
  fs.writeFileSync(knownHostsFile, `10.0.0.5 ${keys[0].type} ${keys[0].blob}\n`);
  const ctx = { run: async () => ({ code: 0, stdout: '', stderr: '' }), host: '10.0.0.5', vars: {}, checkOnly: false };
  assert.equal(await hostKeyTask({ host: '10.0.0.5', port: 22, knownHostsFile, expected: keys[0].fingerprint }).check(ctx), true);
  await assert.rejects(hostKeyTask({ host: '10.0.0.5', port: 22, knownHostsFile, expected: keys[1].fingerprint }).check(ctx), /is not SHA256:/);
  const tofu = hostKeyTask({ host: '10.0.0.5', port: 22, knownHostsFile, expected: null });
  assert.equal(await tofu.check(ctx), true);
  assert.match(tofu.name, new RegExp(`pinned on first use: ${keys[0].fingerprint.replace(/[+/]/g, '\\$&')}`), 'the fingerprint is shown');
  assert.equal(await hostKeyTask({ host: '10.0.0.6', port: 22, knownHostsFile, expected: null }).check(ctx), false, 'another host is not pinned');

  // Through the API: a malformed fingerprint is refused before anything runs.
  const bad = await berth.api('POST', '/hosts', { address: 'root@10.0.0.5', role: 'k3s-server', hostKey: 'MD5:aa:bb' });
  assert.deepEqual([bad.status, bad.body.error], [422, 'invalid_host_key']);
});
