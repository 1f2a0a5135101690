// The backup archive on its own: written and read back whole, and every shape of hostile or damaged archive
// refused before anything outside the staging folder is written (traversal, absolute paths, links, huge
// entries, entries the manifest does not vouch for, truncation, a flipped byte).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { ArchiveWriter } from '../src/backup/archive-writer.ts';
import { BackupRefused, readBackup, type ReadLimits } from '../src/backup/archive-reader.ts';
import { BACKUP_FORMAT, entryNameProblem, parseManifest } from '../src/backup/layout.ts';

const LIMITS: ReadLimits = { maxTotalBytes: 1024 * 1024, maxEntryBytes: 512 * 1024, maxEntries: 100 };
const MANIFEST_BASE = {
  format: BACKUP_FORMAT as typeof BACKUP_FORMAT, berthVersion: '0.1.0', schemaVersion: 20, createdAt: new Date().toISOString(), registry: '127.0.0.1:5000',
  keyId: 'abcd0123', includesKey: false, apps: ['web-one'], images: [] as never[],
};

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function goodArchive(): Promise<Buffer> {
  const writer = new ArchiveWriter();
  const bytes = collect(writer.output);
  await writer.addBuffer('db/berth.db', Buffer.from('SQLite format 3\0 pretend'));
  await writer.addBuffer('repos/web-one.git/HEAD', Buffer.from('ref: refs/heads/main\n'));
  await writer.addStream('logs/1/segment-0001.log', 300_000, Readable.from([Buffer.alloc(100_000, 'a'), Buffer.alloc(200_000, 'b')]));
  await writer.finish(MANIFEST_BASE);
  return bytes;
}

