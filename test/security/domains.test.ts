// Issue 14, hole 2: wildcard domains capture other apps. A member adding `*.<BERTH_DOMAIN>` (or another
// app's name under it) would intercept every app created earlier. The attacks run against a real server
// and Caddy; the victim must keep answering through the router, with nothing changed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCaddy, type TestCaddy } from '../support/caddy.ts';
import { startBerth, viaRouter, TEST_IMAGE, type BerthServer } from '../support/berth.ts';
import { checkHostname, hostnamesOverlap } from '../../src/shared/validation.ts';
import { BerthError } from '../../src/shared/errors.ts';
import { CaddyAdminClient } from '../../src/router/caddy/admin-client.ts';
import { CaddyRouter } from '../../src/router/caddy/index.ts';
import { CATCH_ALL_ID, ROUTES_PATH, buildAppRoutes, routeInsertIndex, type CaddyRoute } from '../../src/router/caddy/config.ts';

describe('hostnames: one spelling per name, wildcards only as the leftmost label', () => {
  test('unicode, uppercase and a trailing dot become the name Caddy sees', () => {
    assert.equal(checkHostname('Bücher.Example.'), 'xn--bcher-kva.example');
    assert.equal(checkHostname(' WWW.Example.COM '), 'www.example.com');
    assert.equal(checkHostname('ＳＨＯＰ．example．com'), 'shop.example.com');
    assert.equal(checkHostname('*.Example.com.'), '*.example.com');
    assert.equal(checkHostname(`${'a'.repeat(63)}.example.com`), `${'a'.repeat(63)}.example.com`);
  });

  test('what is no DNS name, or would be cut into another one, is refused', () => {
    const refused = [
      'a..example.com', '.example.com', 'example.com..', '-a.example.com', 'a-.example.com', `${'a'.repeat(64)}.example.com`,
      `${'abcdefghi.'.repeat(26)}com`, 'localhost', 'example', '127.0.0.1', '10.0.0.1', 'a.example.com/evil', 'a.example.com:80',
      '%61.example.com', 'user@a.example.com', 'a b.example.com', 'a_b.example.com', '*', '*.', '*..com', '*.1', 'a.*.example.com',
      '*.*.example.com', '**.example.com', 'x*.example.com', '[::1]', '', 'a.example.com\u0000', 42, null, ['a.example.com'],
      'xn--7.st', 'xn--ab--c.example.com', '*.xn--0.example', // punycode that decodes to nothing: Caddy would refuse the route
    ];
    for (const raw of refused) {
      assert.throws(() => checkHostname(raw), (err: unknown) => err instanceof BerthError && err.code === 'invalid_hostname', JSON.stringify(raw));
    }
  });

  test('a wildcard overlaps exactly the names one label below it', () => {
    assert.ok(hostnamesOverlap('*.example.com', 'a.example.com'));
    assert.ok(hostnamesOverlap('a.example.com', '*.example.com'));
    assert.ok(hostnamesOverlap('*.example.com', '*.example.com'));
    assert.ok(!hostnamesOverlap('*.example.com', 'a.b.example.com'), 'Caddy wildcards match one label');
    assert.ok(!hostnamesOverlap('*.example.com', 'example.com'));
    assert.ok(!hostnamesOverlap('*.example.com', '*.b.example.com'));
    assert.ok(!hostnamesOverlap('a.example.com', 'b.example.com'));
  });

  test('routes are ordered by specificity, whatever order they come in', () => {
    const [exactW, wildW] = buildAppRoutes({ app: 'w', hostnames: ['w.localhost', '*.localhost'], upstreams: [] });
    const [exactA] = buildAppRoutes({ app: 'a', hostnames: ['a.localhost'], upstreams: [] });
    const [exactDeep] = buildAppRoutes({ app: 'deep', hostnames: ['x.y.example.com'], upstreams: [] });
    const [, wildDeep] = buildAppRoutes({ app: 'wd', hostnames: ['wd.localhost', '*.y.example.com'], upstreams: [] });
    const catchAll: CaddyRoute = { '@id': CATCH_ALL_ID, terminal: true };
    const ordered: CaddyRoute[] = [catchAll];
    for (const r of [wildW!.route!, exactW!.route!, wildDeep!.route!, exactA!.route!, exactDeep!.route!]) {
      ordered.splice(routeInsertIndex(ordered, r), 0, r);
    }
    assert.deepEqual(ordered.map((r) => r['@id']),
      ['berth-app-deep', 'berth-app-a', 'berth-app-w', 'berth-wildcard-wd', 'berth-wildcard-w', CATCH_ALL_ID]);
  });
});

