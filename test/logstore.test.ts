// The log store on a temp dir: append, flush, rotate, pack, range reads that touch only the
// segments and blocks in range, retention by age and by size, and recovery after a crash.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogStore, type LogStoreOptions } from '../src/logstore/store.ts';
import type { LogRecord } from '../src/logstore/record.ts';
import type { LogQuery } from '../src/logstore/range-reader.ts';
import { serializeRecord } from '../src/logstore/record.ts';
import { apiNdjson, toApiLine } from '../src/logstore/api-lines.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logstore-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const HOUR = 3_600_000;
const T0 = Date.now() - 10 * HOUR;

function newStore(name: string, opts: Partial<LogStoreOptions> = {}): LogStore {
  return new LogStore({ dir: path.join(root, name), retentionDays: 7, maxBytesPerApp: 1024 ** 3, flushMs: 60_000, maintenanceMs: 3_600_000, ...opts });
}

function record(i: number, overrides: Partial<LogRecord> = {}): LogRecord {
  const index = (i % 2) + 1;
  return { ts: T0 + i * 1000, process: i % 5 === 0 ? 'worker' : 'web', instance: `${i % 5 === 0 ? 'worker' : 'web'}.${index}`,
    release: 3, stream: i % 7 === 0 ? 'stderr' : 'stdout', text: `line ${i} "quoted" ünïcode ${'x'.repeat(i % 40)}`, ...overrides };
}

async function readAll(store: LogStore, app: string, query: LogQuery = {}): Promise<LogRecord[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(app, query)) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? text.trimEnd().split('\n').map((l) => JSON.parse(l)) : [];
}

const numbers = (records: LogRecord[]) => records.map((r) => Number(/^line (\d+)/.exec(r.text)![1]));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('appended lines read back exactly, with process, instance, grep and limit filters', async () => {
  const store = newStore('basic');
  for (let i = 0; i < 1000; i++) store.append('shop', record(i));
  const all = await readAll(store, 'shop');
  assert.equal(all.length, 1000);
  assert.deepEqual(all[3], record(3));
  assert.deepEqual(numbers(await readAll(store, 'shop', { process: 'worker' })), range(0, 1000).filter((i) => i % 5 === 0));
  assert.deepEqual(numbers(await readAll(store, 'shop', { instance: 'web.2' })), range(0, 1000).filter((i) => i % 5 !== 0 && i % 2 === 1));
  assert.deepEqual(numbers(await readAll(store, 'shop', { grep: 'line 99 ' })), [99]);
  // grep matches the text only, quotes and non-ASCII included, never other fields.
  assert.equal((await readAll(store, 'shop', { grep: '"quoted" ünï' })).length, 1000);
  assert.equal((await readAll(store, 'shop', { grep: 'worker' })).length, 0);
  assert.deepEqual(numbers(await readAll(store, 'shop', { since: T0 + 10_000, limit: 3 })), [10, 11, 12]);
  assert.deepEqual(await readAll(store, 'nobody'), []);
  assert.equal(fs.existsSync(path.join(root, 'basic', 'nobody')), false, 'a read must not create an app directory');
  await store.close();
});

test('segments rotate by size, get packed block by block, and shrink', async () => {
  const store = newStore('rotate', { blockBytes: 4096, segmentBytes: 64 * 1024 });
  for (let i = 0; i < 20_000; i++) store.append('big', record(i));
  store.flush();
  await store.idle();
  const dir = path.join(root, 'rotate', 'big');
  const files = fs.readdirSync(dir);
  const packed = files.filter((f) => f.endsWith('.seg'));
  assert.ok(packed.length >= 20, `expected many packed segments, got ${packed.length}`);
  assert.equal(files.filter((f) => f.endsWith('.log')).length, 1, 'only the active segment stays raw');
  const index = JSON.parse(fs.readFileSync(path.join(dir, packed[0].replace('.seg', '.idx')), 'utf8'));
  assert.equal(index.codec, 'zstd');
  assert.ok(index.blocks.length >= 10);
  const rawBytes = index.blocks.reduce((sum: number, b: any) => sum + b.rawLength, 0);
  assert.ok(fs.statSync(path.join(dir, packed[0])).size * 4 < rawBytes, 'packed segments are several times smaller');
  assert.deepEqual(numbers(await readAll(store, 'big')), range(0, 20_000));
  await store.close();
});

