// Issue 12, "Maintenance mode and stopping", through the CLI on the Docker scheduler: maintenance:on/off with
// the default page and a framed MAINTENANCE_PAGE_URL (never fetched by Berth; Caddy placeholders and markup
// in it are inert), apps:stop/start and ps:stop by type. The scheduler contract part runs against both
// schedulers in test/scheduler/conformance.case.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { cliOutput, runCliSync } from './support/cli.ts';
import { startBerth, eventually, uniqueName, viaRouter, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { CaddyAdminClient } from '../src/router/caddy/admin-client.ts';
import { maintenancePage } from '../src/router/maintenance-page.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let home: string;
const app = uniqueName('mnt');
const host = `${app}.localhost`;
const get = () => viaRouter(caddy.httpPort, host);

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy);
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-maintenance-'));
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 2 }] });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

const berthCli = (...args: string[]) => runCliSync({ url: berth.url, token: berth.token, home }, args, { timeoutMs: 120_000 });
const ok = (...args: string[]) => cliOutput(berthCli(...args), args);

/** A request through Caddy carrying a cookie (fetch() may not set Host). */
function withCookie(cookie: string): Promise<{ status: number; contentType: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: caddy.httpPort, path: '/', headers: { host, cookie }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }));
    }).on('error', reject);
  });
}

const running = async () => (await berth.ok('GET', `/apps/${app}/ps`)).filter((i: { state: string }) => i.state === 'running');

test('unit: the maintenance page frames an http(s) URL with placeholders and markup made inert; anything else gets the default', () => {
  const page = maintenancePage('shop', 'https://status.example.com/down?who={env.HOME}&h={http.request.header.Authorization}#"><script>x</script>');
  assert.equal(page.contentType, 'text/html; charset=utf-8');
  assert.doesNotMatch(page.body, /[{}]/);
  assert.doesNotMatch(page.body, /<script>/);
  assert.match(page.body, /<iframe src="https:\/\/status\.example\.com\/down\?who=&#123;env\.HOME&#125;&amp;h=&#123;http\.request\.header\.Authorization&#125;#%22%3E%3Cscript%3Ex%3C\/script%3E"/);
  for (const bad of ['javascript:alert(1)', 'file:///etc/passwd', 'http://user:pw@example.com/', 'not a url']) {
    assert.deepEqual(maintenancePage('shop', bad), { contentType: 'text/plain; charset=utf-8', body: 'shop is down for maintenance and will be back shortly.\n' }, bad);
  }
});

test('maintenance:on answers 503 with the default page while both instances run; off serves again; no release is made', async () => {
  const releases = (await berth.ok('GET', `/apps/${app}/releases`)).length;
  assert.match(ok('maintenance:on', app), /Enabling maintenance mode for .*\.\.\. done/);
  const down = await get();
  assert.equal(down.status, 503);
  assert.equal(down.body, `${app} is down for maintenance and will be back shortly.\n`);
  assert.equal((await running()).length, 2);
  assert.equal(ok('maintenance', app).trim(), 'on');
  assert.match(ok('apps:info', app), /^Maintenance:?\s+on \(requests get 503\)$/m);
  assert.equal((await berth.ok('GET', `/apps/${app}`)).maintenance, true);
  ok('maintenance:off', app);
  assert.match((await get()).body, /hello from v\d+ web\.\d/);
  assert.equal(ok('maintenance', app).trim(), 'off');
  assert.equal((await berth.ok('GET', `/apps/${app}/releases`)).length, releases, 'maintenance makes no release');
});

test('MAINTENANCE_PAGE_URL is framed, never fetched; Caddy placeholders in it are not expanded; a javascript: URL is refused', async () => {
  // A URL that, were its braces Caddy placeholders, would print Caddy's environment and the visitor's cookie.
  await berth.ok('PATCH', `/apps/${app}/config`, { MAINTENANCE_PAGE_URL: 'http://127.0.0.1:9/down?home={env.HOME}&c={http.request.header.Cookie}' });
  ok('maintenance:on', app);
  const res = await withCookie('session=SECRET-COOKIE');
  const body = res.body;
  assert.equal(res.status, 503);
  assert.equal(res.contentType, 'text/html; charset=utf-8');
  assert.match(body, /<iframe src="http:\/\/127\.0\.0\.1:9\/down\?home=&#123;env\.HOME&#125;&amp;c=&#123;http\.request\.header\.Cookie&#125;"/);
  assert.doesNotMatch(body, /SECRET-COOKIE/);
  assert.ok(!body.includes(process.env.HOME ?? '/root'), 'Caddy expanded {env.HOME}');
  // The route read back from Caddy keeps the page and the upstream behind it.
  const routes = await new CaddyAdminClient(caddy.adminUrl).get<Array<{ '@id'?: string; handle?: Array<{ handler: string }> }>>('/config/apps/http/servers/berth/routes');
  const route = routes.find((r) => r['@id'] === `berth-app-${app}`)!;
  assert.deepEqual(route.handle!.map((h) => h.handler), ['static_response', 'reverse_proxy']);

  ok('maintenance:off', app);
  await berth.ok('PATCH', `/apps/${app}/config`, { MAINTENANCE_PAGE_URL: 'javascript:alert(document.cookie)' });
  const refused = berthCli('maintenance:on', app);
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /MAINTENANCE_PAGE_URL must be an http or https URL/);
  assert.equal((await get()).status, 200, 'a refused maintenance:on changes nothing');
  await berth.ok('PATCH', `/apps/${app}/config`, { MAINTENANCE_PAGE_URL: '' });
});

test('ps:stop TYPE replaces every instance of the type; apps:stop keeps the formation, apps:start brings it back', async () => {
  const before = (await running()).map((i: { containerId: string }) => i.containerId);
  assert.equal(before.length, 2);
  assert.match(ok('ps:stop', app, 'web'), /done, stopped web\.1 and web\.2/);
  await eventually('two fresh web instances', async () => {
    const now = await running();
    return now.length === 2 && now.every((i: { containerId: string }) => !before.includes(i.containerId));
  }, 60_000);
  assert.equal((await get()).status, 200);

  assert.notEqual(berthCli('ps:stop', app, 'web.9').code, 0);
  ok('apps:stop', app);
  assert.equal((await berth.ok('GET', `/apps/${app}/ps`)).length, 0);
  assert.equal((await get()).status, 503);
  assert.match(ok('ps:scale', app), /web=2/);
  ok('apps:start', app);
  assert.equal((await running()).length, 2);
  assert.match((await get()).body, /hello from v\d+ web\.\d/);
  const audit = await berth.ok('GET', `/audit?app=${app}`);
  const actions = JSON.stringify(audit);
  for (const action of ['/apps/:app/maintenance', '/apps/:app/stop', '/apps/:app/start', '/apps/:app/ps/stop']) assert.ok(actions.includes(action), `audited: ${action}`);
});
