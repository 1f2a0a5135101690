// `berth admin:backup`: the whole installation as one tar stream, taken while it serves. The database is
// copied with SQLite's online backup API (a consistent snapshot; writers are not blocked), and the snapshot
// decides what else goes in: the repositories, stored logs and build logs of the apps it names, their
// images in the registry (each tag's manifest and blobs, each blob once), the certificates teams added,
// and the sealing key (with Berth's SSH key) only when asked. manifest.json closes the archive.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import type { RegistryApi } from '../registry/api.ts';
import { nativeBinding } from '../state/db.ts';
import { ArchiveWriter } from './archive-writer.ts';
import { listFiles, repositoryFiles } from './data-files.ts';
import {
  BACKUP_FORMAT, DATABASE_ENTRY, KEY_ENTRY, SSH_PREFIX, blobEntry, entryNameProblem, imageManifestEntry, type BackupImage,
} from './layout.ts';

export interface BackupSources {
  sqlite: Database.Database;
  dataDir: string;
  keyFile: string;
  registry: RegistryApi;
  /** host:port of the registry, as release image refs name it. */
  registryAddress: string;
  version: string;
}

export interface BackupSummary { apps: string[]; images: number; entries: number; bytes: number; skipped: string[] }

interface Snapshot { schemaVersion: number; keyId: string | null; apps: Array<{ id: number; name: string }>; builds: number[] }

/** Writes the backup into `writer`; resolves once its manifest is written, rejects (leaving it unfinished) on any failure. */
export async function writeBackup(src: BackupSources, writer: ArchiveWriter, opts: { includeKey: boolean }): Promise<BackupSummary> {
  const work = fs.mkdtempSync(path.join(src.dataDir, '.backup-'));
  const skipped: string[] = [];
  const addDataFile = async (entry: string, file: string) => {
    if (entryNameProblem(entry)) skipped.push(entry); // a file named outside what a restore accepts (a stray git ref)
    else await writer.addFile(entry, file);
  };
  try {
    const snapshotFile = path.join(work, 'berth.db');
    await src.sqlite.backup(snapshotFile);
    const snapshot = readSnapshot(snapshotFile);
    await writer.addFile(DATABASE_ENTRY, snapshotFile);

    for (const app of snapshot.apps) {
      const repo = path.join(src.dataDir, 'repos', `${app.name}.git`);
      for (const file of repositoryFiles(repo)) await addDataFile(`repos/${app.name}.git/${file}`, path.join(repo, file));
      const logs = path.join(src.dataDir, 'logs', String(app.id));
      for (const file of listFiles(logs)) await addDataFile(`logs/${app.id}/${file}`, path.join(logs, file));
      const certs = path.join(src.dataDir, 'caddy', 'certs', String(app.id));
      for (const file of listFiles(certs)) await addDataFile(`caddy/certs/${app.id}/${file}`, path.join(certs, file));
    }
    for (const build of snapshot.builds) await writer.addFile(`builds/${build}.log`, path.join(src.dataDir, 'builds', `${build}.log`));

    const images: BackupImage[] = [];
    for (const app of snapshot.apps) {
      for (const tag of await src.registry.listTags(app.name)) images.push(await addImage(src.registry, writer, app.name, tag));
    }

    if (opts.includeKey) {
      await writer.addFile(KEY_ENTRY, src.keyFile);
      const ssh = path.join(src.dataDir, 'ssh');
      for (const file of listFiles(ssh, (relative) => relative.startsWith('login-'))) await addDataFile(`${SSH_PREFIX}${file}`, path.join(ssh, file));
    }
    await writer.finish({
      format: BACKUP_FORMAT, berthVersion: src.version, schemaVersion: snapshot.schemaVersion, createdAt: new Date().toISOString(),
      registry: src.registryAddress, keyId: snapshot.keyId, includesKey: opts.includeKey && writer.has(KEY_ENTRY),
      apps: snapshot.apps.map((app) => app.name), images,
    });
    const bytes = Object.values(writer.entries).reduce((sum, entry) => sum + entry.size, 0);
    return { apps: snapshot.apps.map((app) => app.name), images: images.length, entries: Object.keys(writer.entries).length, bytes, skipped };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** One tag: its manifest, then each blob the archive does not hold yet (apps built from one base share layers). */
async function addImage(registry: RegistryApi, writer: ArchiveWriter, app: string, tag: string): Promise<BackupImage> {
  const manifest = await registry.imageManifest(app, tag);
  const manifestName = imageManifestEntry(app, tag);
  await writer.addBuffer(manifestName, Buffer.from(manifest.body));
  const blobs: string[] = [];
  for (const digest of manifest.blobs) {
    const name = blobEntry(digest);
    blobs.push(name);
    if (writer.has(name)) continue;
    const blob = await registry.blob(app, digest);
    await writer.addStream(name, blob.size, Readable.fromWeb(blob.body as import('node:stream/web').ReadableStream<Uint8Array>));
  }
  return { app, tag, mediaType: manifest.mediaType, manifest: manifestName, blobs };
}

function readSnapshot(file: string): Snapshot {
  const db = new Database(file, { readonly: true, nativeBinding: nativeBinding() });
  try {
    const schemaVersion = db.pragma('user_version', { simple: true }) as number;
    const keyId = (db.prepare('SELECT key_id FROM secrets_state WHERE id = 1').get() as { key_id: string } | undefined)?.key_id ?? null;
    const apps = db.prepare('SELECT id, name FROM apps ORDER BY id').all() as Snapshot['apps'];
    const builds = (db.prepare('SELECT id FROM builds ORDER BY id').all() as Array<{ id: number }>).map((row) => row.id);
    return { schemaVersion, keyId, apps, builds };
  } finally {
    db.close();
  }
}