describe('an exact name inserted after a wildcard still wins (real Caddy)', () => {
  let caddy: TestCaddy;
  before(async () => { caddy = await startCaddy(); });
  after(async () => caddy?.stop());

  test('a route set later lands before the wildcard that covers it; a moved name moves its route', async () => {
    const router = new CaddyRouter({ adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, listenHost: '127.0.0.1' });
    await router.ensureBase();
    await router.setRoute({ app: 'w', hostnames: ['w.localhost', '*.localhost'], upstreams: [] });
    await router.setRoute({ app: 'a', hostnames: ['a.localhost'], upstreams: [] });
    assert.equal((await viaRouter(caddy.httpPort, 'a.localhost')).body, 'No instance of a is running.');
    assert.equal((await viaRouter(caddy.httpPort, 'other.localhost')).body, 'No instance of w is running.');
    assert.equal((await viaRouter(caddy.httpPort, 'w.localhost')).body, 'No instance of w is running.');
    const ids = async () => ((await new CaddyAdminClient(caddy.adminUrl).get<CaddyRoute[]>(ROUTES_PATH)) ?? []).map((r) => r['@id']);
    assert.deepEqual(await ids(), ['berth-app-a', 'berth-app-w', 'berth-wildcard-w', CATCH_ALL_ID]);
    // Updates stay in place while the order holds: more names of the same rank change nothing.
    await router.setRoute({ app: 'w', hostnames: ['w.localhost', 'www.w.localhost', '*.localhost'], upstreams: [] });
    assert.deepEqual(await ids(), ['berth-app-a', 'berth-app-w', 'berth-wildcard-w', CATCH_ALL_ID]);
    // listRoutes joins an app's two routes again.
    assert.deepEqual((await router.listRoutes()).find((r) => r.app === 'w')?.hostnames.sort(), ['*.localhost', 'w.localhost', 'www.w.localhost']);
    // Only deeper names left: the route is more specific than a's now and moves ahead of it; no wildcard, no wildcard route.
    await router.setRoute({ app: 'w', hostnames: ['www.w.localhost'], upstreams: [] });
    assert.deepEqual(await ids(), ['berth-app-w', 'berth-app-a', CATCH_ALL_ID]);
    assert.equal((await viaRouter(caddy.httpPort, 'other.localhost')).status, 404);
    await router.removeRoute('w');
    assert.deepEqual(await ids(), ['berth-app-a', CATCH_ALL_ID]);
  });
});

