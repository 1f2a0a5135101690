// The autoscaler's decisions as a pure function (breach, cooldown, bounds, releases), its settings checks,
// its sliding request window, and the CLI's target parsing. No server.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decide, CALM_MS, SUSTAIN_MS, type AutoscaleRange, type DecisionInput, type Sample } from '../src/autoscale/decide.ts';
import { parseAutoscaleBody, DEFAULT_COOLDOWN_MS } from '../src/autoscale/settings.ts';
import { RequestWindows } from '../src/autoscale/request-window.ts';
import { parseTarget } from '../src/cli/commands/autoscale.ts';
import { BerthError } from '../src/shared/errors.ts';
import { latestCpu } from '../src/autoscale/cpu-reading.ts';
import { MetricsStore, type InstancePoint } from '../src/metrics/store.ts';
import { openDb } from '../src/state/db.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Autoscaler, type AutoscaleNotice } from '../src/autoscale/controller.ts';
import { AutoscaleStore } from '../src/state/autoscale-store.ts';
import { AppsStore } from '../src/state/apps-store.ts';
import { AuditStore } from '../src/state/audit-store.ts';
import { openConfigSecrets } from '../src/state/config-secrets.ts';
import { AppLocks } from '../src/releases/app-lock.ts';
import type { Deployer } from '../src/releases/deployer.ts';

const NOW = 1_000_000_000;
const rps = (over: Partial<AutoscaleRange> = {}): AutoscaleRange => ({ min: 1, max: 8, signal: 'rps', target: 50, cooldownMs: 60_000, ...over });

/** One sample a second over the last `seconds`, all of `value`. */
function steady(value: number | null, seconds: number, now = NOW): Sample[] {
  return Array.from({ length: seconds + 1 }, (_, i) => ({ at: now - (seconds - i) * 1000, value }));
}

function input(over: Partial<DecisionInput>): DecisionInput {
  return { settings: rps(), maxInstances: 10, samples: [], current: 1, lastChangeAt: null, releaseInProgress: false, now: NOW, ...over };
}

