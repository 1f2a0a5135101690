// First start: create the admin user, without a token. Tokens are handed out only by `berth-server
// issue-admin-token`, run on the server machine by whoever may open the database (root): it prints a
// fresh admin token once, to its own stdout, so no token sits in a file or the server's log.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AuthStore } from '../state/auth-store.ts';
import { serverCommandHint } from '../executable/self.ts';

export const ADMIN_TOKEN_COMMAND = 'issue-admin-token';
/** Where servers before scoped tokens left the first admin token; removed on start (the token stays valid). */
const LEGACY_TOKEN_FILE = 'admin-token';

/** Creates the `admin` user on first start; says what it did, for the log (never a token). */
export function ensureAdmin(auth: AuthStore, dataDir: string, dbFile: string): string[] {
  const notes: string[] = [];
  // Whoever can read berth.db can mint tokens with issue-admin-token: the owner only (SQLite gives -wal/-shm the same mode).
  try { fs.chmodSync(dbFile, 0o600); } catch { /* not ours to change (a read-only mount): reported by SQLite soon enough */ }
  if (!auth.hasUsers()) {
    auth.createUser('admin', 'admin');
    notes.push(`created the admin user; get its token on this machine with: ${serverCommandHint()} ${ADMIN_TOKEN_COMMAND}`);
  }
  const legacy = path.join(dataDir, LEGACY_TOKEN_FILE);
  if (fs.existsSync(legacy)) {
    fs.rmSync(legacy, { force: true });
    notes.push(`removed ${legacy}: tokens are no longer kept in files (it stays valid until revoked with berth tokens:revoke)`);
  }
  return notes;
}

/**
 * A new admin-scoped token for the first admin (created if there is no user at all), or null with
 * `ifNone` when that admin already has a token that has not expired (scripts/up.sh on a later run).
 */
export function issueAdminToken(auth: AuthStore, opts: { ifNone?: boolean } = {}): string | null {
  const admin = auth.firstAdmin() ?? (auth.hasUsers() ? null : auth.createUser('admin', 'admin'));
  if (!admin) throw new Error('no admin user left: every user is a member (make one an admin in the database, or restore a backup)');
  const now = new Date().toISOString();
  if (opts.ifNone && auth.tokens(admin.id).some((t) => t.scope === 'admin' && (!t.expiresAt || t.expiresAt > now))) return null;
  return auth.createToken(admin.id, { scope: 'admin', description: `issued on the server (${ADMIN_TOKEN_COMMAND})`, expiresAt: null }).token;
}

/** A stable id for this installation, stamped on every container it runs (see DockerRuntime's owner). */
export function installationId(dataDir: string): string {
  const file = path.join(dataDir, 'installation-id');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const id = crypto.randomBytes(6).toString('hex');
  fs.writeFileSync(file, `${id}\n`);
  return id;
}

/**
 * Builds trust the host's extra CAs (a TLS-intercepting proxy, a company CA): a folder of .crt files
 * (Debian's /usr/local/share/ca-certificates) becomes one PEM bundle in the data dir; a file is used as is.
 */
export function buildCaBundle(source: string | null, dataDir: string): string | null {
  if (!source || !fs.existsSync(source)) return null;
  if (!fs.statSync(source).isDirectory()) return source;
  const pems = fs.readdirSync(source, { recursive: true }).map(String).filter((f) => f.endsWith('.crt')).sort()
    .map((f) => fs.readFileSync(path.join(source, f), 'utf8').trim());
  if (pems.length === 0) return null;
  const bundle = path.join(dataDir, 'build-ca.pem');
  fs.writeFileSync(bundle, `${pems.join('\n')}\n`);
  return bundle;
}

/**
 * `node berth-server.mjs issue-admin-token [--if-none]`: opens the database directly (so only who may
 * read it, root, can) and prints a new admin token on stdout, once. The server may be running meanwhile.
 */
export async function runIssueAdminToken(args: string[]): Promise<void> {
  const unknown = args.filter((a) => a !== '--if-none');
  if (unknown.length) {
    process.stderr.write(`usage: berth-server ${ADMIN_TOKEN_COMMAND} [--if-none]\n`);
    process.exitCode = 2;
    return;
  }
  const [{ loadConfig }, { openDb }, { AuthStore }] = await Promise.all([
    import('../config.ts'), import('../state/db.ts'), import('../state/auth-store.ts'),
  ]);
  const db = openDb(path.join(loadConfig().dataDir, 'berth.db'));
  try {
    const token = issueAdminToken(new AuthStore(db), { ifNone: args.includes('--if-none') });
    if (token) process.stdout.write(`${token}\n`);
  } finally {
    db.$client.close();
  }
}
