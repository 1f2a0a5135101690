// Real HTTPS for custom domains, end to end: a real ACME CA (pebble, with pebble-challtestsrv answering
// DNS), a private Caddy that validates challenges on its own listeners, a real Berth server and the CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startCaddy, type TestCaddy } from './support/caddy.ts';
import { cliOutput, runCliSync } from './support/cli.ts';
import { startPebble, type TestPebble } from './support/pebble.ts';
import { startBerth, eventually, uniqueName, viaRouter, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { CaddyAdminClient } from '../src/router/caddy/admin-client.ts';
import { ACME_TLS_POLICY_ID } from '../src/router/caddy/tls-config.ts';
import type { Domain } from '../src/wire/types.ts';


let caddy: TestCaddy;
let pebble: TestPebble;
let berth: BerthServer;
let admin: CaddyAdminClient;
let memberToken: string;
const certDirs: string[] = [];
const app = uniqueName('tls');
const site = `${app}.example.com`;
const good = `www.${site}`;
const bad = `nodns.${site}`;

before(async () => {
  caddy = await startCaddy();
  pebble = await startPebble(caddy);
  berth = await startBerth(caddy, {
    BERTH_ACME_CA: pebble.directoryUrl, BERTH_ACME_CA_ROOTS: pebble.listenerCaFile, BERTH_ACME_EMAIL: 'ops@berth.example.com',
  });
  admin = new CaddyAdminClient(caddy.adminUrl);
  memberToken = (await berth.ok('POST', '/users', { name: 'mallory', role: 'member' })).token;
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app }); // its instance must not outlive the test
  await berth?.kill('SIGTERM');
  await pebble?.stop();
  await caddy?.stop();
  await Promise.all(certDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

const cli = (token: string, ...args: string[]) => runCliSync({ url: berth.url, token }, args, { timeoutMs: 60_000 });
const ok = (...args: string[]) => cliOutput(cli(berth.token, ...args), args);

const domains = async () => (await berth.ok('GET', `/apps/${app}/domains`)) as Domain[];
const certificateOf = async (name: string) => (await domains()).find((d) => d.hostname === name)?.certificate;

/** curl over HTTPS to Caddy, trusting only pebble's root: success means the chain was signed by pebble. */
async function curlHttps(name: string, caFile = pebble.issuingRootFile): Promise<string> {
  const { stdout } = await promisify(execFile)('curl', [
    '-sS', '--fail', '--max-time', '10', '--cacert', caFile,
    '--resolve', `${name}:${caddy.httpsPort}:127.0.0.1`, `https://${name}:${caddy.httpsPort}/`,
  ]);
  return stdout;
}

test('domains:add gets a certificate from the ACME CA; curl trusting only its root gets the app', async () => {
  const body = (await viaRouter(caddy.httpPort, `${app}.localhost`)).body;
  ok('domains:add', app, good);
  const issued = await eventually(`a certificate for ${good}`, async () => {
    const cert = await certificateOf(good);
    return cert?.state === 'issued' ? cert : undefined;
  }, 60_000);
  assert.match(issued.issuer ?? '', /Pebble/i);
  assert.ok(Date.parse(issued.expiresAt!) > Date.now() + 24 * 3600_000, `expires ${issued.expiresAt}`);
  assert.equal(await curlHttps(good), body);
  const listed = ok('domains', app);
  assert.match(listed, new RegExp(`${good.replace(/\./g, '\\.')}\\s+custom\\s+issued, expires \\d{4}-\\d\\d-\\d\\d`));
  assert.match(listed, new RegExp(`${app}\\.localhost\\s+default\\s+internal`));
  const policy = await admin.get<{ subjects: string[]; issuers: Array<{ ca: string; email: string }> }>(`/id/${ACME_TLS_POLICY_ID}`);
  assert.deepEqual(policy.subjects, [good]);
  assert.equal(policy.issuers[0]!.ca, pebble.directoryUrl);
  assert.equal(policy.issuers[0]!.email, 'ops@berth.example.com');
});

test('a name the CA cannot validate shows failed with the reason, and keeps answering on HTTP', async () => {
  await pebble.failDns(bad);
  ok('domains:add', app, bad);
  const failed = await eventually(`a failure for ${bad}`, async () => {
    const cert = await certificateOf(bad);
    return cert?.state === 'failed' ? cert : undefined;
  }, 60_000);
  assert.match(failed.reason ?? '', new RegExp(bad.replace(/\./g, '\\.')));
  const listed = ok('domains', app);
  assert.match(listed, new RegExp(`${bad.replace(/\./g, '\\.')}\\s+custom\\s+failed`));
  assert.ok(listed.includes(`${bad}: ${failed.reason}`), listed);
  const plain = await viaRouter(caddy.httpPort, bad);
  assert.equal(plain.status, 200);
  assert.equal(plain.body, (await viaRouter(caddy.httpPort, `${app}.localhost`)).body);
});

test('apps:https --redirect on sends plain HTTP to HTTPS; off serves HTTP again', async () => {
  assert.match(ok('apps:https', app), /redirect: off/);
  const body = (await viaRouter(caddy.httpPort, `${app}.localhost`)).body;
  ok('apps:https', app, '--redirect', 'on');
  const redirected = await rawHttp(good, '/path?q=1');
  assert.equal(redirected.status, 308);
  assert.equal(redirected.location, `https://${good}:${caddy.httpsPort}/path?q=1`);
  assert.equal(await curlHttps(good), body);
  // The default name has a certificate too (Caddy's internal CA), so it is redirected as well.
  assert.equal((await rawHttp(`${app}.localhost`, '/')).status, 308);
  // A release moves nothing in front of the redirect.
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  assert.equal((await rawHttp(good, '/')).status, 308);
  ok('apps:https', app, '--redirect', 'off');
  assert.equal((await rawHttp(good, '/')).status, 200);
  assert.match(ok('apps:https', app), /redirect: off/);
  assert.equal(cli(berth.token, 'apps:https', app, '--redirect', 'maybe').code, 1);
});

test('members cannot put a name into Caddy that matches everything, a placeholder, or another team\'s domain', async () => {
  const mine = uniqueName('mal');
  assert.equal((await berth.api('POST', '/apps', { name: mine }, memberToken)).status, 201);
  const refused = async (hostname: string, status: number) => {
    const res = await berth.api('POST', `/apps/${mine}/domains`, { hostname }, memberToken);
    assert.equal(res.status, status, `${hostname}: ${JSON.stringify(res.body)}`);
    assert.equal(typeof res.body.error, 'string');
    assert.equal(typeof res.body.message, 'string');
  };
  for (const hostname of ['*', '*.*', '', ' ', '.', '{http.request.host}', '{env.HOME}.example.com', 'a b.example.com', 'x.example.com,y.example.com', 'x.example.com/..']) {
    await refused(hostname, 400);
  }
  await refused(`*.${site}`, 403);          // a wildcard would take every name below it
  await refused(good, 409);                 // another team's name (and its certificate)
  await refused(good.toUpperCase(), 409);
  await refused(`${good}.`, 409);
  const res = await berth.api('POST', `/apps/${mine}/domains`, { hostname: good }, memberToken);
  assert.equal(res.body.message, `The hostname ${good} is already claimed.`, 'the owner is not named to a member who cannot see it');
  // Nor its redirect or certificates (an app a member cannot see is not found, as everywhere).
  assert.equal((await berth.api('PATCH', `/apps/${app}/https`, { redirect: true }, memberToken)).status, 404);
  assert.equal((await berth.api('GET', `/apps/${app}/domains`, undefined, memberToken)).status, 404);
  assert.equal((await berth.api('PATCH', `/apps/${mine}/https`, { redirect: 'yes' }, memberToken)).status, 400);
  const policy = await admin.get<{ subjects: string[] }>(`/id/${ACME_TLS_POLICY_ID}`);
  assert.deepEqual(policy.subjects, [bad, good].sort());
});

test('certs:add serves the team\'s own certificate for its names instead of ACME; certs:remove goes back', async () => {
  const own = `own.${site}`;
  ok('domains:add', app, own);
  const mine = await selfSigned([own]);
  assert.match(ok('certs:add', app, mine.cert, mine.key), new RegExp(`done, for ${own.replace(/\./g, '\\.')}`));
  const cert = await eventually(`${own} served with its own certificate`, async () => {
    const c = await certificateOf(own);
    return c?.state === 'custom' ? c : undefined;
  });
  assert.equal(cert.issuer, 'berth test own');
  assert.equal(await curlHttps(own, mine.cert), (await viaRouter(caddy.httpPort, `${app}.localhost`)).body);
  assert.match(ok('certs', app), new RegExp(`${own.replace(/\./g, '\\.')}\\s+\\d{4}-\\d\\d-\\d\\d\\s+berth test own`));
  const policy = await admin.get<{ subjects: string[] }>(`/id/${ACME_TLS_POLICY_ID}`);
  assert.ok(!policy.subjects.includes(own), 'a name with its own certificate gets no ACME order');
  // The name cannot be dropped while the certificate still names it (it would go to whoever claims it next).
  assert.equal(cli(berth.token, 'domains:remove', app, own).code, 1);

  ok('certs:remove', app);
  assert.match(ok('certs', app), /has no certificate of its own/);
  const back = await eventually(`${own} back on ACME`, async () => {
    const c = await certificateOf(own);
    return c?.state === 'issued' ? c : undefined;
  }, 60_000);
  assert.match(back.issuer ?? '', /Pebble/i);
  ok('domains:remove', app, own);
});

test('certs:add refuses a certificate naming another team\'s domain, a wrong key, or no certificate at all', async () => {
  const mine = uniqueName('cer');
  assert.equal((await berth.api('POST', '/apps', { name: mine }, memberToken)).status, 201);
  const theirs = await selfSigned([good]);
  const post = (certificate: unknown, key: unknown) => berth.api('POST', `/apps/${mine}/certs`, { certificate, key }, memberToken);
  const stolen = await post(await readFile(theirs.cert, 'utf8'), await readFile(theirs.key, 'utf8'));
  assert.equal(stolen.status, 403);
  assert.equal(stolen.body.error, 'certificate_names_not_allowed');
  const other = await selfSigned([`${mine}.localhost`]);
  const mismatched = await post(await readFile(other.cert, 'utf8'), await readFile(theirs.key, 'utf8'));
  assert.equal(mismatched.status, 400);
  assert.equal(mismatched.body.error, 'invalid_key');
  assert.equal((await post('not a certificate', 'nor a key')).status, 400);
  assert.equal((await post(null, undefined)).status, 400);
  // Its own default name is fine.
  assert.equal((await post(await readFile(other.cert, 'utf8'), await readFile(other.key, 'utf8'))).status, 201);
  const loaded = await admin.get<Array<{ tags: string[] }>>('/config/apps/tls/certificates/load_files');
  assert.deepEqual(loaded.map((e) => e.tags), [[`berth-cert-${mine}`]]);
});

test('removing the last custom name removes the ACME policy instead of leaving one without subjects', async () => {
  ok('domains:remove', app, bad);
  ok('domains:remove', app, good);
  assert.equal(await admin.getOrNull(`/id/${ACME_TLS_POLICY_ID}`), null);
  const policies = await admin.get<Array<{ subjects?: string[] }>>('/config/apps/tls/automation/policies');
  assert.ok(policies.every((p) => (p.subjects ?? []).length > 0), JSON.stringify(policies));
});

/** A self-signed certificate for these names (its own trust anchor for curl), in a temp dir. */
async function selfSigned(names: string[]): Promise<{ cert: string; key: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-own-cert-'));
  certDirs.push(dir);
  const files = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=berth test own',
    '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-keyout', files.key, '-out', files.cert,
  ]);
  return files;
}

/** One plain HTTP request that does not follow redirects. */
function rawHttp(host: string, route: string): Promise<{ status: number; location: string | null }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: caddy.httpPort, path: route, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location ?? null }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}
