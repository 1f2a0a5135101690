// Per-app state that lives in the server's memory goes when the app is destroyed (issue 15: nothing grows
// with use, and a later app of the same name inherits nothing). Each store's cleanup, as the 'destroyed'
// and 'renamed' subscribers in src/server/start.ts call it.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../src/state/db.ts';
import { MetricsStore } from '../src/metrics/store.ts';
import { holdRunNumber, releaseRunNumber, type RunNumbers } from '../src/shared/run-numbers.ts';
import { AppEvents } from '../src/lifecycle/app-events.ts';
import { TrackWindows } from '../src/canary/track-windows.ts';
import { dropWindowsWithApps } from '../src/canary/wiring.ts';

function tempMetrics(): MetricsStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cleanup-'));
  return new MetricsStore(openDb(path.join(dir, 'berth.db')).$client);
}

const appsIn = (exposition: string) => new Set([...exposition.matchAll(/app="([^"]+)"/g)].map((m) => m[1]));

describe('metrics: a destroyed app leaves no counters', () => {
  test('removeApp drops the app\'s Prometheus totals and open buckets; other apps keep theirs', () => {
    const metrics = tempMetrics();
    const now = Date.now();
    for (let i = 0; i < 5; i++) metrics.recordRequest({ app: 'gone', ts: now, status: 200, durationMs: 12 });
    metrics.recordRequest({ app: 'kept', ts: now, status: 500, durationMs: 3 });
    assert.deepEqual(appsIn(metrics.totals.render()), new Set(['gone', 'kept']));

    metrics.removeApp('gone');
    assert.deepEqual(appsIn(metrics.totals.render()), new Set(['kept']));
    assert.deepEqual(metrics.openBuckets('gone'), []);
    assert.equal(metrics.openBuckets('kept').length, 1);

    // A new app of the same name starts at 0.
    metrics.recordRequest({ app: 'gone', ts: now, status: 200, durationMs: 12 });
    assert.match(metrics.totals.render(), /berth_requests_total\{app="gone",status="2xx"\} 1\n/);
  });

  test('renameApp moves the totals: nothing stays under the old name', () => {
    const metrics = tempMetrics();
    metrics.recordRequest({ app: 'old', ts: Date.now(), status: 404, durationMs: 1 });
    metrics.renameApp('old', 'new');
    assert.deepEqual(appsIn(metrics.totals.render()), new Set(['new']));
    assert.match(metrics.totals.render(), /berth_requests_total\{app="new",status="4xx"\} 1\n/);
  });
});

describe('berth run numbers', () => {
  test('an app with no number being handed out keeps no entry', () => {
    const numbers: RunNumbers = new Map();
    holdRunNumber(numbers, 'web', 1);
    holdRunNumber(numbers, 'web', 2);
    holdRunNumber(numbers, 'api', 1);
    releaseRunNumber(numbers, 'web', 1);
    assert.deepEqual([...numbers.get('web')!], [2]);
    releaseRunNumber(numbers, 'web', 2);
    releaseRunNumber(numbers, 'api', 1);
    releaseRunNumber(numbers, 'never', 1);
    assert.equal(numbers.size, 0);
  });
});

describe('canary request windows', () => {
  test('a destroyed app\'s window goes, a renamed app\'s old name too; other apps keep theirs', async () => {
    const events = new AppEvents();
    const windows = new TrackWindows();
    dropWindowsWithApps(events, windows);
    for (const app of ['gone', 'kept', 'old']) {
      windows.open(app, 0);
      windows.record({ app, ts: 1, status: 200, durationMs: 5, track: 'canary' });
    }
    await events.emit('destroyed', { app: 'gone', appId: 1 });
    await events.emit('renamed', { app: 'new', appId: 3, from: 'old' });
    assert.equal(windows.summary('gone'), null);
    assert.equal(windows.summary('old'), null);
    assert.equal(windows.summary('kept')?.canary.requests, 1);
    // A later app of the same name counts nothing it did not serve.
    windows.record({ app: 'gone', ts: 2, status: 500, durationMs: 5, track: 'canary' });
    assert.equal(windows.summary('gone'), null);
  });
});
