// Canary releases, the pure parts: the Caddy split's JSON, the draw's accuracy, the options' validation and
// the analysis decision. The end-to-end behaviour (real Caddy, real containers) is in canary.test.ts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildAppRoute, parseAppRoute, normalizeRoute } from '../src/router/caddy/config.ts';
import { drawPattern, slotsFor, slotsOfPattern, isCanarySplit, TRACK_HEADER } from '../src/router/caddy/canary-split.ts';
import type { AppRoute } from '../src/router/types.ts';

const base: AppRoute = { app: 'shop', hostnames: ['shop.localhost'], upstreams: [{ host: '10.0.0.2', port: 5000 }] };

describe('canary split (Caddy JSON)', () => {
  test('the draw pattern takes exactly `slots` of the 256 two-hex-digit prefixes', () => {
    for (let slots = 0; slots <= 256; slots++) {
      const pattern = drawPattern(slots);
      if (slots === 0) { assert.equal(pattern, null); continue; }
      const re = new RegExp(pattern!);
      let hits = 0;
      for (let n = 0; n < 256; n++) if (re.test(n.toString(16).padStart(2, '0') + 'e3b0c442')) hits++;
      assert.equal(hits, slots, `pattern ${pattern}`);
      assert.equal(slotsOfPattern(pattern!), slots);
    }
  });

  test('every whole weight is within 0.2 pp of its share and reads back as itself', () => {
    for (let weight = 0; weight <= 100; weight++) {
      assert.ok(Math.abs((slotsFor(weight) * 100) / 256 - weight) <= 0.2, `weight ${weight}`);
      const read = parseAppRoute(buildAppRoute(normalizeRoute({ ...base, canary: { version: 1, weight, upstreams: [{ host: '10.0.0.9', port: 5000 }] } })));
      assert.equal(weight === 0 ? 0 : read?.canary?.weight, weight);
    }
  });

  test('a weighted, sticky route with header and cookie gray matches round-trips', () => {
    const route: AppRoute = {
      ...base,
      canary: { version: 7, weight: 10, header: { name: 'X-Canary', value: '1' }, cookie: { name: 'beta', value: '1' }, sticky: true, upstreams: [{ host: '10.0.0.9', port: 5000 }] },
    };
    const caddy = buildAppRoute(normalizeRoute(route));
    const split = caddy.handle![0]!;
    assert.ok(isCanarySplit(split));
    const routes = split.routes as Array<{ match?: Array<Record<string, any>>; handle: Array<Record<string, any>> }>;
    // gray header, gray cookie, sticky canary, sticky stable, draw, stable
    assert.equal(routes.length, 6);
    assert.deepEqual(routes[0]!.match![0], { header: { 'X-Canary': ['1'] } });
    assert.equal(routes[1]!.match![0].header_regexp.Cookie.pattern, '(?:^|;\\s*)beta=1(?:;|$)');
    assert.equal(routes[4]!.match![0].vars_regexp['{http.request.uuid}'].pattern, '^(?:[0]|1[0123456789])');
    assert.deepEqual(routes[5]!.handle[0]!.response.set, { [TRACK_HEADER]: ['stable'] });
    assert.match(routes[5]!.handle[0]!.response.add['Set-Cookie'][0], /^berth_canary=s7; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax$/);
    assert.equal(routes[4]!.handle[1]!.upstreams[0].dial, '10.0.0.9:5000');
    assert.deepEqual(parseAppRoute(caddy), normalizeRoute(route));
  });

  test('a cookie gray match cannot be widened by the value: regex characters are literal', () => {
    const route: AppRoute = { ...base, canary: { version: 3, weight: 0, cookie: { name: 'beta', value: 'a.b' }, upstreams: [{ host: '10.0.0.9', port: 5000 }] } };
    const split = buildAppRoute(normalizeRoute(route)).handle![0]!;
    const pattern = (split.routes as any[])[0].match[0].header_regexp.Cookie.pattern as string;
    assert.ok(new RegExp(pattern).test('x=1; beta=a.b'));
    assert.ok(!new RegExp(pattern).test('beta=axb'));
    assert.ok(!new RegExp(pattern).test('xbeta=a.b'));
    assert.ok(!new RegExp(pattern).test('beta=a.bc'));
    // weight 0 and no sticky: gray match, then stable; no draw
    assert.equal((split.routes as any[]).length, 2);
  });

  test('a canary without instances leaves the plain route', () => {
    const caddy = buildAppRoute(normalizeRoute({ ...base, canary: { version: 2, weight: 50, upstreams: [] } }));
    assert.equal(caddy.handle![0]!.handler, 'reverse_proxy');
  });
});
