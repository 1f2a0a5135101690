// `berth admin:restore`: a verified backup (src/backup/archive-reader.ts) put back on a new installation.
// Every check that can refuse comes before the first change: the schema version, the database's own
// integrity, the key that opens its config values, and that the installation has no app. Then the
// images go to this installation's registry, the files to the data dir, and the database's rows replace
// this one's in one transaction; the apps are brought back by the same pass that runs on every start.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import SqliteDatabase from 'better-sqlite3';
import type Database from 'better-sqlite3';
import type { RegistryApi } from '../registry/api.ts';
import { keyringOpens } from '../state/config-secrets.ts';
import { nativeBinding, openDb } from '../state/db.ts';
import { parseKeyring, writeKeyFile, type Keyring, type SecretBox } from '../state/secrets.ts';
import { BerthError } from '../shared/errors.ts';
import type { StagedBackup } from './archive-reader.ts';
import { GIT_SKELETON } from './data-files.ts';
import { DATABASE_ENTRY, KEY_ENTRY, SSH_PREFIX, blobDigestHex, type BackupManifest } from './layout.ts';
import { copyDatabaseInto } from './db-copy.ts';

export interface RestoreTarget {
  sqlite: Database.Database;
  dataDir: string;
  /** The sealing key in use; a restore switches it to the backup's. */
  box: SecretBox;
  registry: RegistryApi;
  registryAddress: string;
  /** How many migrations this Berth has: a backup with more comes from a newer Berth. */
  schemaVersion: number;
  appCount(): number;
  /** Pulls an image of this installation's registry onto the local engine. */
  pullImage(reference: string): Promise<void>;
  /** Points an app's release image refs at this installation's registry. */
  moveImageRepository(appId: number, from: string, to: string): void;
  log(line: string): void;
}

export interface RestoreSummary { apps: string[]; images: number; keyFrom: 'backup' | 'supplied' | 'installation' }

/** Everything that can refuse the restore, checked on the staged copy; returns the keyring to use. */
export function vetStagedBackup(target: RestoreTarget, staged: StagedBackup, suppliedKey: Keyring | null): { ring: Keyring; keyFrom: RestoreSummary['keyFrom'] } {
  const { manifest } = staged;
  if (manifest.schemaVersion > target.schemaVersion) {
    throw new BerthError(422, 'backup_too_new', `This backup's database has schema version ${manifest.schemaVersion} (Berth ${manifest.berthVersion}); ` +
      `this Berth knows ${target.schemaVersion}. Restore it with that Berth version or a newer one.`);
  }
  if (target.appCount() > 0) throw notEmpty();
  inspectUntrusted(path.join(staged.filesDir, DATABASE_ENTRY));
  const db = openDb(path.join(staged.filesDir, DATABASE_ENTRY)); // brings an older backup's schema up to this Berth's
  try {
    const sqlite = db.$client;
    const apps = (sqlite.prepare('SELECT name FROM apps ORDER BY name').all() as Array<{ name: string }>).map((row) => row.name);
    if (apps.join() !== [...manifest.apps].sort().join()) throw new BerthError(422, 'backup_invalid', 'The backup\'s database holds other apps than its manifest lists.');
    const candidates: Array<[Keyring | null, RestoreSummary['keyFrom']]> = [
      [manifest.includesKey ? parseKeyring(fs.readFileSync(path.join(staged.filesDir, KEY_ENTRY), 'utf8'), `${KEY_ENTRY} in the backup`) : null, 'backup'],
      [suppliedKey, 'supplied'],
      [target.box.keyring, 'installation'],
    ];
    for (const [ring, keyFrom] of candidates) if (ring && keyringOpens(sqlite, ring)) return { ring, keyFrom };
    throw new BerthError(422, 'secrets_key_needed', `This backup was made without --include-key, and its config values are sealed with key ` +
      `${manifest.keyId ?? '(unknown)'}, which ${suppliedKey ? 'the key file given does not hold either' : 'this installation does not hold'}. ` +
      'Give the old installation\'s key file: berth admin:restore FILE --key-file /path/to/secrets.key. Nothing was changed.');
  } finally {
    db.$client.close();
  }
}

/**
 * The backed-up database is read before Berth's migrations run on it: it must pass SQLite's integrity check,
 * with schema code treated as untrusted, and hold no trigger or view (Berth makes none, and either would run
 * SQL of the archive's choosing when the migrations or the copy touch its tables).
 */
