// CaddyRouter against a real, private Caddy and real upstreams on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaddyRouter } from '../src/router/caddy/index.ts';
import { CaddyAdminClient } from '../src/router/caddy/admin-client.ts';
import {
  CATCH_ALL_BODY, INTERNAL_TLS_POLICY_ID, ROUTES_PATH, buildAppRoute, buildInternalTlsPolicy, internalNamesOf, parseAppRoute,
} from '../src/router/caddy/config.ts';
import type { CaddyRoute } from '../src/router/caddy/config.ts';
import type { AppRoute, Upstream } from '../src/router/types.ts';
import { startCaddy, type TestCaddy } from './support/caddy.ts';
import { freePorts } from './support/ports.ts';

interface TestUpstream extends Upstream { name: string; close(): Promise<void> }
interface Reply { status: number; body: string }

const openUpstreams = new Set<TestUpstream>();

async function startUpstream(name: string): Promise<TestUpstream> {
  const server = http.createServer((_req, res) => res.end(name));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const upstream: TestUpstream = {
    name, host: '127.0.0.1', port: (server.address() as { port: number }).port,
    close: async () => {
      openUpstreams.delete(upstream);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  openUpstreams.add(upstream);
  return upstream;
}

// Keep-alive like real clients. Caddy closes idle connections on every config reload; browsers,
// curl and Go retry a request when a reused connection is reset, so this client does too, once,
// on a new connection (another pooled one may be closing as well).
const keepAliveAgent = new http.Agent({ keepAlive: true });
const clientStats = { retriedOnReusedSocket: 0 };

async function httpGet(port: number, host: string, fresh = false): Promise<Reply> {
  try {
    return await httpGetOnce(port, host, fresh);
  } catch (err) {
    if (!(err as { retryable?: boolean }).retryable) throw err;
    clientStats.retriedOnReusedSocket++;
    return httpGetOnce(port, host, true);
  }
}

/** fresh: a new connection, as a new visitor would open. */
function httpGetOnce(port: number, host: string, fresh: boolean): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const agent = fresh ? false : keepAliveAgent;
    const options = { host: '127.0.0.1', port, path: '/', headers: { Host: host }, agent, timeout: 10_000 };
    const req = http.request(options, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => reject(Object.assign(err, { retryable: req.reusedSocket && err.code === 'ECONNRESET' })));
    req.end();
  });
}

function httpsGet(port: number, servername: string): Promise<Reply & { issuer: string }> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: '/', servername, headers: { Host: servername }, rejectUnauthorized: false, agent: false };
    const req = https.request(options, (res) => {
      const issuer = String((res.socket as TLSSocket).getPeerCertificate().issuer?.CN ?? '');
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, issuer }));
    });
    req.on('error', reject).end();
  });
}

/** Certificates are issued in the background right after a route appears; give it a moment. */
async function httpsGetEventually(port: number, servername: string): Promise<Reply & { issuer: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await httpsGet(port, servername);
    } catch (err) {
      if (attempt >= 50) throw err;
      await sleep(100);
    }
  }
}

async function bodiesOf(port: number, host: string, count: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) bodies.push((await httpGet(port, host)).body);
  return bodies;
}

const countOf = (values: string[], v: string): number => values.filter((x) => x === v).length;
const routeIds = async (admin: CaddyAdminClient): Promise<string[]> =>
  ((await admin.get<Array<{ '@id'?: string }>>(ROUTES_PATH)) ?? []).map((r) => r['@id'] ?? '?');

after(async () => {
  keepAliveAgent.destroy();
  await Promise.all([...openUpstreams].map((u) => u.close()));
});

describe('config builders', () => {
  test('app route round-trips and empty upstreams become a 503 response', () => {
    const route: AppRoute = { app: 'a', hostnames: ['a.localhost'], upstreams: [{ host: '::1', port: 5 }, { host: '10.0.0.2', port: 6 }] };
    assert.deepEqual(parseAppRoute(buildAppRoute(route)), route);
    const perConnection: AppRoute = { ...route, balancesConnections: true };
    assert.deepEqual(parseAppRoute(buildAppRoute(perConnection)), perConnection);
    const empty = buildAppRoute({ app: 'a', hostnames: ['a.localhost'], upstreams: [] });
    assert.equal(empty.handle?.[0].handler, 'static_response');
    assert.equal(empty.handle?.[0].status_code, 503);
    assert.equal(empty.handle?.[0].body, 'No instance of a is running.');
  });

  test('only *.localhost names go to the internal CA, and the policy never matches everything by accident', () => {
    assert.deepEqual(internalNamesOf(['www.example.com', 'a.localhost']), ['a.localhost']);
    assert.deepEqual(internalNamesOf(['www.example.com', 'a.localhost'], true), ['a.localhost', 'www.example.com']);
    assert.deepEqual(buildInternalTlsPolicy([]).subjects, ['localhost']);
    assert.equal(buildInternalTlsPolicy([]).on_demand, true);
  });
});

