// Canary releases end to end on the Docker scheduler, through the CLI, a real Berth, a real Caddy and real containers:
// gray routing by header and cookie, the weighted split's accuracy over 10,000 requests and sticky clients, promote,
// a canary failing 20 % of its requests aborted by the analysis (stable requests never fail, the webhook hears of it),
// and a healthy canary promoted by steps. One Berth and one Caddy for the file; each test starts from v1's successor.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { cliOutput, runCliSync } from './support/cli.ts';
import { startBerth, eventually, uniqueName, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { buildImage, removeImage, FLAKY_DOCKERFILE } from './support/metrics-images.ts';
import { CanaryTraffic, countOf as count, type Answer } from './support/canary-traffic.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook.ts';
import { startRegistry } from './support/registry.ts';
import { ScratchRepos } from './support/scratch-repos.ts';
import { gitPush } from './support/git-push.ts';

const FLAKY_IMAGE = `berth-test/canary-flaky-${process.pid}:latest`;

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let hook: WebhookReceiver;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let home: string;
const app = uniqueName('cny');
const pushApp = uniqueName('cnp');
let traffic: CanaryTraffic;

before(async () => {
  [caddy, hook, registry] = await Promise.all([startCaddy(), startWebhookReceiver(), startRegistry(), buildImage(FLAKY_IMAGE, FLAKY_DOCKERFILE)])
    .then(([c, h, r]) => [c, h, r] as const);
  berth = await startBerth(caddy, { BERTH_WEBHOOK_ALLOW: '127.0.0.0/8', BERTH_REGISTRY: registry.address });
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-canary-'));
  traffic = new CanaryTraffic(caddy.httpPort, `${app}.localhost`);
  await berth.ok('POST', '/apps', { name: app });
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
});

after(async () => {
  traffic?.close();
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.api('DELETE', `/apps/${pushApp}`, { confirm: pushApp });
  await berth?.kill('SIGTERM');
  await Promise.all([caddy?.stop(), hook?.close(), registry?.stop(), removeImage(FLAKY_IMAGE)]);
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

const freshConnections = () => traffic?.fresh();
beforeEach(freshConnections);

const berthCli = (...args: string[]) => runCliSync({ url: berth.url, token: berth.token, home }, args, { timeoutMs: 120_000 });
const ok = (...args: string[]) => cliOutput(berthCli(...args), args);

const many = (count: number, clients?: number, headers?: Record<string, string>) => traffic.many(count, clients, headers);
const trafficUntil = (done: () => Promise<boolean>, maxMs: number, clients?: number) => traffic.until(done, maxMs, clients);

const releases = async () => berth.ok('GET', `/apps/${app}/releases`) as Promise<Array<{ version: number; status: string; current: boolean; failureReason: string | null; canary?: any }>>;
const current = async () => (await releases()).find((r) => r.current)!.version;

test('a gray canary gets exactly the requests with its header or cookie; releases shows it; abort sends everything back', async () => {
  const stable = `v${await current()}`;
  const out = ok('deploy', app, '--image', TEST_IMAGE, '--canary-header', 'X-Canary=1', '--canary-cookie', 'beta=1');
  const canary = /v(\d+) is a canary at 0 %/.exec(out)?.[1];
  assert.ok(canary, out);
  await eventually('the gray route is in effect', async () => { freshConnections(); return (await many(16, 4, { 'X-Canary': '1' })).every((a) => a.track === 'canary'); }, 30_000);
  freshConnections();
  const [byHeader, byCookie, plain, near] = await Promise.all([
    many(100, 4, { 'X-Canary': '1' }), many(100, 4, { cookie: 'a=b; beta=1; c=d' }), many(100, 4), many(100, 4, { 'X-Canary': '10', cookie: 'beta=10; xbeta=1' }),
  ]);
  assert.equal(count(byHeader, `v${canary}`), 100, 'every request with the header');
  assert.equal(count(byCookie, `v${canary}`), 100, 'every request with the cookie');
  assert.equal(count(plain, stable), 100, 'no other request');
  assert.equal(count(near, stable), 100, 'no request with a near miss');
  assert.ok([...byHeader, ...byCookie].every((a) => a.track === 'canary' && a.status === 200));
  assert.ok([...plain, ...near].every((a) => a.track === 'stable' && a.status === 200));
  const listing = ok('releases', app);
  assert.match(listing, new RegExp(`v${canary} +canary 0 % \\+ header X-Canary=1, cookie beta=1`));
  assert.match(ok('releases:abort', app), /Aborting the canary of .*\.\.\. done/);
  freshConnections();
  const after = await many(50, 4, { 'X-Canary': '1' });
  assert.equal(count(after, stable), 50, 'all traffic back on the stable release');
  const row = (await releases()).find((r) => r.version === Number(canary))!;
  assert.equal(row.status, 'aborted');
  assert.match(row.failureReason ?? '', /aborted by /);
  await eventually('the canary instances stop', async () => {
    const ps = await berth.ok('GET', `/apps/${app}/ps`) as Array<{ release: number }>;
    return ps.every((i) => i.release !== Number(canary));
  }, 30_000);
});

test('a 10 % canary gets 10 ± 3 % of 10,000 requests, a sticky client keeps its side, promote makes it current', async () => {
  const stable = `v${await current()}`;
  // The split is measured here, not the analysis (the next tests): it judges only after a million canary requests.
  // With its defaults it aborted this healthy canary mid-measurement in CI (a fresh container's first requests are
  // slower than the warm stable ones'), and once with --max-p95-ratio 4.
  const out = ok('deploy', app, '--image', TEST_IMAGE, '--canary', '10', '--sticky', '--min-requests', '1000000');
  const canary = `v${/v(\d+) is a canary at 10 %/.exec(out)?.[1]}`;
  // Caddy 2.6 may answer with the previous route for a few seconds after a change (README): measure once in effect.
  // In effect: the weighted draw answers (200 requests at 10 % all miss the canary with a chance of 0.9^200).
  await eventually('the split is in effect', async () => {
    freshConnections();
    const answers = await many(200, 8);
    return answers.every((a) => a.track) && answers.some((a) => a.track === 'canary');
  }, 30_000);
  freshConnections();
  const started = Date.now();
  const answers = await many(10_000, 16);
  const measured = (await releases()).find((r) => `v${r.version}` === canary);
  assert.notEqual(measured?.status, 'aborted', `the canary was aborted while measured: ${measured?.failureReason}`);
  const share = count(answers, canary) / answers.length;
  console.log(`# split: ${(share * 100).toFixed(2)} % of ${answers.length} requests on the canary in ${Date.now() - started} ms`);
  const tally = (list: Answer[]) => JSON.stringify(list.reduce<Record<string, number>>((t, a) => {
    const key = `${a.status} ${a.release} ${a.track}`;
    t[key] = (t[key] ?? 0) + 1;
    return t;
  }, {}));
  assert.ok(Math.abs(share - 0.10) <= 0.03, `canary share ${share}: ${tally(answers)}`);
  assert.equal(count(answers, stable) + count(answers, canary), 10_000);
  assert.ok(answers.every((a) => a.status === 200 && a.track === (a.release === canary ? 'canary' : 'stable')));
  // A drawn client gets the cookie naming its side, and keeps it while it sends it.
  for (const side of [canary, stable]) {
    const drawn = answers.find((a) => a.release === side)!;
    const cookie = drawn.setCookie.find((c) => c.startsWith('berth_canary='))!.split(';')[0]!;
    assert.equal(count(await many(40, 4, { cookie }), side), 40, `sticky on ${side} (${cookie})`);
  }
  assert.match(ok('releases:promote', app), /done, v\d+ is live/);
  assert.equal(`v${await current()}`, canary);
  freshConnections();
  assert.equal(count(await many(100, 4), canary), 100);
  await eventually('the old release\'s instances drain and stop', async () => {
    const ps = await berth.ok('GET', `/apps/${app}/ps`) as Array<{ release: number }>;
    return ps.every((i) => `v${i.release}` === canary);
  }, 30_000);
});

test('a canary answering 500 to 20 % of requests is aborted by the analysis; stable requests never fail; the webhook hears of it', async () => {
  await berth.ok('POST', `/apps/${app}/alerts`, { rule: '5xx_rate > 50% for 5m', webhook: hook.url });
  const stable = `v${await current()}`;
  // A failing release fails from its first request: a short warm-up (the default 30 s would only slow the test).
  const out = ok('deploy', app, '--image', FLAKY_IMAGE, '--canary', '10', '--warmup', '1s');
  const version = Number(/v(\d+) is a canary at 10 %/.exec(out)?.[1]);
  const aborted = async () => (await releases()).find((r) => r.version === version)?.status === 'aborted';
  const answers = await trafficUntil(aborted, 90_000, 8);
  assert.ok(await aborted(), `aborted within 90 s (${answers.length} requests)`);
  const onStable = answers.filter((a) => a.track === 'stable');
  assert.ok(onStable.length > 500);
  assert.deepEqual(onStable.filter((a) => a.status !== 200), [], 'no stable request failed');
  assert.ok(answers.some((a) => a.track === 'canary' && a.status === 500), 'the canary did fail');
  const row = (await releases()).find((r) => r.version === version)!;
  const reason = /aborted by analysis: canary 5xx rate (\d+\.\d) % .* vs stable 0\.0 %/.exec(row.failureReason ?? '');
  assert.ok(reason && Number(reason[1]) >= 15 && Number(reason[1]) <= 25, row.failureReason ?? 'no reason');
  assert.equal(row.canary.state, 'aborted');
  assert.ok(row.canary.comparison.canary.requests >= 100);
  freshConnections();
  assert.equal(count(await many(100, 4), stable), 100, 'all traffic back');
  await eventually('the webhook got the abort', async () => hook.received.some((b) => /canary v\d+ of .* aborted by analysis/.test(b?.message ?? '')), 20_000);
});

test('a healthy canary is promoted by steps under traffic, with no failed request', async () => {
  const stable = `v${await current()}`;
  // A fresh container answers its first requests slower: 2 s of warm-up under this traffic leave them out. This
  // machine is shared and this test is about the steps, so the latency threshold is wide; the 5xx one the default.
  const out = ok('deploy', app, '--image', TEST_IMAGE, '--canary-step', '10,50,100', '--every', '2s', '--min-requests', '50', '--max-p95-ratio', '4', '--warmup', '2s');
  const canary = `v${/v(\d+) is a canary at 10 %/.exec(out)?.[1]}`;
  const promoted = async () => `v${await current()}` === canary;
  const ended = async () => (await promoted()) || (await releases()).find((r) => `v${r.version}` === canary)?.status === 'aborted';
  const answers = await trafficUntil(ended, 90_000, 4);
  assert.ok(await promoted(), `promoted within 90 s (${answers.length} requests): ${JSON.stringify((await releases()).find((r) => `v${r.version}` === canary))}`);
  assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.release}`), []);
  assert.ok(count(answers, stable) > 0 && count(answers, canary) > 0);
  // The share grew with the steps: the last third of the requests saw more of the canary than the first.
  const third = Math.floor(answers.length / 3);
  assert.ok(count(answers.slice(-third), canary) > count(answers.slice(0, third), canary), 'weights rose');
  const row = (await releases()).find((r) => `v${r.version}` === canary)!;
  assert.equal(row.status, 'succeeded');
  assert.equal(row.canary.state, 'promoted');
});

test('with apps:canary a push starts a canary and reports its rejection by the analysis', async () => {
  await berth.ok('POST', '/apps', { name: pushApp });
  assert.match(ok('apps:canary', pushApp, '10', '--canary-step', '10,100', '--every', '1s', '--min-requests', '50', '--warmup', '1s'), /pushes start a canary at 10 %/);
  const repos = new ScratchRepos(home, '');
  const repo = repos.create({ Dockerfile: `FROM ${TEST_IMAGE}\n` });
  repos.git(repo, 'remote', 'add', 'paas', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${pushApp}.git`);
  const first = await gitPush(repo, 'paas', 'HEAD:main');
  assert.equal(first.code, 0, first.output);
  assert.match(first.output, /v1 deployed to/, 'the first push has nothing to compare with: a plain release');
  repos.commitChange(repo, 'Dockerfile', () => FLAKY_DOCKERFILE);
  traffic.host = `${pushApp}.localhost`;
  try {
    let pushed: { code: number; output: string } | null = null;
    const push = gitPush(repo, 'paas', 'HEAD:main').then((r) => { pushed = r; });
    await trafficUntil(async () => pushed !== null, 120_000);
    await push;
    const { code, output } = pushed!;
    assert.notEqual(code, 0, output);
    assert.match(output, /v2 started as a canary on/);
    assert.match(output, /Following the canary v2 through 10, 100 %/);
    assert.match(output, /Push rejected: canary v2 aborted by analysis: canary 5xx rate/);
    freshConnections();
    assert.equal(count(await many(40, 4), 'v1'), 40, 'v1 keeps serving');
  } finally {
    traffic.host = `${app}.localhost`;
  }
});