/** An archive made by hand (tar-stream directly), with a manifest vouching for the given file entries. */
async function craftedArchive(entries: Array<{ header: Partial<tar.Header> & { name: string }; content?: Buffer }>, vouch = true): Promise<Buffer> {
  const pack = tar.pack();
  const bytes = collect(Readable.from(pack));
  const listed: Record<string, { size: number; sha256: string }> = {};
  for (const { header, content } of entries) {
    await new Promise<void>((resolve, reject) => pack.entry(header, content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
    if (header.type === 'file' || header.type === undefined) {
      listed[header.name] = { size: content?.length ?? 0, sha256: (await import('node:crypto')).createHash('sha256').update(content ?? Buffer.alloc(0)).digest('hex') };
    }
  }
  const db = Buffer.from('db');
  await new Promise<void>((resolve) => pack.entry({ name: 'db/berth.db' }, db, () => resolve()));
  listed['db/berth.db'] = { size: 2, sha256: (await import('node:crypto')).createHash('sha256').update(db).digest('hex') };
  const manifest = Buffer.from(JSON.stringify({ ...MANIFEST_BASE, entries: vouch ? listed : { 'db/berth.db': listed['db/berth.db'] } }));
  await new Promise<void>((resolve) => pack.entry({ name: 'manifest.json' }, manifest, () => resolve()));
  pack.finalize();
  return bytes;
}

/** Reads `archive` into a fresh staging folder inside a fresh parent; returns the outcome and what the parent holds. */
async function read(archive: Buffer, limits = LIMITS): Promise<{ result: Awaited<ReturnType<typeof readBackup>> | Error; parent: string; staging: string }> {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-backup-read-'));
  const staging = path.join(parent, 'staging');
  fs.mkdirSync(staging);
  const result = await readBackup(Readable.from([archive]), staging, limits).catch((err: Error) => err);
  return { result, parent, staging };
}

test('an archive written by ArchiveWriter reads back whole, every entry where its name says', async () => {
  const { result, parent } = await read(await goodArchive());
  assert.ok(!(result instanceof Error), String(result));
  assert.deepEqual(Object.keys(result.manifest.entries).sort(), ['db/berth.db', 'logs/1/segment-0001.log', 'repos/web-one.git/HEAD']);
  assert.equal(fs.readFileSync(path.join(result.filesDir, 'repos/web-one.git/HEAD'), 'utf8'), 'ref: refs/heads/main\n');
  assert.equal(fs.statSync(path.join(result.filesDir, 'logs/1/segment-0001.log')).size, 300_000);
  fs.rmSync(parent, { recursive: true, force: true });
});

test('a truncated archive is refused (cut inside an entry, and cut before the manifest)', async () => {
  const archive = await goodArchive();
  for (const cut of [Math.floor(archive.length / 2), archive.indexOf(Buffer.from('manifest.json')) - 1]) {
    const { result, parent } = await read(archive.subarray(0, cut));
    assert.ok(result instanceof BackupRefused, `cut at ${cut}: ${String(result)}`);
    assert.match(result.message, /truncated|manifest/);
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test('one flipped byte in an entry is refused by its checksum', async () => {
  const archive = Buffer.from(await goodArchive());
  const header = archive.indexOf(Buffer.from('logs/1/segment-0001.log'));
  archive[header + 512 + 150_000] ^= 0x01; // inside the log's content, past its 512-byte header
  const { result, parent } = await read(archive);
  assert.ok(result instanceof BackupRefused, String(result));
  assert.match(result.message, /logs\/1\/segment-0001\.log does not match its checksum/);
  fs.rmSync(parent, { recursive: true, force: true });
});

test('hostile entries are refused and nothing lands outside the staging folder', async () => {
  const cases: Array<[string, Array<{ header: Partial<tar.Header> & { name: string }; content?: Buffer }>, RegExp]> = [
    ['dot-dot', [{ header: { name: 'repos/../../escaped' }, content: Buffer.from('x') }], /"\.\." path segment/],
    ['dot-dot at the top', [{ header: { name: '../escaped' }, content: Buffer.from('x') }], /"\.\." path segment/],
    ['absolute', [{ header: { name: '/tmp/escaped-absolute' }, content: Buffer.from('x') }], /absolute path/],
    ['symlink', [{ header: { name: 'repos/app.git/link', type: 'symlink', linkname: '/etc/passwd' } }], /is a symlink/],
    ['hard link', [{ header: { name: 'repos/app.git/hard', type: 'link', linkname: 'db/berth.db' } }], /is a link/],
    ['device', [{ header: { name: 'repos/app.git/dev', type: 'character-device', devmajor: 1, devminor: 3 } }], /is a character-device/],
    ['directory', [{ header: { name: 'repos/app.git/refs/', type: 'directory' } }], /is a directory/],
    ['outside the folders', [{ header: { name: 'etc/cron.d/job' }, content: Buffer.from('x') }], /outside the archive's folders/],
    ['huge', [{ header: { name: 'logs/1/huge' }, content: Buffer.alloc(LIMITS.maxEntryBytes + 1) }], /more than the \d+ allowed for one entry/],
    ['duplicate', [{ header: { name: 'logs/1/a' }, content: Buffer.from('1') }, { header: { name: 'logs/1/a' }, content: Buffer.from('2') }], /appears twice/],
  ];
  for (const [label, entries, expected] of cases) {
    const { result, parent, staging } = await read(await craftedArchive(entries));
    assert.ok(result instanceof BackupRefused, `${label}: ${String(result)}`);
    assert.match(result.message, expected, label);
    assert.deepEqual(fs.readdirSync(parent), ['staging'], `${label}: nothing beside the staging folder`);
    assert.ok(!fs.existsSync(path.join(staging, 'escaped')) && !fs.existsSync('/tmp/escaped-absolute'), label);
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test('an entry the manifest does not list, or more than the total limit, is refused', async () => {
  const unlisted = await read(await craftedArchive([{ header: { name: 'logs/1/extra' }, content: Buffer.from('x') }], false));
  assert.ok(unlisted.result instanceof BackupRefused);
  assert.match(unlisted.result.message, /logs\/1\/extra is not listed in the manifest/);
  const tooBig = await read(await goodArchive(), { ...LIMITS, maxTotalBytes: 1000 });
  assert.ok(tooBig.result instanceof BackupRefused);
  assert.match(tooBig.result.message, /BERTH_MAX_RESTORE_MB/);
  for (const dir of [unlisted.parent, tooBig.parent]) fs.rmSync(dir, { recursive: true, force: true });
});

test('entry names and manifests are checked field by field', () => {
  assert.equal(entryNameProblem('repos/app.git/objects/pack/pack-1.pack'), null);
  assert.match(entryNameProblem('repos/app.git/./HEAD') ?? '', /empty segment/);
  assert.match(entryNameProblem('C:/x') ?? '', /absolute/);
  assert.match(entryNameProblem('repos\\..\\x') ?? '', /backslash/);
  assert.throws(() => parseManifest('{'), /not JSON/);
  assert.throws(() => parseManifest(JSON.stringify({ ...MANIFEST_BASE, format: 'other', entries: {} })), /format/);
  assert.throws(() => parseManifest(JSON.stringify({ ...MANIFEST_BASE, entries: { '../x': { size: 1, sha256: 'a'.repeat(64) } } })), /"\.\." path segment/);
  assert.throws(() => parseManifest(JSON.stringify({ ...MANIFEST_BASE, entries: {} })), /no db\/berth\.db/);
  assert.throws(() => parseManifest(JSON.stringify({ ...MANIFEST_BASE, includesKey: true, entries: { 'db/berth.db': { size: 1, sha256: 'a'.repeat(64) } } })), /includesKey/);
});
