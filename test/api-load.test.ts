// The API under concurrent use. better-sqlite3 12 on Node 24 aborted the whole server (a GC finalizer of
// a prepared statement running without a Node environment) after a dozen concurrent GET /apps with 50 apps;
// drizzle prepares a statement per query, so any busy server hit it. This keeps that from coming back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCaddy } from './support/caddy.ts';
import { startBerth, type BerthServer } from './support/berth.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
const names = Array.from({ length: 50 }, (_, i) => `load-${Math.random().toString(36).slice(2, 6)}-${i}`);

before(async () => {
  caddy = await startCaddy();
  berth = await startBerth(caddy);
  for (const name of names) await berth.ok('POST', '/apps', { name });
});

after(async () => {
  for (const name of names) await berth?.api('DELETE', `/apps/${name}`, { confirm: name });
  await berth?.kill('SIGTERM');
  await caddy?.stop();
});

test('4 clients × 100 GET /apps with 50 apps: every answer complete, the server still up', async () => {
  const statuses = await Promise.all([1, 2, 3, 4].map(async () => {
    const seen: number[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await berth.api('GET', '/apps');
      seen.push(res.status);
      if (res.status === 200) assert.equal(res.body.length, 50);
    }
    return seen;
  }));
  assert.deepEqual([...new Set(statuses.flat())], [200]);
  assert.equal((await berth.api('GET', '/health', undefined, null)).status, 200);
});