test('a time-range read touches only the segments and blocks in range', async () => {
  const store = newStore('range', { blockBytes: 4096, segmentBytes: 64 * 1024 });
  for (let i = 0; i < 20_000; i++) store.append('ranged', record(i));
  await store.close();
  const dir = path.join(root, 'range', 'ranged');
  // Wreck every packed segment outside 12000..12999 s: a read that touched one would fail to decompress.
  const since = T0 + 12_000_000;
  const until = T0 + 13_000_000;
  let wrecked = 0;
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.idx') && !f.endsWith('.log.idx'))) {
    const index = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const seg = path.join(dir, file.replace('.idx', '.seg'));
    const data = fs.readFileSync(seg);
    for (const b of index.blocks) {
      if (b.maxTs < since || b.minTs >= until) { data.fill(0x55, b.offset, b.offset + b.length); wrecked++; }
    }
    fs.writeFileSync(seg, data);
  }
  assert.ok(wrecked > 100);
  const reopened = newStore('range', { blockBytes: 4096, segmentBytes: 64 * 1024 });
  assert.deepEqual(numbers(await readAll(reopened, 'ranged', { since, until })), range(12_000, 13_000));
  await assert.rejects(readAll(reopened, 'ranged', { since: T0 }), 'and a read over the wrecked blocks does fail');
  await reopened.close();
});

test('retention drops segments older than the retention, then the oldest beyond the size limit', async () => {
  const store = newStore('retention', { blockBytes: 4096, segmentBytes: 64 * 1024, retentionDays: 1 });
  const old = Date.now() - 3 * 86_400_000;
  for (let i = 0; i < 5000; i++) store.append('aged', record(i, { ts: old + i }));
  for (let i = 5000; i < 10_000; i++) store.append('aged', record(i, { ts: Date.now() - 10_000 + (i - 5000) }));
  store.flush();
  await store.idle();
  store.maintain(Date.now());
  const kept = numbers(await readAll(store, 'aged'));
  assert.ok(kept[0] >= 4000 && kept[0] < 5100, `old lines dropped (first kept: ${kept[0]})`);
  assert.deepEqual(kept, range(kept[0], 10_000));
  await store.close();

  const small = newStore('retention-size', { blockBytes: 4096, segmentBytes: 32 * 1024, maxBytesPerApp: 40 * 1024 });
  for (let i = 0; i < 50_000; i++) small.append('capped', record(i));
  small.flush();
  await small.idle();
  small.maintain(Date.now());
  assert.ok(small.usage('capped').bytes <= 40 * 1024 + 32 * 1024, `usage ${small.usage('capped').bytes}`);
  const left = numbers(await readAll(small, 'capped'));
  assert.equal(left.at(-1), 49_999, 'the newest lines are kept');
  assert.ok(left[0] > 10_000, 'the oldest are gone');
  assert.deepEqual(left, range(left[0], 50_000));
  await small.close();
});

test('after a crash: flushed lines are all there once, a torn line is cut, pack leftovers are removed', async () => {
  const opts = { blockBytes: 4096, segmentBytes: 64 * 1024 };
  const store = newStore('crash', opts);
  for (let i = 0; i < 3000; i++) store.append('c', record(i));
  store.flush();
  await store.idle();
  // Simulated crash: no close(); a half-written line at the end; a leftover temp file of a pack.
  const dir = path.join(root, 'crash', 'c');
  const active = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort().at(-1)!;
  fs.appendFileSync(path.join(dir, active), '{"ts":123,"process":"web","inst');
  fs.writeFileSync(path.join(dir, '000000000000001.seg.tmp'), 'junk');
  const again = newStore('crash', opts);
  for (let i = 3000; i < 3100; i++) again.append('c', record(i));
  assert.deepEqual(numbers(await readAll(again, 'c')), range(0, 3100));
  assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')));
  await again.close();
});

test('subscribe after read sees exactly the lines appended later', async () => {
  const store = newStore('follow');
  for (let i = 0; i < 10; i++) store.append('f', record(i));
  const later: number[] = [];
  const reading = store.read('f', {});
  const stop = store.subscribe('f', (r) => later.push(Number(/^line (\d+)/.exec(r.text)![1])));
  for (let i = 10; i < 15; i++) store.append('f', record(i));
  const chunks: Buffer[] = [];
  for await (const chunk of reading) chunks.push(chunk);
  stop();
  store.append('f', record(15));
  assert.deepEqual(numbers(Buffer.concat(chunks).toString().trimEnd().split('\n').map((l) => JSON.parse(l))), range(0, 10));
  assert.deepEqual(later, range(10, 15));
  await store.close();
});

