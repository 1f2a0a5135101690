// First start: create the admin user and its token, and leave the token where the operator (and
// scripts/up.sh) can read it: <dataDir>/admin-token, readable by root only.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AuthStore } from '../state/auth-store.ts';

export function ensureAdmin(auth: AuthStore, dataDir: string): string | null {
  if (auth.hasUsers()) return null;
  const admin = auth.createUser('admin', 'admin');
  const token = auth.issueToken(admin.id, 'created on first start');
  const file = path.join(dataDir, 'admin-token');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
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