describe('domains on a real server: members cannot capture other apps', () => {
  let caddy: TestCaddy;
  let berth: BerthServer;
  let alice: string;   // owns the victim app
  let mallory: string; // another team's member, hostile
  const victim = 'victim';
  const evil = 'evil';

  const addDomain = (app: string, hostname: unknown, token: string) => berth.api('POST', `/apps/${app}/domains`, { hostname }, token);
  const victimAnswers = async (host = `${victim}.localhost`) => {
    const res = await viaRouter(caddy.httpPort, host);
    assert.equal(res.status, 200, `${host}: ${res.status} ${res.body}`);
    assert.match(res.body, /greeting=victim-site/);
  };

  before(async () => {
    caddy = await startCaddy();
    berth = await startBerth(caddy);
    alice = (await berth.ok('POST', '/users', { name: 'alice' })).token;
    mallory = (await berth.ok('POST', '/users', { name: 'mallory' })).token;
    for (const [app, token] of [[victim, alice], [evil, mallory]] as const) {
      const res = await berth.api('POST', '/apps', { name: app }, token);
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    await berth.ok('PATCH', `/apps/${victim}/config`, { GREETING: 'victim-site' });
    await berth.ok('POST', `/apps/${victim}/deploys`, { image: TEST_IMAGE });
    await victimAnswers();
  });
  after(async () => {
    if (berth) for (const app of [victim, evil, 'wild', 'fresh']) await berth.api('DELETE', `/apps/${app}`, { confirm: app });
    await berth?.kill('SIGTERM');
    await caddy?.stop();
  });

  test('a member may not add a wildcard or any name under BERTH_DOMAIN', async () => {
    for (const hostname of ['*.localhost', `${victim}.localhost`, `${victim.toUpperCase()}.LOCALHOST.`, 'x.y.localhost',
      'vіctim.localhost' /* Cyrillic і */, '*.example.com']) {
      const res = await addDomain(evil, hostname, mallory);
      assert.equal(res.status, 403, `${hostname}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error, 'hostname_not_allowed');
      assert.equal(typeof res.body.message, 'string');
    }
    const domains = await berth.ok('GET', `/apps/${evil}/domains`);
    assert.deepEqual(domains.map((d: { hostname: string; kind: string }) => ({ hostname: d.hostname, kind: d.kind })), [{ hostname: `${evil}.localhost`, kind: 'default' }]);
    assert.equal(domains[0].certificate?.state, 'internal', 'its own name keeps its internal certificate');
    await victimAnswers();
    assert.equal((await viaRouter(caddy.httpPort, 'nothing.localhost')).status, 404, 'no wildcard slipped into the router');
  });

  test('malformed names get a 400 and change nothing', async () => {
    for (const hostname of ['a..example.com', `${'x'.repeat(64)}.example.com`, '127.0.0.1', 'shop.example.com/x', '%73hop.example.com', 'a.*.example.com', 7]) {
      const res = await addDomain(evil, hostname, mallory);
      assert.equal(res.status, 400, `${hostname}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error, 'invalid_hostname');
    }
    assert.equal((await berth.api('POST', `/apps/${evil}/domains`, 'not json', mallory)).status, 400);
    assert.equal((await berth.ok('GET', `/apps/${evil}/domains`)).length, 1);
  });

  test('overlaps are wildcard-aware; the owner is named only to who may see it', async () => {
    // mallory's exact name blocks a wildcard above it, even for an admin (who is told whose it is).
    assert.equal((await addDomain(evil, 'Shop.Example.Org.', mallory)).status, 201);
    const adminTry = await berth.api('POST', `/apps/${victim}/domains`, { hostname: '*.example.org' });
    assert.equal(adminTry.status, 409);
    assert.match(adminTry.body.message, /shop\.example\.org.*"evil"/);
    // alice cannot see evil: she learns the name is taken, not by whom.
    const aliceTry = await addDomain(victim, 'SHOP.example.org', alice);
    assert.equal(aliceTry.status, 409);
    assert.equal(aliceTry.body.error, 'conflict');
    assert.doesNotMatch(aliceTry.body.message, /evil|mallory/);
    // and the other way round: an admin's wildcard blocks exact names below it for everyone else.
    assert.equal((await berth.api('POST', `/apps/${victim}/domains`, { hostname: '*.victim-shop.net' })).status, 201);
    const under = await addDomain(evil, 'pay.victim-shop.net', mallory);
    assert.equal(under.status, 409);
    assert.doesNotMatch(under.body.message, /victim"/);
    // The app's own names may overlap each other.
    assert.equal((await addDomain(victim, 'www.victim-shop.net', alice)).status, 201);
    await victimAnswers('www.victim-shop.net');
    await victimAnswers('anything.victim-shop.net');
    // Unicode and its punycode are one name.
    assert.equal((await addDomain(evil, 'Bücher.example', mallory)).status, 201);
    assert.equal((await addDomain(victim, 'xn--bcher-kva.example', alice)).status, 409);
    assert.equal((await berth.api('DELETE', `/apps/${evil}/domains/${encodeURIComponent('BÜCHER.example')}`, undefined, mallory)).status, 200);
    assert.deepEqual((await berth.ok('GET', `/apps/${evil}/domains`)).map((d: { hostname: string }) => d.hostname), [`${evil}.localhost`, 'shop.example.org']);
  });

  test('an admin wildcard over BERTH_DOMAIN never takes exact names; apps:create refuses claimed names', async () => {
    await berth.ok('POST', '/apps', { name: 'wild' });
    const wild = await berth.api('POST', '/apps/wild/domains', { hostname: '*.localhost' });
    assert.equal(wild.status, 201, JSON.stringify(wild.body));
    // The victim existed first, the wildcard came later: exact names still win.
    await victimAnswers();
    assert.equal((await viaRouter(caddy.httpPort, 'unclaimed.localhost')).body, 'No instance of wild is running.');
    assert.equal((await viaRouter(caddy.httpPort, `${evil}.localhost`)).body, `No instance of ${evil} is running.`);
    // A new app's default name is claimed by the wildcard now.
    const claimed = await berth.api('POST', '/apps', { name: 'fresh' }, mallory);
    assert.equal(claimed.status, 409, JSON.stringify(claimed.body));
    assert.doesNotMatch(claimed.body.message, /wild/);
    assert.equal((await berth.api('GET', '/apps/fresh')).status, 404, 'nothing was created');
    // An exact custom domain equal to a default name is refused too, even for an admin.
    assert.equal((await berth.api('POST', '/apps/wild/domains', { hostname: `${victim}.localhost` })).status, 409);
    // Without the wildcard the name is free again.
    assert.equal((await berth.api('DELETE', `/apps/wild/domains/${encodeURIComponent('*.localhost')}`)).status, 200);
    assert.equal((await berth.api('POST', '/apps', { name: 'fresh' }, mallory)).status, 201);
    assert.equal((await viaRouter(caddy.httpPort, 'unclaimed.localhost')).status, 404);
    await victimAnswers();
  });
});
