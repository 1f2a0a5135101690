// The SQLite addon inside dist/berth: a native addon can only be loaded from a file, so the embedded
// copy is written once to a cache folder and loaded from there, after its sha256 is checked against
// the one baked in at build time (a file left by an older build, or altered on disk, is never loaded).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { getAsset } from 'node:sea';

/** Baked in by scripts/build.mjs for the executable only. */
declare const BERTH_SQLITE_SHA256: string | undefined;
export const SQLITE_ASSET = 'better_sqlite3.node';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** One file per build of the addon: a newer executable never overwrites one an older server has loaded. */
export function addonCacheFile(cacheDir: string, digest: string): string {
  return path.join(cacheDir, `better_sqlite3-${digest.slice(0, 16)}.node`);
}

/** Writes the embedded addon under cacheDir unless a verified copy is there, and loads it. */
export function loadEmbeddedSqliteAddon(cacheDir: string): object {
  if (typeof BERTH_SQLITE_SHA256 !== 'string') throw new Error('this build carries no SQLite addon');
  const expected = BERTH_SQLITE_SHA256;
  const file = addonCacheFile(cacheDir, expected);
  if (!fs.existsSync(file) || sha256(fs.readFileSync(file)) !== expected) {
    const bytes = new Uint8Array(getAsset(SQLITE_ASSET));
    if (sha256(bytes) !== expected) throw new Error('the executable\'s embedded SQLite addon is corrupt (sha256 mismatch): rebuild dist/berth');
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, bytes, { mode: 0o500 });
    fs.renameSync(temp, file); // whole or absent: a concurrent starter sees one or the other
  }
  // Hashed again whoever wrote it; the folder is the server's own (0700), so nobody else can swap it before dlopen.
  const loaded = fs.readFileSync(file);
  if (sha256(loaded) !== expected) throw new Error(`${file} does not match the executable's SQLite addon (sha256 mismatch)`);
  const addon = { exports: {} as object };
  process.dlopen(addon, file);
  return addon.exports;
}
