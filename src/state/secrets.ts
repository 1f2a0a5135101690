// Secrets at rest: AES-256-GCM with a per-installation key file. Each value gets its own random
// nonce; the key's id travels inside the sealed text, so values sealed under an older key stay
// readable while a rotation re-seals them. The key file is the only thing that opens berth.db's secrets.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BerthError } from '../shared/errors.ts';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'berth-secrets-v1';
/** sealed text: enc1:<key id>:<nonce>:<ciphertext+tag>, both base64url (which has no ':'). */
const SEALED = /^enc1:([0-9a-f]{8}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]+)$/;

export interface Keyring {
  current: string;                  // id of the key new values are sealed with
  keys: Record<string, Buffer>;     // every key a stored value may still be sealed with
}

export const isSealed = (value: string): boolean => SEALED.test(value);

/** The id of the key a sealed value was sealed with; null for anything else. */
export function sealedKeyId(value: string): string | null {
  return SEALED.exec(value)?.[1] ?? null;
}

export function newKeyId(): string {
  return crypto.randomBytes(4).toString('hex');
}

export function newKey(): Buffer {
  return crypto.randomBytes(KEY_BYTES);
}

/**
 * Seals and opens values with a keyring. The context (e.g. which app and config key a value
 * belongs to) is authenticated with the value: a sealed value copied to another row does not open.
 */
export class SecretBox {
  #ring: Keyring;
  readonly file: string;

  constructor(file: string, ring: Keyring) {
    if (!ring.keys[ring.current]) throw new Error(`keyring has no key "${ring.current}"`);
    this.file = file;
    this.#ring = ring;
  }

  get keyId(): string { return this.#ring.current; }
  get keyring(): Keyring { return { current: this.#ring.current, keys: { ...this.#ring.keys } }; }

  /** Switches to another keyring (rotation); values sealed under a key it lacks no longer open. */
  use(ring: Keyring): void {
    if (!ring.keys[ring.current]) throw new Error(`keyring has no key "${ring.current}"`);
    this.#ring = ring;
  }

  has(keyId: string): boolean { return Object.hasOwn(this.#ring.keys, keyId); }

  seal(plaintext: string, context: string): string {
    const nonce = crypto.randomBytes(NONCE_BYTES);
    const cipher = crypto.createCipheriv(ALGORITHM, this.#ring.keys[this.#ring.current], nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `enc1:${this.#ring.current}:${nonce.toString('base64url')}:${body.toString('base64url')}`;
  }

  /** The plaintext, or a BerthError that says why not (never garbage: GCM checks every byte). */
  open(sealed: string, context: string): string {
    const match = SEALED.exec(sealed);
    if (!match) throw unreadable(context, 'it is not a sealed value (was the database edited by hand?)');
    const [, keyId, nonceText, bodyText] = match;
    const key = this.#ring.keys[keyId];
    if (!key) {
      throw unreadable(context, `it is sealed with key ${keyId}, which ${this.file} does not hold ` +
        `(it holds ${Object.keys(this.#ring.keys).join(', ')}). Restore the key file that belongs to this database`);
    }
    const body = Buffer.from(bodyText, 'base64url');
    if (body.length < TAG_BYTES) throw unreadable(context, 'the sealed value is truncated');
    try {
      const decipher = crypto.createDecipheriv(ALGORITHM, key, Buffer.from(nonceText, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw unreadable(context, `key ${keyId} in ${this.file} does not open it: the key file does not belong to this database, or the value was altered`);
    }
  }
}

const unreadable = (context: string, why: string) =>
  new BerthError(500, 'secret_unreadable', `A stored secret (${context}) cannot be decrypted: ${why}.`);

/** The keyring in `file`, or null when there is none. A file others can read is made private first. */
export function readKeyFile(file: string): Keyring | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  return parseKeyring(text, file);
}

/** A key file's text as a keyring; `file` names where it came from in the error. */
export function parseKeyring(text: string, file: string): Keyring {
  const bad = (why: string) => new Error(`The secrets key file ${file} is not valid (${why}); restore it from a backup.`);
  let parsed: { format?: unknown; current?: unknown; keys?: unknown };
  try { parsed = JSON.parse(text); } catch { throw bad('not JSON'); }
  if (parsed?.format !== FORMAT || typeof parsed.current !== 'string' || !parsed.keys || typeof parsed.keys !== 'object') {
    throw bad(`expected {"format":"${FORMAT}","current":ID,"keys":{ID:KEY}}`);
  }
  const keys: Record<string, Buffer> = {};
  for (const [id, encoded] of Object.entries(parsed.keys as Record<string, unknown>)) {
    const key = typeof encoded === 'string' ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (!/^[0-9a-f]{8}$/.test(id) || key.length !== KEY_BYTES) throw bad(`key "${id}" is not ${KEY_BYTES} bytes of base64`);
    keys[id] = key;
  }
  if (!keys[parsed.current]) throw bad(`the current key "${parsed.current}" is missing`);
  return { current: parsed.current, keys };
}

/** Replaces the key file atomically (a crash leaves the old or the new one, never half), mode 0600 from the start. */
export function writeKeyFile(file: string, ring: Keyring): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const keys = Object.fromEntries(Object.entries(ring.keys).map(([id, key]) => [id, key.toString('base64')]));
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true }); // a leftover of a crash: 'wx' below then creates it afresh with 0600
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify({ format: FORMAT, current: ring.current, keys }, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function freshKeyring(): Keyring {
  const id = newKeyId();
  return { current: id, keys: { [id]: newKey() } };
}
