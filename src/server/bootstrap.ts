// First start: create the admin user and its token, and leave the token where the operator (and
// scripts/up.sh) can read it: <dataDir>/admin-token, readable by root only.
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