describe('autoscale decisions', () => {
  test('a sustained breach scales up at once, straight to the count that brings the load to the target', () => {
    const d = decide(input({ samples: steady(160, 6), current: 1 }));
    assert.equal(d.action, 'up');
    assert.equal(d.to, 4, '160 req/s on one instance at 50 per instance needs 4');
    assert.match(d.reason, /160 req\/s per instance over the target 50 req\/s per instance for 5s/);
  });

  test('a breach shorter than the sustain window, or one that broke off, does nothing', () => {
    assert.equal(decide(input({ samples: steady(160, (SUSTAIN_MS / 1000) - 2) })).action, 'hold');
    const dipped = steady(160, 6).map((s, i) => (i === 4 ? { ...s, value: 20 } : s));
    assert.equal(decide(input({ samples: dipped })).action, 'hold');
    assert.equal(decide(input({ samples: steady(null, 6), settings: rps({ signal: 'cpu', target: 70 }) })).action, 'hold', 'no reading is no breach');
  });

  test('samples from before the last change are not counted: the new count must breach on its own', () => {
    const d = decide(input({ samples: steady(160, 10), current: 2, lastChangeAt: NOW - 3000 }));
    assert.equal(d.action, 'hold');
  });

  test('never above max nor BERTH_MAX_INSTANCES; a breach at the cap is pinned', () => {
    assert.equal(decide(input({ samples: steady(1000, 6), current: 2 })).to, 8, 'max 8');
    assert.equal(decide(input({ samples: steady(1000, 6), current: 2, maxInstances: 5 })).to, 5, 'server cap 5');
    const pinned = decide(input({ samples: steady(1000, 6), current: 8 }));
    assert.equal(pinned.action, 'hold');
    assert.equal(pinned.pinned, true);
    assert.match(pinned.reason, /at the maximum of 8/);
    assert.deepEqual(decide(input({ current: 9, samples: steady(0, 20) })), { action: 'down', to: 8, reason: 'above the maximum of 8', pinned: false });
  });

  test('below min scales up to min; at min never down', () => {
    assert.equal(decide(input({ settings: rps({ min: 3 }), current: 1 })).to, 3);
    assert.equal(decide(input({ settings: rps({ min: 2 }), current: 2, samples: steady(0, 60) })).action, 'hold');
  });

  test('nothing changes while a release is in progress, not even at a breach', () => {
    const d = decide(input({ samples: steady(1000, 6), releaseInProgress: true }));
    assert.equal(d.action, 'hold');
    assert.equal(d.pinned, false);
    assert.equal(decide(input({ settings: rps({ min: 3 }), releaseInProgress: true })).action, 'hold');
  });

  test('scale-down: one at a time, only after the cooldown and a calm spell', () => {
    const calm = steady(5, 20);
    assert.equal(decide(input({ current: 4, samples: calm, lastChangeAt: NOW - 30_000 })).action, 'hold', 'cooldown of 60s not over');
    assert.match(decide(input({ current: 4, samples: calm, lastChangeAt: NOW - 30_000 })).reason, /cooling down \(30s left\)/);
    const down = decide(input({ current: 4, samples: steady(5, 20, NOW), lastChangeAt: NOW - 61_000 }));
    assert.equal(down.action, 'down');
    assert.equal(down.to, 3);
    const shortCalm = steady(5, (CALM_MS / 1000) - 3);
    assert.equal(decide(input({ current: 4, samples: shortCalm, lastChangeAt: null })).action, 'hold', 'a calm spell shorter than 10 s');
  });

  test('no scale-down when one fewer would bring the others near the target (no flapping)', () => {
    // 2 instances at 30 each: one would carry 60 > 50.
    assert.equal(decide(input({ current: 2, samples: steady(30, 20) })).action, 'hold');
    // 4 instances at 25 each: three would carry 33 < 40 (80 % of 50).
    assert.equal(decide(input({ current: 4, samples: steady(25, 20) })).to, 3);
  });

  test('p95: one more instance per sustained breach; down only well under the target or without requests', () => {
    const p95 = rps({ signal: 'p95', target: 300 });
    assert.deepEqual(decide(input({ settings: p95, current: 2, samples: steady(900, 6) })).to, 3);
    assert.equal(decide(input({ settings: p95, current: 3, samples: steady(200, 20) })).action, 'hold', '200 ms is not under half of 300');
    assert.equal(decide(input({ settings: p95, current: 3, samples: steady(null, 20) })).to, 2);
  });

  test('cpu: per-instance % like rps; a missing reading is not calm', () => {
    const cpu = rps({ signal: 'cpu', target: 70 });
    assert.equal(decide(input({ settings: cpu, current: 2, samples: steady(140, 6) })).to, 4);
    assert.equal(decide(input({ settings: cpu, current: 3, samples: steady(null, 20) })).action, 'hold');
    assert.equal(decide(input({ settings: cpu, current: 3, samples: steady(10, 20) })).to, 2);
  });
});

