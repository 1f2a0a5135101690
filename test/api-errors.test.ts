// Bad input gets a clear JSON error with the right status, and changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCaddy } from './support/caddy.ts';
import { startBerth, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
const app = uniqueName('err');

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy, { BERTH_MAX_INSTANCES: '4', BERTH_MAX_BODY_BYTES: '4096' });
  await berth.ok('POST', '/apps', { name: app });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
});

async function expectError(method: string, route: string, body: unknown, status: number, code: string, message?: RegExp, token?: string | null) {
  const res = await berth.api(method, route, body, token === undefined ? berth.token : token);
  assert.equal(res.status, status, `${method} ${route}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error, code);
  assert.equal(typeof res.body.message, 'string');
  if (message) assert.match(res.body.message, message);
}

test('health needs no token; everything else needs a valid one', async () => {
  assert.equal((await berth.api('GET', '/health', undefined, null)).status, 200);
  await expectError('GET', '/apps', undefined, 401, 'unauthorized', /Missing API token/, null);
  await expectError('GET', '/apps', undefined, 401, 'unauthorized', /Invalid API token/, 'berth_wrong');
});

test('invalid, duplicate and unknown app names', async () => {
  for (const name of ['A', 'UPPER', '1abc', 'a', 'has_underscore', 'trailing-', 'dou--ble', 'x'.repeat(31), '../etc', 42, null]) {
    await expectError('POST', '/apps', { name }, 400, 'invalid_app_name', /Invalid app name/);
  }
  await expectError('POST', '/apps', { name: app }, 409, 'conflict', /already exists/);
  await expectError('GET', '/apps/no-such-app', undefined, 404, 'not_found', /App "no-such-app" not found/);
  await expectError('POST', '/apps/no-such-app/deploys', { image: TEST_IMAGE }, 404, 'not_found');
  await expectError('GET', '/nope', undefined, 404, 'not_found', /No such endpoint/);
});

test('invalid config keys and values change nothing', async () => {
  await expectError('PATCH', `/apps/${app}/config`, { 'BAD-KEY': 'x' }, 400, 'invalid_config_key');
  await expectError('PATCH', `/apps/${app}/config`, { '1ABC': 'x' }, 400, 'invalid_config_key');
  await expectError('PATCH', `/apps/${app}/config`, { PORT: '80' }, 400, 'invalid_config_key', /set by Berth/);
  await expectError('PATCH', `/apps/${app}/config`, { GOOD: 'x', OTHER: 5 }, 400, 'invalid_config_value');
  await expectError('PATCH', `/apps/${app}/config`, {}, 400, 'bad_request');
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/config`), {});
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/releases`), []);
});

test('an image that does not exist is refused and creates no release', async () => {
  await expectError('POST', `/apps/${app}/deploys`, { image: 'no-such-image-anywhere:1.0' }, 422, 'image_not_found', /does not exist/);
  await expectError('POST', `/apps/${app}/deploys`, { image: '' }, 400, 'invalid_image');
  await expectError('POST', `/apps/${app}/deploys`, {}, 400, 'invalid_image');
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/releases`), []);
});

test('scale beyond the maximum, unknown process types and bad sizes are refused', async () => {
  await expectError('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 5 }] }, 400, 'invalid_quantity', /At most 4/);
  await expectError('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: -1 }] }, 400, 'invalid_quantity');
  await expectError('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 1.5 }] }, 400, 'invalid_quantity');
  await expectError('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'worker', quantity: 1 }] }, 400, 'invalid_process_type', /known: web/);
  await expectError('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', memoryMB: 1 }] }, 400, 'invalid_size');
  await expectError('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', cpus: 0 }] }, 400, 'invalid_size');
  await expectError('PATCH', `/apps/${app}/formation`, { web: 2 }, 400, 'bad_request');
});

test('malformed JSON, oversized bodies, bad domains and rollbacks without history', async () => {
  await expectError('POST', '/apps', '{"name": ', 400, 'invalid_json');
  await expectError('POST', '/apps', '[1,2]', 400, 'invalid_json');
  await expectError('POST', '/apps', JSON.stringify({ name: 'big', pad: 'x'.repeat(10_000) }), 413, 'payload_too_large');
  assert.equal((await berth.api('GET', '/apps/big')).status, 404);
  await expectError('POST', `/apps/${app}/domains`, { hostname: 'not a host' }, 400, 'invalid_hostname');
  await expectError('POST', `/apps/${app}/domains`, { hostname: 'localhost' }, 400, 'invalid_hostname');
  await expectError('POST', `/apps/${app}/domains`, { hostname: `${app}.localhost` }, 409, 'conflict');
  await expectError('DELETE', `/apps/${app}/domains/nope.example.com`, undefined, 404, 'not_found');
  await expectError('POST', `/apps/${app}/rollback`, {}, 400, 'invalid_rollback');
  await expectError('POST', `/apps/${app}/rollback`, { version: 'v99' }, 404, 'not_found');
  await expectError('POST', `/apps/${app}/rollback`, { version: 'latest' }, 400, 'invalid_version');
  await expectError('GET', `/apps/${app}/logs?tail=abc`, undefined, 400, 'bad_request');
});
