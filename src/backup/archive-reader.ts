// Reads a backup archive into a staging folder and proves it whole before anything else happens: only
// regular files, every name inside the archive's folders (no '..', absolute paths, links or devices), each
// entry and the whole within size limits, the manifest last, and every entry's size and sha256 as the
// manifest says with nothing missing or extra. A truncated or altered archive fails here, with the
// installation untouched: nothing outside the staging folder is written.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { EntryDigest, MANIFEST_ENTRY, entryNameProblem, parseManifest, type BackupManifest } from './layout.ts';

export interface ReadLimits {
  /** Bytes of all entries together (the size of what is staged). */
  maxTotalBytes: number;
  maxEntryBytes: number;
  maxEntries: number;
}

export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/** The archive is not a whole, unaltered Berth backup: said in terms an admin can act on. */
export class BackupRefused extends Error {
  name = 'BackupRefused';
}

export interface StagedBackup {
  manifest: BackupManifest;
  /** Where entry NAME's content now is: <filesDir>/NAME. */
  filesDir: string;
}

/** Extracts `input` under `stagingDir` (which must exist, empty) and verifies it against its manifest. */
export async function readBackup(input: Readable, stagingDir: string, limits: ReadLimits): Promise<StagedBackup> {
  const filesDir = path.join(stagingDir, 'files');
  fs.mkdirSync(filesDir, { mode: 0o700 });
  const seen = new Map<string, { size: number; sha256: string }>();
  let manifestText: string | null = null;
  let total = 0;
  const extract = tar.extract();
  // tar-stream's extractor is a streamx stream: fed by pipe, and torn down with the upload's own error.
  input.once('error', (err) => extract.destroy(err));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of extract) {
      const { name, type, size = 0 } = entry.header;
      const shown = JSON.stringify(name.slice(0, 120));
      if (manifestText !== null) throw new BackupRefused(`entry ${shown} comes after manifest.json, which must be last`);
      if (type !== 'file') throw new BackupRefused(`entry ${shown} is a ${type ?? 'entry of unknown type'}; a Berth backup holds only regular files`);
      const problem = entryNameProblem(name);
      if (problem) throw new BackupRefused(`entry ${shown} has ${problem}`);
      if (seen.has(name)) throw new BackupRefused(`entry ${shown} appears twice`);
      if (seen.size + 1 > limits.maxEntries) throw new BackupRefused(`it has more than ${limits.maxEntries} entries`);
      if (size > limits.maxEntryBytes) throw new BackupRefused(`entry ${shown} is ${size} bytes, more than the ${limits.maxEntryBytes} allowed for one entry`);
      total += size;
      if (total > limits.maxTotalBytes) throw new BackupRefused(`it holds more than the ${limits.maxTotalBytes} bytes a restore accepts (BERTH_MAX_RESTORE_MB)`);
      if (name === MANIFEST_ENTRY) {
        if (size > MAX_MANIFEST_BYTES) throw new BackupRefused('its manifest.json is larger than 64 MB');
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        manifestText = Buffer.concat(chunks).toString('utf8');
        continue;
      }
      seen.set(name, await stageEntry(Readable.from(entry), filesDir, name, size));
    }
  } catch (err) {
    if (err instanceof BackupRefused) throw err;
    throw new BackupRefused(`it could not be read as a tar archive (${(err as Error).message}): is it truncated?`);
  } finally {
    input.unpipe(extract as unknown as NodeJS.WritableStream);
    extract.destroy();
  }
  if (manifestText === null) throw new BackupRefused('it has no manifest.json at its end: it is truncated or not a Berth backup');
  let manifest: BackupManifest;
  try { manifest = parseManifest(manifestText); } catch (err) { throw new BackupRefused((err as Error).message); }
  for (const [name, expected] of Object.entries(manifest.entries)) {
    const got = seen.get(name);
    if (!got) throw new BackupRefused(`entry ${name} is listed in the manifest but missing from the archive`);
    if (got.size !== expected.size || got.sha256 !== expected.sha256) throw new BackupRefused(`entry ${name} does not match its checksum in the manifest: the archive is corrupted`);
  }
  const extra = [...seen.keys()].find((name) => !Object.hasOwn(manifest.entries, name));
  if (extra) throw new BackupRefused(`entry ${extra} is not listed in the manifest`);
  return { manifest, filesDir };
}

/** Writes one entry's bytes to a new file (never over one, never through a link) while hashing them. */
async function stageEntry(entry: Readable, filesDir: string, name: string, size: number): Promise<{ size: number; sha256: string }> {
  const target = path.join(filesDir, name);
  // Checked by name already; resolved again so no mistake in that check can write outside the staging folder.
  if (!target.startsWith(filesDir + path.sep)) throw new BackupRefused(`entry ${name} would land outside the staging folder`);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  const tap = new EntryDigest();
  await pipeline(entry, tap, fs.createWriteStream(target, { flags: 'wx', mode: 0o600 }));
  if (tap.bytes !== size) throw new BackupRefused(`entry ${name} ends after ${tap.bytes} of its ${size} bytes: the archive is truncated`);
  return { size: tap.bytes, sha256: tap.sha256() };
}