describe('autoscale settings', () => {
  const fails = (body: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => parseAutoscaleBody(body, 10), (err: unknown) => err instanceof BerthError && err.status === 400 && pattern.test(err.message));

  test('one signal, a range within BERTH_MAX_INSTANCES, a bounded cooldown', () => {
    assert.deepEqual(parseAutoscaleBody({ min: 1, max: 8, rps: 50 }, 10), { min: 1, max: 8, signal: 'rps', target: 50, cooldownMs: DEFAULT_COOLDOWN_MS });
    assert.equal(parseAutoscaleBody({ min: 2, max: 3, p95: 300, cooldown: '30s' }, 10).cooldownMs, 30_000);
    fails({ min: 1, max: 11, rps: 50 }, /above the 10 instances/);
    fails({ min: 0, max: 3, rps: 50 }, /at least 1/);
    fails({ min: 4, max: 3, rps: 50 }, /must not be below min/);
    fails({ min: 1, max: 3, rps: 50, cpu: 70 }, /exactly one signal/);
    fails({ min: 1, max: 3 }, /exactly one signal/);
    fails({ min: 1, max: 3, cpu: '70' }, /cpu must be a number/);
    fails({ min: 1, max: 3, rps: Number.NaN }, /rps must be a number/);
    fails({ min: 1.5, max: 3, rps: 1 }, /whole number/);
    fails({ min: 1, max: 3, rps: 1, cooldown: '1s' }, /cooldown must be from 5s/);
    fails({ min: 1, max: 3, rps: 1, cooldown: '$(id)' }, /duration/);
  });

  test('CLI targets: --rps 50, --cpu 70%, --p95 300ms or 0.3s', () => {
    assert.equal(parseTarget('rps', '50'), 50);
    assert.equal(parseTarget('cpu', '70%'), 70);
    assert.equal(parseTarget('p95', '300ms'), 300);
    assert.equal(parseTarget('p95', '0.3s'), 300);
    assert.throws(() => parseTarget('rps', '50%'), /--rps takes a number/);
    assert.throws(() => parseTarget('cpu', '0'), /--cpu takes a number/);
  });
});

test('the request window is sliding: requests/s and p95 over the last 10 s only', () => {
  const windows = new RequestWindows();
  for (let i = 0; i < 200; i++) windows.record('shop', NOW - 15_000 + i * 10, 1000); // 2 s of slow requests, 13-15 s ago
  for (let i = 0; i < 500; i++) windows.record('shop', NOW - 5_000 + i * 10, 20);   // 500 fast ones in the last 5 s
  const { rate, p95 } = windows.read('shop', NOW);
  assert.equal(rate, 50);
  assert.ok(p95 !== null && p95 > 18 && p95 < 22, `p95 ${p95} of the last 10 s only`);
  assert.deepEqual(windows.read('shop', NOW + 11_000), { rate: 0, p95: null });
});