test('the router access log tail reads Caddy JSON lines across rolls and restarts, each once', async () => {
  const { AccessLogTail, parseAccessLine, formatRouterLine } = await import('../src/router/caddy/access-log.ts');
  const dir = fs.mkdtempSync(path.join(root, 'access-'));
  const file = path.join(dir, 'access.log');
  const line = (uri: string, host = 'shop.localhost:8080') => `${JSON.stringify({
    level: 'info', ts: 1795636660.5, logger: 'http.log.access.berth', msg: 'handled request',
    request: { remote_ip: '127.0.0.1', remote_port: '5555', proto: 'HTTP/1.1', method: 'GET', host, uri },
    duration: 0.0031, size: 12, status: 200,
  })}\n`;
  const parsed = parseAccessLine(line('/a'))!;
  assert.deepEqual(parsed, { ts: 1795636660500, host: 'shop.localhost', method: 'GET', uri: '/a', status: 200, durationMs: 3.1, bytes: 12, remote: '127.0.0.1' });
  assert.equal(formatRouterLine({ ...parsed, app: 'shop' }), 'at=info method=GET path="/a" host=shop.localhost fwd="127.0.0.1" status=200 duration=3ms bytes=12');
  assert.equal(parseAccessLine('{"level":"info","msg":"serving"}'), null);

  const seen: string[] = [];
  const tailFrom = (start: any) => {
    const tail = new AccessLogTail({ file, start, appFor: (host) => (host === 'shop.localhost' ? 'shop' : null) });
    tail.onAccess((e) => seen.push(`${e.app}${e.uri}`));
    return tail;
  };
  const third = line('/3');
  fs.writeFileSync(file, line('/1') + line('/unknown', 'other.localhost') + line('/2') + third.slice(0, 40));
  const tail = tailFrom(null);
  tail.poll();
  assert.deepEqual(seen, ['shop/1', 'shop/2']);
  // The half-written line is finished, then Caddy rolls: the old file is read to its end before the new one.
  fs.appendFileSync(file, third.slice(40));
  fs.renameSync(file, path.join(dir, 'access-2026.log'));
  fs.writeFileSync(file, line('/4'));
  tail.poll();
  assert.deepEqual(seen, ['shop/1', 'shop/2', 'shop/3', 'shop/4']);
  const saved = tail.position();
  tail.stop();
  // Berth away: more lines, another roll; a new tail from the saved position reads just those.
  fs.appendFileSync(file, line('/5'));
  fs.renameSync(file, path.join(dir, 'access-2027.log'));
  fs.writeFileSync(file, line('/6'));
  const again = tailFrom(saved);
  again.poll();
  again.stop();
  assert.deepEqual(seen, ['shop/1', 'shop/2', 'shop/3', 'shop/4', 'shop/5', 'shop/6']);
});

/** What /logs answers for these stored chunks. */
async function apiText(chunks: string[]): Promise<string> {
  const out: Buffer[] = [];
  for await (const part of apiNdjson((async function* () { for (const c of chunks) yield Buffer.from(c); })())) out.push(part);
  return Buffer.concat(out).toString('utf8');
}

test('stored lines in API form: byte for byte what JSON.parse + toApiLine + JSON.stringify give', async () => {
  const tricky: LogRecord[] = [
    record(1), record(2, { release: null, stream: 'stderr' }),
    record(3, { process: 'router', instance: 'shop.example.com', stream: 'router', text: 'at=info path="/a\\b" \u0000 \t tab' }),
    record(4, { instance: 'web.007' }), record(5, { instance: 'web.' }), record(6, { instance: 'web12' }),
    record(7, { text: 'emoji 🚢 and lone \ud800 surrogate, "quotes", \n newline' }), record(8, { text: '' }),
    record(9, { ts: Date.UTC(2026, 0, 1, 0, 0, 0, 5) }), record(10, { ts: Date.UTC(2026, 0, 1, 0, 0, 0, 999) }),
  ];
  const expected = tricky.map((r) => `${JSON.stringify(toApiLine(r))}\n`).join('');
  const stored = tricky.map(serializeRecord).join('');
  // Arrival order is time order apart from records 9 and 10 (2026-01-01, older than the rest): sorted first.
  const sortedExpected = [...tricky].sort((a, b) => a.ts - b.ts).map((r) => `${JSON.stringify(toApiLine(r))}\n`).join('');
  assert.equal(await apiText([stored]), sortedExpected);
  assert.equal(await apiText([tricky.slice(0, 8).map(serializeRecord).join('')]), expected.split('\n').slice(0, 8).join('\n') + '\n');
  // A line not in the stored field order still comes out right (parsed the slow way).
  const reordered = JSON.stringify({ text: 'x', ts: T0, process: 'web', instance: 'web.1', release: 1, stream: 'stdout' });
  assert.equal(await apiText([`${reordered}\n`]), `${JSON.stringify(toApiLine(JSON.parse(reordered)))}\n`);
});

test('API lines come out in time order within the 10 s window, stable for equal times, across chunks', async () => {
  const at = (s: number, n: number) => record(n, { ts: T0 + s * 1000 });
  const chunks = [[at(0, 0), at(2, 1), at(1, 2)], [at(1, 3), at(30, 4)], [at(25, 5), at(30, 6), at(31, 7)], [at(45, 8), at(50, 9)]];
  const text = await apiText(chunks.map((c) => c.map(serializeRecord).join('')));
  const order = text.trimEnd().split('\n').map((l) => Number(/^line (\d+)/.exec(JSON.parse(l).line)![1]));
  assert.deepEqual(order, [0, 2, 3, 1, 5, 4, 6, 7, 8, 9]);
});
