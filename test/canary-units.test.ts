// Canary releases, the pure parts: the Caddy split's JSON, the draw's accuracy, the options' validation and
// the analysis decision. The end-to-end behaviour (real Caddy, real containers) is in canary.test.ts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildAppRoute, parseAppRoute, normalizeRoute } from '../src/router/caddy/config.ts';
import { drawPattern, slotsFor, slotsOfPattern, isCanarySplit, weightedDials, TRACK_HEADER } from '../src/router/caddy/canary-split.ts';
import type { AppRoute } from '../src/router/types.ts';
import { analysisStart, compare, decide } from '../src/canary/analysis.ts';
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
      assert.equal(read?.canary?.weight, weight);
      assert.deepEqual(read?.canary?.upstreams, [{ host: '10.0.0.9', port: 5000 }]);
    }
  });

  test('the weighted list: exactly the weight\'s share, spread evenly, each side\'s instances in equal turns', () => {
    for (const [ns, nc] of [[1, 1], [2, 1], [3, 2], [1, 3]] as const) {
      const stable = Array.from({ length: ns }, (_, i) => `10.0.0.${i + 2}:5000`);
      const canary = Array.from({ length: nc }, (_, i) => `10.0.1.${i + 2}:5000`);
      for (let weight = 0; weight <= 100; weight++) {
        const dials = weightedDials(stable, canary, weight);
        const onCanary = dials.map((d) => canary.includes(d));
        const share = onCanary.filter(Boolean).length;
        assert.equal(share * 100, weight * dials.length, `${ns}+${nc} at ${weight} %: ${share} of ${dials.length}`);
        // Any run of consecutive requests under round_robin gets its share within one request.
        let seen = 0;
        onCanary.forEach((c, i) => { seen += c ? 1 : 0; assert.ok(Math.abs(seen - ((i + 1) * weight) / 100) < 1, `${ns}+${nc} at ${weight} %, entry ${i}`); });
        for (const side of [stable, canary]) {
          const turns = side.map((d) => dials.filter((x) => x === d).length).filter((n, _, all) => all.some((m) => m > 0));
          if (turns.length) assert.ok(Math.max(...turns) - Math.min(...turns) === 0, `${ns}+${nc} at ${weight} %: turns ${turns}`);
        }
      }
    }
    assert.ok(weightedDials(['a:1', 'b:1', 'c:1'], ['d:1', 'e:1', 'f:1', 'g:1'], 37).length <= 1000, 'bounded');
  });

  test('a weighted canary without gray or sticky is one proxy over the weighted list, tagged from the chosen upstream', () => {
    const route: AppRoute = { ...base, canary: { version: 4, weight: 10, upstreams: [{ host: '10.0.0.9', port: 5000 }] } };
    const caddy = buildAppRoute(normalizeRoute(route));
    const [map, proxy] = caddy.handle as Array<Record<string, any>>;
    assert.equal(caddy.handle!.length, 2, 'no subroute, no matcher');
    assert.deepEqual(map, { handler: 'map', source: '{http.reverse_proxy.upstream.hostport}', destinations: ['{berth.track}'],
      mappings: [{ input: '10.0.0.9:5000', outputs: ['canary'] }], defaults: ['stable'] });
    assert.deepEqual(proxy.upstreams.map((u: { dial: string }) => u.dial), [...Array(9).fill('10.0.0.2:5000'), '10.0.0.9:5000']);
    assert.equal(proxy.load_balancing.selection_policy.policy, 'round_robin');
    assert.deepEqual(proxy.headers.response.set, { [TRACK_HEADER]: ['{berth.track}'] });
    assert.ok(isCanarySplit(caddy.handle));
    assert.deepEqual(parseAppRoute(caddy), { ...normalizeRoute(route), canary: { ...normalizeRoute(route).canary!, version: 0 } });
  });

  test('a weighted, sticky route with header and cookie gray matches round-trips', () => {
    const route: AppRoute = {
      ...base, upstreams: [{ host: '10.0.0.2', port: 5000 }, { host: '10.0.0.3', port: 5000 }],
      canary: { version: 7, weight: 10, header: { name: 'X-Canary', value: '1' }, cookie: { name: 'beta', value: '1' }, sticky: true, upstreams: [{ host: '10.0.0.9', port: 5000 }] },
    };
    const caddy = buildAppRoute(normalizeRoute(route));
    assert.ok(isCanarySplit(caddy.handle));
    const routes = caddy.handle![0]!.routes as Array<{ match?: Array<Record<string, any>>; handle: Array<Record<string, any>> }>;
    // gray header, gray cookie, sticky canary, sticky stable, the weighted proxy
    assert.equal(routes.length, 5);
    assert.deepEqual(routes[0]!.match![0], { header: { 'X-Canary': ['1'] } });
    assert.equal(routes[1]!.match![0].header_regexp.Cookie.pattern, '(?:^|;\\s*)beta=1(?:;|$)');
    assert.deepEqual(routes[0]!.handle[0]!.headers.response.set, { [TRACK_HEADER]: ['canary'] }, 'the gray branch tags its proxy');
    assert.deepEqual(routes[3]!.handle[0]!.headers.response.set, { [TRACK_HEADER]: ['stable'] });
    const [map, proxy] = routes[4]!.handle;
    assert.equal(routes[4]!.match, undefined);
    assert.deepEqual(map!.destinations, ['{berth.track}', '{berth.sticky}']);
    assert.deepEqual(map!.defaults, ['stable', 's7']);
    assert.deepEqual(map!.mappings, [{ input: '10.0.0.9:5000', outputs: ['canary', 'c7'] }]);
    assert.equal(proxy!.upstreams.length, 20, 'two stable instances get nine turns each in twenty');
    assert.match(proxy!.headers.response.add['Set-Cookie'][0], /^berth_canary=\{berth\.sticky\}; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax$/);
    assert.deepEqual(parseAppRoute(caddy), normalizeRoute(route));
  });

  test('a stable side behind a DNS name: the split draws on the request UUID, and reads back', () => {
    const named: AppRoute = {
      app: 'shop', hostnames: ['shop.localhost'], upstreams: [], named: { name: 'shop.berth.internal', port: 5000, resolver: '127.0.0.1:53' },
      canary: { version: 7, weight: 10, header: { name: 'X-Canary', value: '1' }, cookie: null, sticky: true, upstreams: [{ host: '10.0.0.9', port: 5000 }] },
    };
    const caddy = buildAppRoute(normalizeRoute(named));
    const routes = caddy.handle![0]!.routes as Array<{ match?: Array<Record<string, any>>; handle: Array<Record<string, any>> }>;
    // gray header, sticky canary, sticky stable, draw, stable
    assert.equal(routes.length, 5);
    assert.equal(routes[3]!.match![0].vars_regexp['{http.request.uuid}'].pattern, '^(?:[0]|1[0123456789])');
    assert.deepEqual(routes[4]!.handle[0]!.response.set, { [TRACK_HEADER]: ['stable'] });
    assert.match(routes[4]!.handle[0]!.response.add['Set-Cookie'][0], /^berth_canary=s7; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax$/);
    assert.equal(routes[3]!.handle[1]!.upstreams[0].dial, '10.0.0.9:5000');
    assert.deepEqual(parseAppRoute(caddy), normalizeRoute(named));
    for (let weight = 1; weight < 100; weight++) {
      const read = parseAppRoute(buildAppRoute(normalizeRoute({ ...named, canary: { version: 1, weight, upstreams: [{ host: '10.0.0.9', port: 5000 }] } })));
      assert.equal(read?.canary?.weight, weight);
    }
  });

  test('a cookie gray match cannot be widened by the value: regex characters are literal', () => {
    const route: AppRoute = { ...base, canary: { version: 3, weight: 0, cookie: { name: 'beta', value: 'a.b' }, upstreams: [{ host: '10.0.0.9', port: 5000 }] } };
    const split = buildAppRoute(normalizeRoute(route)).handle![0]!;
    const pattern = (split.routes as any[])[0].match[0].header_regexp.Cookie.pattern as string;
    assert.ok(new RegExp(pattern).test('x=1; beta=a.b'));
    assert.ok(!new RegExp(pattern).test('beta=axb'));
    assert.ok(!new RegExp(pattern).test('xbeta=a.b'));
    assert.ok(!new RegExp(pattern).test('beta=a.bc'));
    // weight 0 and no sticky: the gray match, then the weighted proxy (all stable)
    assert.equal((split.routes as any[]).length, 2);
    assert.deepEqual((split.routes as any[])[1].handle[1].upstreams, [{ dial: '10.0.0.2:5000' }]);
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
      sticky: false, max5xxDelta: 0.02, maxP95Ratio: 2, minRequests: 50, warmupSec: 30 });
    assert.equal(parsePlan({ header: 'X-Canary=1' }).weight, 0, 'a gray canary alone gets no share');
    for (const bad of [{}, { weight: 100 }, { weight: 'ten' }, { weight: 10.5 }, { steps: '10,5,100' }, { steps: '10,50' }, { header: 'X-C=*' },
      { header: 'Host=evil' }, { cookie: 'a b=1' }, { cookie: 'beta=1;x=2' }, { weight: 10, every: 'soon' }, { weight: 10, maxP95Ratio: '0.5' }, { weight: 10, warmup: '-1s' }, { weight: 10, warmup: '2h' }, { weight: 10, warmup: 'later' }]) {
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

  test('warm-up: a fresh canary\'s first requests are left out, on both sides; later steps judge from their start', () => {
    assert.equal(parsePlan({ weight: 10, warmup: '2m' }).warmupSec, 120);
    assert.equal(parsePlan({ weight: 10, warmup: '0' }).warmupSec, 0);
    assert.equal(parsePlan({ weight: 10, warmup: 45 }).warmupSec, 45);
    const plan = parsePlan({ steps: '10,50,100', every: '2s', minRequests: '100' });
    const started = 1_000_000;
    assert.equal(analysisStart(plan, started, started), started + 30_000, 'the default: 30 s after the start');
    assert.equal(analysisStart(plan, started, started + 60_000), started + 60_000, 'a later step: its own start');
    assert.equal(analysisStart(parsePlan({ weight: 10, warmup: '0s' }), started, started), started);
    const { warmupSec: _, ...stored } = plan;
    assert.equal(analysisStart(stored, started, started), started + 30_000, 'a plan stored before the warm-up gets the default');
    // A cold canary: slow while warming up; decide() is asked with the time since the window's start.
    const now = started + 10_000;
    const cold = compare(side(900, 0, 20), side(100, 0, 400), analysisStart(plan, started, started));
    assert.deepEqual(decide(plan, 0, now - cold.windowStart, cold), { action: 'wait', why: 'warming up: judging starts in 20 s' });
    // Warm: the same evidence of a slower release aborts as before.
    assert.equal(decide(plan, 0, 1_000, cold).action, 'abort');
    // The step's clock starts after the warm-up: 2 s of healthy analysis, not 2 s since the start.
    assert.equal(decide(plan, 0, 1_999, compare(side(900, 0, 5), side(100, 0, 5), 0)).action, 'wait');
    assert.equal(decide(plan, 0, 2_000, compare(side(900, 0, 5), side(100, 0, 5), 0)).action, 'step');
  });
});
