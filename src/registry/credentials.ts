// Berth's own credential for its registry. Once the registry listens beyond loopback (BERTH_REGISTRY_LISTEN,
// so other hosts can pull), anyone on that network could list, pull and delete every app's images; up.sh
// then turns on htpasswd auth with this credential (`berth-server registry-auth HTPASSWD`), and Berth's
// pushes, prunes and hosts' pulls present it. Made once, kept in the data dir (0600), never shown to users.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import bcrypt from 'bcryptjs';

export interface RegistryCredential { username: string; password: string }

export const REGISTRY_USER = 'berth';
const FILE_NAME = 'registry-credential';

export const credentialFile = (dataDir: string) => path.join(dataDir, FILE_NAME);

/** The credential, or null when the registry was never given one (it listens on loopback only, without auth). */
export function loadRegistryCredential(dataDir: string): RegistryCredential | null {
  let text: string;
  try {
    text = fs.readFileSync(credentialFile(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<RegistryCredential>;
  if (typeof parsed.username !== 'string' || typeof parsed.password !== 'string') {
    throw new Error(`${credentialFile(dataDir)} is not a registry credential ({"username", "password"})`);
  }
  return { username: parsed.username, password: parsed.password };
}

/** Loads the credential, making it (a random password, mode 0600) on first use. */
export function ensureRegistryCredential(dataDir: string): RegistryCredential {
  const existing = loadRegistryCredential(dataDir);
  if (existing) return existing;
  const credential = { username: REGISTRY_USER, password: crypto.randomBytes(24).toString('base64url') };
  fs.mkdirSync(dataDir, { recursive: true });
  // wx: two runs at once cannot both write; the loser reads the winner's.
  try {
    fs.writeFileSync(credentialFile(dataDir), JSON.stringify(credential), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadRegistryCredential(dataDir)!;
    throw err;
  }
  return credential;
}

/** The registry's htpasswd line (distribution accepts bcrypt only). */
export function htpasswdLine(credential: RegistryCredential): string {
  return `${credential.username}:${bcrypt.hashSync(credential.password, 10)}\n`;
}

export function basicAuthorization(credential: RegistryCredential): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
}

/** The engine's X-Registry-Auth for a push or pull from `registry` (host:port). */
export function engineAuth(credential: RegistryCredential | null, registry: string): Record<string, string> {
  return credential ? { username: credential.username, password: credential.password, serveraddress: registry } : {};
}

/**
 * `berth-server registry-auth HTPASSWD`: makes the credential if needed (in BERTH_DATA_DIR) and writes the
 * registry's htpasswd file when its content would change (a new bcrypt salt is not a change). Prints
 * "changed" or "ok" for up.sh.
 */
export function runRegistryAuth(args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const [htpasswd] = args;
  if (!htpasswd) throw new Error('usage: berth-server registry-auth HTPASSWD_FILE');
  const credential = ensureRegistryCredential(path.resolve(env.BERTH_DATA_DIR ?? '/var/lib/berth'));
  const current = fs.existsSync(htpasswd) ? fs.readFileSync(htpasswd, 'utf8') : '';
  const [user, hash] = current.trim().split(':');
  if (user === credential.username && hash && bcrypt.compareSync(credential.password, hash)) {
    console.log('ok');
    return;
  }
  fs.mkdirSync(path.dirname(htpasswd), { recursive: true });
  fs.writeFileSync(htpasswd, htpasswdLine(credential), { mode: 0o600 });
  console.log('changed');
}
