// Canary releases, the pure parts: the Caddy split's JSON, the draw's accuracy, the options' validation and
// the analysis decision. The end-to-end behaviour (real Caddy, real containers) is in canary.test.ts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildAppRoute, parseAppRoute, normalizeRoute } from '../src/router/caddy/config.ts';
import { drawPattern, slotsFor, slotsOfPattern, isCanarySplit, TRACK_HEADER } from '../src/router/caddy/canary-split.ts';
import type { AppRoute } from '../src/router/types.ts';
import { compare, decide } from '../src/canary/analysis.ts';
import { parsePlan } from '../src/canary/plan.ts';

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

describe('canary plan and analysis', () => {
  const side = (requests: number, errors5xx: number, p95Ms: number) => ({ requests, errors5xx, p95Ms });

  test('the plan takes the CLI\'s text and refuses what could reach Caddy as a pattern', () => {
    const plan = parsePlan({ steps: '10,25,50,100', every: '2m', header: 'X-Canary=1', cookie: 'beta=1', max5xxDelta: '2%', maxP95Ratio: '2', minRequests: '50' });
    assert.deepEqual(plan, { weight: 10, steps: [10, 25, 50, 100], everySec: 120, header: { name: 'X-Canary', value: '1' }, cookie: { name: 'beta', value: '1' },
      sticky: false, max5xxDelta: 0.02, maxP95Ratio: 2, minRequests: 50 });
    assert.equal(parsePlan({ header: 'X-Canary=1' }).weight, 0, 'a gray canary alone gets no share');
    for (const bad of [{}, { weight: 100 }, { weight: 'ten' }, { weight: 10.5 }, { steps: '10,5,100' }, { steps: '10,50' }, { header: 'X-C=*' },
      { header: 'Host=evil' }, { cookie: 'a b=1' }, { cookie: 'beta=1;x=2' }, { weight: 10, every: 'soon' }, { weight: 10, maxP95Ratio: '0.5' }]) {
      assert.throws(() => parsePlan(bad as any), /canary|every|ratio|must/i, JSON.stringify(bad));
    }
  });

  test('decide: waits for evidence, aborts on errors or a slower p95 beyond its margin, steps, then promotes', () => {
    const plan = parsePlan({ steps: '10,50,100', every: '2s', minRequests: '100' });
    assert.equal(decide(plan, 0, 60_000, compare(side(900, 0, 5), side(99, 50, 5), 0)).action, 'wait');
    const errors = decide(plan, 0, 0, compare(side(900, 9, 5), side(100, 3, 5), 0));
    assert.equal(errors.action, 'abort');
    assert.match(errors.why, /canary 5xx rate 3\.0 % \(3\/100\) vs stable 1\.0 % \(9\/900\): more than 1\.0 % worse/);
    assert.equal(decide(plan, 0, 0, compare(side(900, 9, 5), side(100, 2, 5), 0)).action, 'wait', 'within the delta');
    assert.equal(decide(plan, 0, 0, compare(side(900, 0, 18), side(100, 0, 31), 0)).action, 'wait', '1.7x, but only 13 ms: noise');
    assert.match(decide(plan, 0, 0, compare(side(900, 0, 20), side(100, 0, 300), 0)).why, /canary p95 300 ms vs stable 20 ms/);
    assert.deepEqual(decide(plan, 0, 2_000, compare(side(900, 0, 5), side(100, 0, 5), 0)), { action: 'step', weight: 50, why: 'healthy at 10 % (100 requests)' });
    assert.equal(decide(plan, 1, 2_000, compare(side(900, 0, 5), side(100, 0, 5), 0)).action, 'promote');
    assert.equal(decide(parsePlan({ weight: 10 }), 0, 3_600_000, compare(side(900, 0, 5), side(100, 0, 5), 0)).action, 'wait', 'no steps: promote by hand');
  });
});
