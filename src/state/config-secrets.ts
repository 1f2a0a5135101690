// Where config var values rest sealed (src/state/secrets.ts): the config_vars table and every
// release's config snapshot. Opens the key at startup (sealing an older installation's plaintext
// rows once, finishing a rotation a crash interrupted) and rotates it. Key names stay readable.
import type Database from 'better-sqlite3';
import { BerthError } from '../shared/errors.ts';
import { type Db, now } from './db.ts';
import { resealConnections } from './connections-store.ts';
import { resealAddons } from './addons-store.ts';
import { SecretBox, freshKeyring, newKey, newKeyId, readKeyFile, writeKeyFile, type Keyring } from './secrets.ts';

const KEY_CHECK = 'berth-key-check';
const KEY_CHECK_CONTEXT = 'key-check';

/** What a value is bound to: a sealed value moved to another app or key no longer opens. */
export const configContext = (appId: number, key: string): string => `config:${appId}:${key}`;

export function sealConfig(box: SecretBox, appId: number, config: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(config).map(([key, value]) => [key, box.seal(value, configContext(appId, key))]));
}

export function openConfig(box: SecretBox, appId: number, sealed: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(sealed).map(([key, value]) => [key, box.open(value, configContext(appId, key))]));
}

interface SecretsState { key_id: string; key_check: string }

/** The installation's sealing key with the database it seals: what the stores and `admin:rotate-key` use. */
export class ConfigSecrets {
  readonly box: SecretBox;
  readonly #db: Db;
  constructor(db: Db, box: SecretBox) { this.#db = db; this.box = box; }
  rotate(): Rotation { return rotateConfigKey(this.#db, this.box); }
}

/**
 * The installation's secrets at startup. The database records which key its values are sealed
 * with (and a value sealed with it), so a database restored without its key file, or with the
 * wrong one, stops the server with that said, instead of creating a new key and failing later.
 */
export function openConfigSecrets(db: Db, keyFile: string): ConfigSecrets {
  const sqlite = db.$client;
  const state = sqlite.prepare('SELECT key_id, key_check FROM secrets_state WHERE id = 1').get() as SecretsState | undefined;
  let ring = readKeyFile(keyFile);
  if (!state) {
    // A new installation, or one from before sealing: every stored value is still plaintext.
    if (!ring) writeKeyFile(keyFile, ring = freshKeyring());
    const box = new SecretBox(keyFile, ring);
    sqlite.transaction(() => {
      reseal(sqlite, (value, context) => box.seal(value, context));
      saveState(sqlite, box);
    })();
    return new ConfigSecrets(db, box);
  }
  if (!ring) {
    throw new BerthError(500, 'secrets_key_missing', `berth.db's config values are sealed with key ${state.key_id}, but the key file ` +
      `${keyFile} does not exist. Restore the key file that was saved with this database (or point BERTH_SECRETS_KEY_FILE ` +
      `at it); without it those values cannot be read, so Berth does not start.`);
  }
  const box = new SecretBox(keyFile, ring);
  try {
    if (box.open(state.key_check, KEY_CHECK_CONTEXT) !== KEY_CHECK) throw new Error('key check mismatch');
  } catch {
    throw new BerthError(500, 'secrets_key_mismatch', `berth.db's config values are sealed with key ${state.key_id}, which the key ` +
      `file ${keyFile} does not open (it holds ${Object.keys(ring.keys).join(', ')}). Restore the key file that belongs to this database.`);
  }
  if (ring.current !== state.key_id) {
    // A rotation wrote the new key, then stopped before re-sealing: finish it.
    sqlite.transaction(() => {
      reseal(sqlite, (value, context) => box.seal(box.open(value, context), context));
      saveState(sqlite, box);
    })();
  }
  dropRetiredKeys(box);
  return new ConfigSecrets(db, box);
}

/** Whether `ring` opens the values sealed in this database (a restore picks the key that belongs to a backup's database). */
export function keyringOpens(sqlite: Database.Database, ring: Keyring): boolean {
  const state = sqlite.prepare('SELECT key_id, key_check FROM secrets_state WHERE id = 1').get() as SecretsState | undefined;
  if (!state) return true; // nothing sealed yet
  try {
    return new SecretBox('(restore)', ring).open(state.key_check, KEY_CHECK_CONTEXT) === KEY_CHECK;
  } catch {
    return false;
  }
}

export interface Rotation { keyId: string; previousKeyId: string; values: number }

/**
 * Re-seals every value under a new key in one transaction. The old key stays in the key file
 * until that transaction has committed; a crash in between is finished by the next start.
 */
export function rotateConfigKey(db: Db, box: SecretBox): Rotation {
  const sqlite = db.$client;
  const before = box.keyring;
  const id = newKeyId();
  const during: Keyring = { current: id, keys: { ...before.keys, [id]: newKey() } };
  writeKeyFile(box.file, during);
  box.use(during);
  let values: number;
  try {
    values = sqlite.transaction(() => {
      const count = reseal(sqlite, (value, context) => box.seal(box.open(value, context), context));
      saveState(sqlite, box);
      return count;
    })();
  } catch (err) {
    // Nothing was re-sealed: the old key is still the one.
    box.use(before);
    writeKeyFile(box.file, before);
    throw err;
  }
  dropRetiredKeys(box);
  return { keyId: id, previousKeyId: before.current, values };
}

/** After every value is sealed with the current key, the file keeps only that key. */
function dropRetiredKeys(box: SecretBox): void {
  const ring = box.keyring;
  if (Object.keys(ring.keys).length === 1) return;
  const kept: Keyring = { current: ring.current, keys: { [ring.current]: ring.keys[ring.current] } };
  writeKeyFile(box.file, kept);
  box.use(kept);
}

function saveState(sqlite: Database.Database, box: SecretBox): void {
  sqlite.prepare(`INSERT INTO secrets_state (id, key_id, key_check, sealed_at) VALUES (1, ?, ?, ?)
                  ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, key_check = excluded.key_check, sealed_at = excluded.sealed_at`)
    .run(box.keyId, box.seal(KEY_CHECK, KEY_CHECK_CONTEXT), now());
}

/** Rewrites every stored config value (config_vars and release snapshots) through `change`; returns how many. */
function reseal(sqlite: Database.Database, change: (value: string, context: string) => string): number {
  let count = 0;
  const vars = sqlite.prepare('SELECT app_id, key, value FROM config_vars').all() as Array<{ app_id: number; key: string; value: string }>;
  const setVar = sqlite.prepare('UPDATE config_vars SET value = ? WHERE app_id = ? AND key = ?');
  for (const row of vars) {
    setVar.run(change(row.value, configContext(row.app_id, row.key)), row.app_id, row.key);
    count++;
  }
  const releases = sqlite.prepare('SELECT id, app_id, config FROM releases').all() as Array<{ id: number; app_id: number; config: string }>;
  const setRelease = sqlite.prepare('UPDATE releases SET config = ? WHERE id = ?');
  for (const row of releases) {
    const config = JSON.parse(row.config) as Record<string, string>;
    const changed = Object.fromEntries(Object.entries(config).map(([key, value]) => [key, change(String(value), configContext(row.app_id, key))]));
    setRelease.run(JSON.stringify(changed), row.id);
    count += Object.keys(config).length;
  }
  // apps:connect's token, webhook secret and deploy key; add-ons' credentials and outside services' URLs
  return count + resealConnections(sqlite, change) + resealAddons(sqlite, change);
}
