// The decisions behind `berth up` and `berth upgrade`, without touching the machine: which settings win,
// the berth.env an installation from scripts/up.sh already has (so an unchanged machine stays [ok]), the
// addresses probed, an old Caddy autosave's admin address, and what `berth version` must print.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localApiUrl, resolveAppliance } from '../src/appliance/settings.ts';
import { movedAutosave, registryConfig, registryProbe } from '../src/appliance/services.ts';
import { parseVersionLine } from '../src/appliance/upgrade.ts';

test('settings: the environment over berth.env over the defaults; berth.env is written as up.sh wrote it', () => {
  const fresh = resolveAppliance({}, null);
  assert.equal(fresh.serverEnvText, 'BERTH_DATA_DIR=/var/lib/berth\nBERTH_API_PORT=7070\nBERTH_CADDY_ADMIN=unix:/run/berth/caddy-admin.sock\n');
  assert.equal(fresh.executable, '/usr/local/bin/berth');
  assert.equal(fresh.healthUrl, 'http://127.0.0.1:7070/api/v1/health');
  assert.equal(fresh.apiTlsUrl, 'https://berth.localhost');

  const saved = 'BERTH_DOMAIN=example.com\nBERTH_API_PORT=8080\nPATH=/evil\nnot a line\n';
  const later = resolveAppliance({ BERTH_API_PORT: '9090', BERTH_HTTPS_PORT: '8443' }, saved);
  assert.equal(later.env.BERTH_DOMAIN, 'example.com', 'a saved setting sticks');
  assert.equal(later.env.BERTH_API_PORT, '9090', 'the environment wins over the file');
  assert.equal(later.env.PATH, undefined, 'only BERTH_* keys come from the file');
  assert.equal(later.apiTlsUrl, 'https://berth.example.com:8443');
  assert.match(later.serverEnvText, /^BERTH_DATA_DIR=\/var\/lib\/berth\nBERTH_API_PORT=9090\nBERTH_DOMAIN=example.com\n/);

  // The old default (Caddy's admin on TCP 2019, reachable from every container) becomes the socket; another Caddy's is kept.
  assert.equal(resolveAppliance({ BERTH_CADDY_ADMIN: 'http://127.0.0.1:2019' }, null).env.BERTH_CADDY_ADMIN, 'unix:/run/berth/caddy-admin.sock');
  assert.equal(resolveAppliance({ BERTH_CADDY_ADMIN: 'http://10.0.0.9:2019' }, null).env.BERTH_CADDY_ADMIN, 'http://10.0.0.9:2019');
});

test('addresses: the API from this machine, the registry probe on the address it listens on', () => {
  assert.equal(localApiUrl('0.0.0.0', '7070'), 'http://127.0.0.1:7070');
  assert.equal(localApiUrl('::', '7070'), 'http://127.0.0.1:7070');
  assert.equal(localApiUrl('fd00::5', '7070'), 'http://[fd00::5]:7070');
  assert.equal(localApiUrl('10.0.0.5', '7070'), 'http://10.0.0.5:7070');
  const probe = (listen?: string) => registryProbe(resolveAppliance(listen ? { BERTH_REGISTRY_LISTEN: listen } : {}, null));
  assert.equal(probe(), 'http://127.0.0.1:5000/');
  assert.equal(probe('0.0.0.0:5000'), 'http://127.0.0.1:5000/');
  assert.equal(probe(':5001'), 'http://127.0.0.1:5001/');
  assert.equal(probe('10.0.0.5:5000'), 'http://10.0.0.5:5000/');
  assert.doesNotMatch(registryConfig(resolveAppliance({}, null)), /auth:/, 'no credential on loopback');
  assert.match(registryConfig(resolveAppliance({ BERTH_REGISTRY_LISTEN: '10.0.0.5:5000' }, null)), /auth:\n {2}htpasswd:/);
});

test('an old autosave with the admin API on TCP is moved to the socket, routes untouched; one on the socket is left', () => {
  const listen = 'unix//run/berth/caddy-admin.sock';
  const apps = { http: { servers: { berth: { routes: [{ handle: [] }] } } } };
  const moved = movedAutosave(JSON.stringify({ admin: { listen: '127.0.0.1:2019', enforce_origin: false }, apps }), listen);
  assert.deepEqual(JSON.parse(moved!), { admin: { listen, enforce_origin: false }, apps });
  assert.equal(movedAutosave(JSON.stringify({ admin: { listen }, apps }), listen), null);
});

test('berth version: the version (a release label too) is read; anything else is not a berth', () => {
  assert.equal(parseVersionLine('berth 0.1.0 (commit 0123456789ab) node-v24.22.3\n'), '0.1.0');
  assert.equal(parseVersionLine('berth 0.2.0-rc.1 (commit unknown) node-v24.22.3\n'), '0.2.0-rc.1');
  assert.equal(parseVersionLine(''), null);
  assert.equal(parseVersionLine('v24.22.3\n'), null);
  assert.equal(parseVersionLine('berth: unknown command "version"\n'), null);
});
