// What a Berth backup archive holds and how its entries are named: the rules both the writer and the
// reader keep. A restore archive is attacker-shaped input (even from an admin: it may come from anywhere),
// so every name is checked against this layout before a byte of it is written anywhere.

import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export const BACKUP_FORMAT = 'berth-backup-v1';
/** The manifest comes last: it carries the sha256 of every entry before it, known only once they are written. */
export const MANIFEST_ENTRY = 'manifest.json';
export const DATABASE_ENTRY = 'db/berth.db';
export const KEY_ENTRY = 'key/secrets.key';
/** Berth's SSH key for remote hosts: a secret like the sealing key, so it travels only with --include-key. */
export const SSH_PREFIX = 'ssh/';

/** Top-level folders of the archive and what each holds (the data dir's folder of the same name, or the registry). */
export const ENTRY_PREFIXES = ['db/', 'repos/', 'logs/', 'builds/', 'caddy/', 'registry/', 'key/', SSH_PREFIX] as const;

const MAX_NAME_LENGTH = 400;
const MAX_DEPTH = 24;
/** Each path segment: printable, no separators; '.' and '..' are refused by name below. */
const SEGMENT = /^[A-Za-z0-9._@+=,-]{1,200}$/;

export interface ManifestEntry { size: number; sha256: string }

export interface BackupImage {
  app: string;
  tag: string;
  /** The manifest's media type, as the registry served it (a PUT needs it back). */
  mediaType: string;
  /** Entry names of the manifest and of every blob it names (config first, then layers). */
  manifest: string;
  blobs: string[];
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  berthVersion: string;
  /** The database's user_version: how many migrations it has. */
  schemaVersion: number;
  createdAt: string;
  /** host:port of the registry the images came from; release image refs name it. */
  registry: string;
  /** The key id the database's config values are sealed with; the key itself only with includesKey. */
  keyId: string | null;
  includesKey: boolean;
  apps: string[];
  images: BackupImage[];
  entries: Record<string, ManifestEntry>;
}

/** Why a name cannot be an entry of a Berth backup; null when it can. */
export function entryNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return 'an empty or overlong name';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'an absolute path';
  if (name.includes('\\') || name.includes('\0')) return 'a backslash or NUL in the name';
  const segments = name.replace(/\/$/, '').split('/');
  if (segments.includes('..')) return 'a ".." path segment';
  if (segments.length > MAX_DEPTH) return 'a path nested too deep';
  if (segments.some((segment) => segment === '.' || segment === '' || !SEGMENT.test(segment))) return 'an unexpected character or empty segment in the name';
  if (name === MANIFEST_ENTRY) return null;
  if (!ENTRY_PREFIXES.some((prefix) => name.startsWith(prefix))) return 'a name outside the archive\'s folders';
  return null;
}

const SHA256 = /^[0-9a-f]{64}$/;
const APP_NAME = /^[a-z][a-z0-9-]{1,29}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const MEDIA_TYPE = /^application\/vnd\.[a-z0-9.+-]+$/;
const REGISTRY = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;

/** The manifest's text as a BackupManifest, or an error naming the first thing wrong with it. */
export function parseManifest(text: string): BackupManifest {
  let value: any;
  try { value = JSON.parse(text); } catch { throw new Error('its manifest.json is not JSON'); }
  const bad = (what: string): never => { throw new Error(`its manifest.json is not valid: ${what}`); };
  if (!value || typeof value !== 'object') bad('not an object');
  if (value.format !== BACKUP_FORMAT) bad(`format is ${JSON.stringify(value.format)}, this Berth reads ${BACKUP_FORMAT}`);
  if (typeof value.berthVersion !== 'string' || value.berthVersion.length > 50) bad('berthVersion');
  if (!Number.isInteger(value.schemaVersion) || value.schemaVersion < 1) bad('schemaVersion');
  if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt))) bad('createdAt');
  if (typeof value.registry !== 'string' || !REGISTRY.test(value.registry)) bad('registry');
  if (value.keyId !== null && !(typeof value.keyId === 'string' && /^[0-9a-f]{8}$/.test(value.keyId))) bad('keyId');
  if (typeof value.includesKey !== 'boolean') bad('includesKey');
  if (!Array.isArray(value.apps) || !value.apps.every((app: unknown) => typeof app === 'string' && APP_NAME.test(app))) bad('apps');
  if (!value.entries || typeof value.entries !== 'object' || Array.isArray(value.entries)) bad('entries');
  for (const [name, entry] of Object.entries(value.entries as Record<string, any>)) {
    const problem = entryNameProblem(name);
    if (problem || name === MANIFEST_ENTRY) bad(`entry ${JSON.stringify(name.slice(0, 100))} has ${problem ?? 'the manifest\'s own name'}`);
    if (!entry || !Number.isSafeInteger(entry.size) || entry.size < 0 || typeof entry.sha256 !== 'string' || !SHA256.test(entry.sha256)) bad(`entry ${name}: size and sha256`);
  }
  if (!Array.isArray(value.images)) bad('images');
  for (const image of value.images as any[]) {
    if (!image || !APP_NAME.test(image.app) || !value.apps.includes(image.app)) bad('an image of an app the backup does not hold');
    if (typeof image.tag !== 'string' || !TAG.test(image.tag)) bad(`image tag of ${image.app}`);
    if (typeof image.mediaType !== 'string' || !MEDIA_TYPE.test(image.mediaType)) bad(`media type of ${image.app}:${image.tag}`);
    const names = [image.manifest, ...(Array.isArray(image.blobs) ? image.blobs : [null])];
    if (!names.every((entry: unknown) => typeof entry === 'string' && entry.startsWith('registry/') && Object.hasOwn(value.entries, entry))) {
      bad(`image ${image.app}:${image.tag} names entries the archive does not list`);
    }
    if (!image.blobs.every((entry: string) => SHA256.test(blobDigestHex(entry) ?? ''))) bad(`image ${image.app}:${image.tag} names a blob that is not registry/blobs/sha256/<hex>`);
  }
  if (value.includesKey !== Object.hasOwn(value.entries, KEY_ENTRY)) bad('includesKey disagrees with the entries');
  if (!Object.hasOwn(value.entries, DATABASE_ENTRY)) bad(`there is no ${DATABASE_ENTRY}`);
  return value as BackupManifest;
}

export const blobEntry = (digest: string): string => `registry/blobs/${digest.replace(':', '/')}`;
export const imageManifestEntry = (app: string, tag: string): string => `registry/manifests/${app}/${tag}`;

/** The hex of a blob entry's digest (registry/blobs/sha256/<hex>), or null. */
export function blobDigestHex(entry: string): string | null {
  return /^registry\/blobs\/sha256\/([0-9a-f]{64})$/.exec(entry)?.[1] ?? null;
}

/** Passes an entry's bytes on, counting and hashing them: the size and sha256 the manifest holds for each entry. */
export class EntryDigest extends Transform {
  bytes = 0;
  readonly #hash = crypto.createHash('sha256');

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.#hash.update(chunk);
    done(null, chunk);
  }

  /** Once, after the last byte. */
  sha256(): string { return this.#hash.digest('hex'); }
}
