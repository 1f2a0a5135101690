// The app DNS behind the Docker scheduler's stable upstreams (src/router/dnsmasq): a real dnsmasq on a loopback
// port answers what Berth writes, outlives the Berth process that started it, comes back when it dies, and a
// port that is taken leaves Berth on listed upstreams instead of failing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Resolver } from 'node:dns/promises';
import { AddressBook, stopAddressBookDaemon } from '../src/router/dnsmasq/address-book.ts';
import { freePort } from './support/ports.ts';
import { eventually } from './support/berth.ts';

const dirs: string[] = [];
after(() => dirs.forEach(stopAddressBookDaemon));

async function open(port?: number): Promise<{ book: AddressBook | null; dir: string; port: number; logged: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-appdns-'));
  dirs.push(dir);
  const logged: string[] = [];
  const p = port ?? await freePort();
  return { book: await AddressBook.open({ dir, port: p, log: (l) => logged.push(l) }), dir, port: p, logged };
}

async function lookup(port: number, name: string): Promise<string[]> {
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return (await resolver.resolve4(name).catch(() => [] as string[])).sort();
}

test('set() is live in dnsmasq when it resolves; remove() takes the name away; other apps are untouched', async () => {
  const { book, port } = await open();
  assert.ok(book);
  await book.set('shop', ['10.9.0.3', '10.9.0.2']);
  await book.set('blog', ['10.9.1.2']);
  assert.deepEqual(await lookup(port, 'shop.berth.internal'), ['10.9.0.2', '10.9.0.3']);
  await book.set('shop', ['10.9.0.4']);
  assert.deepEqual(await lookup(port, 'shop.berth.internal'), ['10.9.0.4'], 'no stale answer right after set()');
  await book.remove('shop');
  assert.deepEqual(await lookup(port, 'shop.berth.internal'), []);
  assert.deepEqual(await lookup(port, 'blog.berth.internal'), ['10.9.1.2']);
  assert.deepEqual(await lookup(port, 'example.com'), [], 'it answers for Berth names only (no upstream resolver)');
  book.close();
});

test('a new Berth process adopts the running dnsmasq and its entries; a killed dnsmasq is started again', async () => {
  const first = await open();
  await first.book!.set('shop', ['10.9.2.2']);
  first.book!.close(); // Berth stops; dnsmasq keeps answering, so apps keep resolving
  assert.deepEqual(await lookup(first.port, 'shop.berth.internal'), ['10.9.2.2']);
  const pid = Number(fs.readFileSync(path.join(first.dir, 'dnsmasq.pid'), 'utf8'));

  const again = await AddressBook.open({ dir: first.dir, port: first.port, log: () => {} });
  assert.ok(again);
  assert.equal(Number(fs.readFileSync(path.join(first.dir, 'dnsmasq.pid'), 'utf8')), pid, 'the same daemon');
  await again.set('blog', ['10.9.2.3']);
  assert.deepEqual(await lookup(first.port, 'shop.berth.internal'), ['10.9.2.2'], 'entries from before the restart are kept');

  process.kill(pid, 'SIGKILL');
  await eventually('dnsmasq restarted by the supervisor', async () => (await lookup(first.port, 'blog.berth.internal')).length === 1, 10_000);
  assert.notEqual(Number(fs.readFileSync(path.join(first.dir, 'dnsmasq.pid'), 'utf8')), pid);
  again.close();
});

test('a taken port gives no address book (routes then list instances), with the reason logged', async () => {
  const taken = await open();
  const clash = await open(taken.port);
  assert.equal(clash.book, null);
  assert.match(clash.logged.join('\n'), /Address already in use/);
  taken.book!.close();
});