function inspectUntrusted(file: string): void {
  let sqlite: Database.Database;
  try {
    sqlite = new SqliteDatabase(file, { nativeBinding: nativeBinding(), fileMustExist: true });
  } catch (err) {
    throw new BerthError(422, 'backup_invalid', `The backup's database cannot be opened: ${(err as Error).message}. Nothing was changed.`);
  }
  try {
    sqlite.pragma('trusted_schema = OFF');
    const integrity = (sqlite.pragma('integrity_check') as Array<{ integrity_check: string }>).map((row) => row.integrity_check);
    if (integrity.join() !== 'ok') throw new BerthError(422, 'backup_invalid', `The backup's database fails SQLite's integrity check: ${integrity.slice(0, 3).join('; ')}. Nothing was changed.`);
    const code = sqlite.prepare(`SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view') LIMIT 1`).get() as { type: string; name: string } | undefined;
    if (code) throw new BerthError(422, 'backup_invalid', `The backup's database has a ${code.type} (${code.name.slice(0, 60)}), which Berth never makes. Nothing was changed.`);
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw new BerthError(422, 'backup_invalid', `The backup's database cannot be read: ${(err as Error).message}. Nothing was changed.`);
  } finally {
    sqlite.close();
  }
}

/** Puts a vetted backup in place. */
export async function applyBackup(target: RestoreTarget, staged: StagedBackup, ring: Keyring): Promise<string[]> {
  const { manifest, filesDir } = staged;
  await pushImages(target.registry, manifest, filesDir, target.log);
  // Instances start only from images on the engine (never pulling mid-start): every kept release's is pulled now.
  for (const image of manifest.images) await target.pullImage(`${target.registryAddress}/${image.app}:${image.tag}`);
  placeFiles(filesDir, target.dataDir, manifest);
  // The backup's key joins this installation's: until the rows are swapped, the old values still open.
  const current = target.box.keyring;
  if (!Object.keys(ring.keys).every((id) => current.keys[id]?.equals(ring.keys[id]!)) || current.current !== ring.current) {
    const merged: Keyring = { current: ring.current, keys: { ...current.keys, ...ring.keys } };
    writeKeyFile(target.box.file, merged);
    target.box.use(merged);
  }
  const apps = copyDatabaseInto(target.sqlite, path.join(filesDir, DATABASE_ENTRY), () => { throw notEmpty(); });
  if (manifest.registry !== target.registryAddress) {
    for (const app of apps) target.moveImageRepository(app.id, `${manifest.registry}/${app.name}`, `${target.registryAddress}/${app.name}`);
  }
  return apps.map((app) => app.name);
}

/** Each blob once per app repository (the registry may hold it already: then only mounted by the manifest), then the manifest. */
async function pushImages(registry: RegistryApi, manifest: BackupManifest, filesDir: string, log: (line: string) => void): Promise<void> {
  for (const image of manifest.images) {
    for (const blob of image.blobs) {
      const digest = `sha256:${blobDigestHex(blob)}`;
      if (await registry.hasBlob(image.app, digest)) continue;
      const file = path.join(filesDir, blob);
      const size = fs.statSync(file).size;
      await registry.uploadBlob(image.app, digest, size, Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>);
    }
    await registry.putManifest(image.app, image.tag, image.mediaType, new Uint8Array(fs.readFileSync(path.join(filesDir, image.manifest))));
    log(`restore: image ${image.app}:${image.tag} pushed to the registry`);
  }
}

/** Repositories, stored logs, build logs, added certificates (and Berth's SSH key) move from staging into the data dir. */
function placeFiles(filesDir: string, dataDir: string, manifest: BackupManifest): void {
  const moves: Array<[string, string]> = [];
  for (const folder of ['repos', 'logs', 'builds', path.join('caddy', 'certs')]) {
    const from = path.join(filesDir, folder);
    for (const name of fs.existsSync(from) ? fs.readdirSync(from) : []) moves.push([path.join(from, name), path.join(dataDir, folder, name)]);
  }
  if (Object.keys(manifest.entries).some((entry) => entry.startsWith(SSH_PREFIX))) moves.push([path.join(filesDir, 'ssh'), path.join(dataDir, 'ssh')]);
  for (const [from, to] of moves) {
    fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
    fs.rmSync(to, { recursive: true, force: true }); // a new installation's own SSH key, or what a destroyed namesake left
    fs.renameSync(from, to);
  }
  for (const repo of manifest.apps.map((app) => path.join(dataDir, 'repos', `${app}.git`)).filter((dir) => fs.existsSync(dir))) {
    for (const folder of GIT_SKELETON) fs.mkdirSync(path.join(repo, folder), { recursive: true });
  }
}

const notEmpty = () => new BerthError(409, 'installation_not_empty',
  'This installation has apps: a backup is restored only onto a new installation (after up.sh, before any app is created). Nothing was changed.');
