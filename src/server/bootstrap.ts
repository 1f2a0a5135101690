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