describe('CaddyRouter with a real Caddy', () => {
  let caddy: TestCaddy;
  let router: CaddyRouter;
  let admin: CaddyAdminClient;
  const get = (host: string): Promise<Reply> => httpGet(caddy.httpPort, host);

  before(async () => {
    caddy = await startCaddy();
    admin = new CaddyAdminClient(caddy.adminUrl);
    router = new CaddyRouter({ adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, listenHost: '127.0.0.1' });
    await router.ensureBase();
  });
  after(async () => caddy?.stop());

  test('an unknown host gets a 404 with a clear message', async () => {
    assert.deepEqual(await get('nothing-here.localhost'), { status: 404, body: CATCH_ALL_BODY });
  });

  test('an app with two upstreams is load balanced round robin over plain HTTP', async () => {
    const [u1, u2] = await Promise.all([startUpstream('a-1'), startUpstream('a-2')]);
    await router.setRoute({ app: 'a', hostnames: ['a.localhost'], upstreams: [u1, u2] });
    const bodies = await bodiesOf(caddy.httpPort, 'a.localhost', 10);
    assert.equal(countOf(bodies, 'a-1'), 5, bodies.join());
    assert.equal(countOf(bodies, 'a-2'), 5, bodies.join());
  });

  test('new routes go before the catch-all, updates replace the route in place', async () => {
    const idsBefore = await routeIds(admin);
    assert.deepEqual(idsBefore, ['berth-app-a', 'berth-catch-all']);
    const u3 = await startUpstream('a-3');
    await router.setRoute({ app: 'a', hostnames: ['a.localhost'], upstreams: [u3] });
    assert.deepEqual(await routeIds(admin), idsBefore);
    assert.deepEqual(new Set(await bodiesOf(caddy.httpPort, 'a.localhost', 4)), new Set(['a-3']));
  });

  test('upstreams that balance connections (a NodePort) get a connection per request; others a kept-alive one', async () => {
    const connections = new Set<unknown>();
    const server = http.createServer((req, res) => { connections.add(req.socket); res.end('counted'); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const upstream = { host: '127.0.0.1', port: (server.address() as { port: number }).port };
    try {
      await router.setRoute({ app: 'nodeport', hostnames: ['nodeport.localhost'], upstreams: [upstream], balancesConnections: true });
      assert.deepEqual(new Set(await bodiesOf(caddy.httpPort, 'nodeport.localhost', 6)), new Set(['counted']));
      assert.equal(connections.size, 6, 'one upstream connection per request');
      connections.clear();
      await router.setRoute({ app: 'nodeport', hostnames: ['nodeport.localhost'], upstreams: [upstream] });
      await bodiesOf(caddy.httpPort, 'nodeport.localhost', 6);
      assert.equal(connections.size, 1, 'one kept-alive upstream connection');
    } finally {
      await router.removeRoute('nodeport');
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('no upstreams: 503 with a message naming the app', async () => {
    await router.setRoute({ app: 'idle', hostnames: ['idle.localhost'], upstreams: [] });
    assert.deepEqual(await get('idle.localhost'), { status: 503, body: 'No instance of idle is running.' });
  });

  test('a second app answers on its own name and on a custom domain', async () => {
    const b = await startUpstream('b-1');
    await router.setRoute({ app: 'b', hostnames: ['b.localhost', 'www.b-shop.localhost'], upstreams: [b] });
    assert.deepEqual(await get('b.localhost'), { status: 200, body: 'b-1' });
    assert.deepEqual(await get('www.b-shop.localhost'), { status: 200, body: 'b-1' });
    assert.equal((await get('a.localhost')).body, 'a-3');
    const policy = await admin.get<{ subjects: string[] }>(`/id/${INTERNAL_TLS_POLICY_ID}`);
    assert.deepEqual(policy.subjects, ['a.localhost', 'b.localhost', 'idle.localhost', 'localhost', 'www.b-shop.localhost']);
    const listed = await router.listRoutes();
    assert.deepEqual(listed.map((r) => r.app).sort(), ['a', 'b', 'idle']);
    assert.deepEqual(listed.find((r) => r.app === 'b'), { app: 'b', hostnames: ['b.localhost', 'www.b-shop.localhost'], upstreams: [{ host: '127.0.0.1', port: b.port }] });
  });

  test('removeRoute brings the 404 back and ignores unknown apps', async () => {
    await router.removeRoute('idle');
    await router.removeRoute('never-existed');
    assert.deepEqual(await get('idle.localhost'), { status: 404, body: CATCH_ALL_BODY });
    assert.deepEqual(await routeIds(admin), ['berth-app-b', 'berth-app-a', 'berth-catch-all']);
    assert.ok(!(await admin.get<{ subjects: string[] }>(`/id/${INTERNAL_TLS_POLICY_ID}`)).subjects.includes('idle.localhost'));
  });

  test('ensureBase is idempotent and keeps the catch-all last', async () => {
    await router.ensureBase();
    await router.ensureBase();
    assert.deepEqual(await routeIds(admin), ['berth-app-b', 'berth-app-a', 'berth-catch-all']);
    // A catch-all moved out of place (e.g. by hand) is put back at the end.
    await admin.delete('/id/berth-catch-all');
    await admin.put(`${ROUTES_PATH}/0`, { '@id': 'berth-catch-all', handle: [{ handler: 'static_response', status_code: 404 }] });
    await router.ensureBase();
    assert.deepEqual(await routeIds(admin), ['berth-app-b', 'berth-app-a', 'berth-catch-all']);
    assert.deepEqual(await get('unknown.localhost'), { status: 404, body: CATCH_ALL_BODY });
    assert.equal((await get('a.localhost')).body, 'a-3');
  });

  test('HTTPS on the https port uses the internal CA; plain HTTP stays on the http port', async () => {
    const res = await httpsGetEventually(caddy.httpsPort, 'a.localhost');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'a-3');
    assert.match(res.issuer, /Caddy Local Authority/);
    assert.equal((await httpGet(caddy.httpsPort, 'a.localhost')).status, 400); // plain HTTP to the TLS listener
  });

  test('swapping upstreams 20 times under continuous traffic loses no request', async () => {
    let current = await startUpstream('swap-0');
    await router.setRoute({ app: 'swap', hostnames: ['swap.localhost'], upstreams: [current] });
    const failures: string[] = [];
    const retriesBefore = clientStats.retriedOnReusedSocket;
    let done = 0;
    let running = true;
    const worker = async (): Promise<void> => {
      while (running) {
        const res = await get('swap.localhost').catch((err: Error) => ({ status: 0, body: err.message }));
        if (res.status !== 200 || !res.body.startsWith('swap-')) failures.push(`${res.status} ${res.body}`);
        done++;
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    const drains: Promise<void>[] = [];
    for (let i = 1; i <= 20; i++) {
      const next = await startUpstream(`swap-${i}`);
      await router.setRoute({ app: 'swap', hostnames: ['swap.localhost'], upstreams: [next] });
      const old = current;
      current = next;
      drains.push(sleep(300).then(() => old.close())); // Berth keeps the old instance a moment, then stops it
      await sleep(50);
    }
    await Promise.all(drains);
    running = false;
    await Promise.all(workers);
    console.log(`swap test: ${done} requests during 20 swaps, ${failures.length} failures, ` +
      `${clientStats.retriedOnReusedSocket - retriesBefore} retried after Caddy closed an idle keep-alive connection`);
    assert.equal(failures.length, 0, `failures by kind: ${JSON.stringify(countBy(failures))}`);
    assert.ok(done > 100, `only ${done} requests were made`);
    assert.equal((await get('swap.localhost')).body, 'swap-20');
  });

  test('routes survive a Caddy restart with --resume (config persistence)', async () => {
    const before = await router.listRoutes();
    await caddy.restart();
    assert.deepEqual(await router.listRoutes(), before);
    assert.equal((await get('a.localhost')).body, 'a-3');
    assert.deepEqual(await get('unknown.localhost'), { status: 404, body: CATCH_ALL_BODY });
  });

  test('setRoute stays fast with 500 apps configured', async () => {
    const dummy = await startUpstream('dummy');
    const seeded = Array.from({ length: 500 }, (_, i) => ({ app: `p${i}`, hostnames: [`p${i}.localhost`], upstreams: [dummy] }));
    // 500 setRoute calls take about a minute (each is a full Caddy reload), so seed in one write.
    const existing = await admin.get<CaddyRoute[]>(ROUTES_PATH);
    const policy = buildInternalTlsPolicy(internalNamesOf([...(await router.listRoutes()), ...seeded].flatMap((r) => r.hostnames)));
    await admin.patch(`/id/${INTERNAL_TLS_POLICY_ID}`, policy);
    await admin.patch(ROUTES_PATH, [...seeded.map(buildAppRoute), ...existing]);
    // The first reload waits for the 500 certificates Caddy is issuing in the background.
    const [warmUp] = await timeEach(1, () => router.setRoute(seeded[0]));
    const u = await startUpstream('p250-new');
    const updates = await timeEach(10, (i) => router.setRoute({ app: 'p250', hostnames: ['p250.localhost'], upstreams: [i % 2 ? u : dummy] }));
    const inserts = await timeEach(3, (i) => router.setRoute({ app: `extra${i}`, hostnames: [`extra${i}.localhost`], upstreams: [u] }));
    console.log(`with ~500 apps: first setRoute after seeding ${warmUp.toFixed(0)} ms; ` +
      `upstream update ${fmt(updates)}; new app (route + TLS policy) ${fmt(inserts)}`);
    // Medians: other processes on a shared machine make single samples noisy.
    assert.ok(median(updates) < 1000 && median(inserts) < 1000, `${fmt(updates)} / ${fmt(inserts)}`);
    // Fresh connections too: a failed Caddy 2.6 reload can leave an old server accepting some of them.
    const bodies = await Promise.all(Array.from({ length: 20 }, () => httpGet(caddy.httpPort, 'p250.localhost', true)));
    assert.deepEqual(countBy(bodies.map((r) => r.body)), { 'p250-new': 20 });
    const ids = await routeIds(admin);
    assert.equal(ids.length, existing.length + 503);
    assert.equal(ids.at(-1), 'berth-catch-all');
  });
});

describe("CaddyRouter next to a user's own Caddy config", () => {
  let caddy: TestCaddy;
  let userPort: number;

  before(async () => {
    caddy = await startCaddy();
    [userPort] = await freePorts(1);
    const userServer = { listen: [`127.0.0.1:${userPort}`], routes: [{ handle: [{ handler: 'static_response', body: 'mine' }] }] };
    await new CaddyAdminClient(caddy.adminUrl).post('/config/apps', { http: { servers: { mine: userServer } } });
  });
  after(async () => caddy?.stop());

  test('ensureBase adds Berth without touching other servers; internalTls covers public names', async () => {
    const router = new CaddyRouter({ adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort, listenHost: '127.0.0.1', internalTls: true });
    await router.ensureBase();
    await router.ensureBase();
    const shop = await startUpstream('shop');
    await router.setRoute({ app: 'shop', hostnames: ['shop.example.com'], upstreams: [shop] });
    assert.deepEqual(await httpGet(userPort, 'anything'), { status: 200, body: 'mine' });
    assert.deepEqual(await httpGet(caddy.httpPort, 'shop.example.com'), { status: 200, body: 'shop' });
    assert.deepEqual(await httpGet(caddy.httpPort, 'other.example.com'), { status: 404, body: CATCH_ALL_BODY });
    const res = await httpsGetEventually(caddy.httpsPort, 'shop.example.com');
    assert.equal(res.body, 'shop');
    assert.match(res.issuer, /Caddy Local Authority/);
    const policy = await new CaddyAdminClient(caddy.adminUrl).get<{ subjects: string[] }>(`/id/${INTERNAL_TLS_POLICY_ID}`);
    assert.deepEqual(policy.subjects, ['localhost', 'shop.example.com']); // the user's own names stay untouched
  });
});

async function timeEach(times: number, run: (i: number) => Promise<void>): Promise<number[]> {
  const durations: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    await run(i);
    durations.push(performance.now() - start);
  }
  return durations;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

function fmt(durations: number[]): string {
  return `median ${median(durations).toFixed(1)} ms, min ${Math.min(...durations).toFixed(1)}, max ${Math.max(...durations).toFixed(1)}`;
}
