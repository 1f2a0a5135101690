// The pure parts of real HTTPS: which names get ACME certificates, the policy Caddy gets, and how
// Caddy's certificate log lines become each name's state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acmeNamesOf, buildAcmeTlsPolicy, buildRedirectRoute } from '../src/router/caddy/tls-config.ts';
import { certificateEvents, statusOf } from '../src/router/caddy/certificate-status.ts';
import { loadConfig } from '../src/config.ts';

test('ACME names: exact names outside Caddy\'s internal CA; none at all with internal TLS', () => {
  assert.deepEqual(acmeNamesOf(['shop.localhost', 'www.shop.com', '*.shop.com', 'api.shop.com', 'www.shop.com']), ['api.shop.com', 'www.shop.com']);
  assert.deepEqual(acmeNamesOf(['www.shop.com'], true), []);
});

test('the ACME policy always has subjects; with no names there is no policy', () => {
  const acme = { ca: 'https://ca.example/dir', email: 'ops@example.com', trustedRootsPemFiles: ['/etc/ca.pem'] };
  assert.equal(buildAcmeTlsPolicy([], acme, { httpPort: 80, httpsPort: 443 }), null);
  const policy = buildAcmeTlsPolicy(['b.example.com', 'a.example.com'], acme, { httpPort: 8080, httpsPort: 8443 })!;
  assert.deepEqual(policy.subjects, ['a.example.com', 'b.example.com']);
  assert.deepEqual(policy.issuers, [{
    module: 'acme', ca: 'https://ca.example/dir', email: 'ops@example.com', trusted_roots_pem_files: ['/etc/ca.pem'],
    challenges: { http: { alternate_port: 8080 }, 'tls-alpn': { alternate_port: 8443 } },
  }]);
  assert.equal(buildRedirectRoute('shop', [], 443), null, 'an empty host matcher would match every host');
  assert.deepEqual(buildRedirectRoute('shop', ['www.shop.com'], 443)!.handle![0]!.headers, { Location: ['https://{http.request.host}{http.request.uri}'] });
});

test('certificate log lines: the last event per name wins; a failure keeps the CA\'s reason and the retry time', () => {
  const lines = [
    '{"level":"info","ts":100,"logger":"tls.obtain","msg":"obtaining certificate","identifier":"a.example.com"}',
    '{"level":"info","ts":100,"logger":"tls.obtain","msg":"obtaining certificate","identifier":"b.example.com"}',
    '{"level":"error","ts":101,"logger":"tls.obtain","msg":"could not get certificate from issuer","identifier":"b.example.com","error":"DNS problem: NXDOMAIN looking up A for b.example.com"}',
    '{"level":"error","ts":101.5,"logger":"tls.obtain","msg":"will retry","error":"[b.example.com] Obtain: DNS problem","attempt":1,"retrying_in":60}',
    'not json, cut by a roll',
    '{"level":"info","ts":102,"logger":"tls.obtain","msg":"certificate obtained successfully","identifier":"a.example.com"}',
    '{"level":"info","ts":103,"logger":"tls.obtain","msg":"obtaining certificate","identifier":"c.example.com"}',
  ];
  const events = certificateEvents(lines);
  assert.equal(events.get('a.example.com')!.kind, 'issued');
  assert.deepEqual(statusOf(null, events.get('b.example.com')), {
    state: 'failed', reason: 'DNS problem: NXDOMAIN looking up A for b.example.com', retryAt: new Date(161_500).toISOString(),
  });
  assert.deepEqual(statusOf(null, events.get('c.example.com')), { state: 'pending' });
  // Logged as obtained but not served (yet): pending; served wins over any older failure.
  assert.deepEqual(statusOf(null, events.get('a.example.com')), { state: 'pending' });
  const served = { expiresAt: '2027-01-01T00:00:00.000Z', issuer: 'Pebble Intermediate CA' };
  assert.deepEqual(statusOf(served, events.get('b.example.com')), { state: 'issued', ...served });
});

test('BERTH_ACME_CA and BERTH_ACME_EMAIL: Let\'s Encrypt by default, bad values stop the server', () => {
  assert.equal(loadConfig({}).acme.ca, 'https://acme-v02.api.letsencrypt.org/directory');
  assert.deepEqual(loadConfig({ BERTH_ACME_CA: 'https://ca.example/dir', BERTH_ACME_EMAIL: 'ops@example.com' }).acme,
    { ca: 'https://ca.example/dir', email: 'ops@example.com' });
  assert.throws(() => loadConfig({ BERTH_ACME_CA: 'http://ca.example/dir' }), /BERTH_ACME_CA/);
  assert.throws(() => loadConfig({ BERTH_ACME_EMAIL: 'not an email' }), /BERTH_ACME_EMAIL/);
});