test('the CPU signal: the newest 10 s reading of the instances of the type, averaged, timed at the end of its bucket', () => {
  const sqlite = openDb(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-autoscale-')), 'berth.db')).$client;
  const store = new MetricsStore(sqlite);
  const cpu = latestCpu(sqlite);
  const point = (instance: string, value: number | null): InstancePoint => ({
    app: 'shop', instance, cpu: value, memoryBytes: 1, memoryLimitBytes: null,
    rxBytesPerSec: null, txBytesPerSec: null, blockReadBytesPerSec: null, blockWriteBytesPerSec: null,
  });
  assert.equal(cpu('shop', 'web'), null, 'no reading yet');
  store.recordInstances(1_000_000_000, [point('web.1', 90), point('web.2', 10)]);
  store.recordInstances(1_000_010_000, [point('web.1', 80), point('web.2', null), point('web.10', 40), point('worker.1', 300)]);
  assert.deepEqual(cpu('shop', 'web'), { at: 1_000_020_000, value: 60 }, 'web.1 and web.10; web.2 has no rate yet; not the worker');
  assert.deepEqual(cpu('shop', 'worker'), { at: 1_000_020_000, value: 300 });
  assert.equal(cpu('shop', 'clock'), null);
});

describe('the autoscaler loop (real stores, a deployer that only records)', () => {
  function setup(scale: (quantity: number) => Promise<void> = async () => {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-autoscaler-'));
    const db = openDb(path.join(dir, 'berth.db'));
    const apps = new AppsStore(db, openConfigSecrets(db, path.join(dir, 'secrets.key')).box);
    const app = apps.create('shop');
    apps.replaceFormation(app.id, [{ type: 'web', quantity: 1, memoryMB: null, cpus: null, command: null, generation: 0 }]);
    const store = new AutoscaleStore(db);
    const audit = new AuditStore(db);
    const notices: AutoscaleNotice[] = [];
    const scaled: number[] = [];
    const deployer = {
      locks: new AppLocks(),
      scale: async (_app: string, updates: { type: string; quantity?: number }[]) => {
        const quantity = updates[0].quantity!;
        scaled.push(quantity);
        await scale(quantity);
        apps.replaceFormation(app.id, [{ type: 'web', quantity, memoryMB: null, cpus: null, command: null, generation: 0 }]);
        return apps.formation(app.id);
      },
    };
    const autoscaler = new Autoscaler({
      store, apps, deployer: deployer as unknown as Pick<Deployer, 'locks' | 'scale'>, audit, cpu: () => null,
      notify: (n) => notices.push(n), maxInstances: 10, log: () => {},
    });
    store.set(app.id, 'web', { min: 1, max: 2, signal: 'rps', target: 10, cooldownMs: 60_000 }, 'admin');
    autoscaler.refreshWatched();
    /** `rate` requests/s for one second ending at `at`, then a round at `at`. */
    const second = (at: number, rate: number) => {
      for (let i = 0; i < rate; i++) autoscaler.recordRequest('shop', at - 1000 + (i * 1000) / rate, 5);
      autoscaler.tick(at);
    };
    return { apps, app, store, audit, autoscaler, notices, scaled, second };
  }
  const settle = () => new Promise((r) => setImmediate(r));

  test('a breach scales through the deployer, is audited and noticed; at max it is pinned once, and unpinned once', async () => {
    const t = setup();
    for (let s = 1; s <= 12; s++) t.second(NOW + s * 1000, 100);
    await settle();
    assert.deepEqual(t.scaled, [2]);
    assert.deepEqual(t.notices.map((n) => [n.kind, n.from, n.to]), [['scaled', 1, 2]]);
    const [entry] = t.audit.list({ app: 'shop', limit: 5 });
    assert.equal(entry.actor, 'berth:autoscaler');
    assert.match(entry.detail!, /^web 1 → 2: .* req\/s per instance over the target 10 req\/s per instance for 5s$/);
    // Still breaching at the max of 2: one "pinned", however many rounds; calm again: one "unpinned".
    const changedAt = t.store.find(t.app.id, 'web')!.lastChangeAt!;
    for (let s = 1; s <= 10; s++) t.second(changedAt + s * 1000, 100);
    assert.deepEqual(t.notices.slice(1).map((n) => n.kind), ['pinned']);
    assert.match(t.autoscaler.state(t.app.id, 'web')!, /^holding: at the maximum of 2: /);
    for (let s = 11; s <= 25; s++) t.second(changedAt + s * 1000, 0);
    assert.deepEqual(t.notices.slice(1).map((n) => n.kind), ['pinned', 'unpinned']);
    assert.deepEqual(t.scaled, [2], 'the cooldown of 60 s holds the scale-down');
  });

  test('nothing happens while a release is in progress; a failed scale is noticed and waits out the cooldown', async () => {
    const t = setup(async () => { throw new BerthError(422, 'release_failed', 'no room'); });
    t.apps.update(t.app.id, { deployingRelease: 7 });
    for (let s = 1; s <= 12; s++) t.second(NOW + s * 1000, 100);
    await settle();
    assert.deepEqual(t.scaled, []);
    assert.equal(t.autoscaler.state(t.app.id, 'web'), 'holding: a release is in progress');
    t.apps.update(t.app.id, { deployingRelease: null });
    for (let s = 13; s <= 20; s++) t.second(NOW + s * 1000, 100);
    await settle();
    assert.deepEqual(t.scaled, [2]);
    assert.deepEqual(t.notices.map((n) => n.kind), ['failed']);
    assert.equal(t.audit.list({ app: 'shop', limit: 1 })[0].status, 422);
    for (let s = 21; s <= 30; s++) t.second(Date.now() + s * 1000, 100);
    await settle();
    assert.deepEqual(t.scaled, [2], 'no retry at the next breach: a failure waits out the cooldown');
    assert.match(t.autoscaler.state(t.app.id, 'web')!, /^holding: the last scale failed; trying again in \d+s$/);
  });
});
