// apps:connect: the repository an app deploys from on a git host's webhook. The access token, the webhook
// secret and the SSH deploy key rest sealed like config values (src/state/secrets.ts), each bound to its
// app and purpose; key rotation re-seals them with the rest (resealConnections).
import type Database from 'better-sqlite3';
import type { Db } from './db.ts';
import { now } from './db.ts';
import type { SecretBox } from './secrets.ts';

export interface GitConnectionRow {
  appId: number;
  repoUrl: string;
  branch: string;
  kind: 'https' | 'ssh';
  token: { user: string; token: string } | null;
  webhookSecret: string;
  deployKey: string | null;
  deployPublicKey: string | null;
  knownHosts: string | null;
  createdBy: string;
  createdAt: string;
}

export type NewConnection = Omit<GitConnectionRow, 'appId' | 'createdAt' | 'knownHosts'>;

interface Row {
  app_id: number; repo_url: string; branch: string; kind: string; token: string | null; token_user: string | null;
  webhook_secret: string; deploy_key: string | null; deploy_public_key: string | null; known_hosts: string | null;
  created_by: string; created_at: string;
}

const SEALED_COLUMNS = ['token', 'webhook_secret', 'deploy_key'] as const;
const contextOf = (appId: number, column: string) => `connection:${appId}:${column}`;

export class ConnectionsStore {
  readonly #sql: Database.Database;
  readonly #box: SecretBox;
  constructor(db: Db, box: SecretBox) { this.#sql = db.$client; this.#box = box; }

  find(appId: number): GitConnectionRow | null {
    const row = this.#sql.prepare('SELECT * FROM app_git_connections WHERE app_id = ?').get(appId) as Row | undefined;
    if (!row) return null;
    const open = (column: (typeof SEALED_COLUMNS)[number]) => (row[column] === null ? null : this.#box.open(row[column]!, contextOf(appId, column)));
    const token = open('token');
    return {
      appId, repoUrl: row.repo_url, branch: row.branch, kind: row.kind === 'ssh' ? 'ssh' : 'https',
      token: token === null ? null : { user: row.token_user ?? 'x-access-token', token },
      webhookSecret: open('webhook_secret')!, deployKey: open('deploy_key'), deployPublicKey: row.deploy_public_key,
      knownHosts: row.known_hosts, createdBy: row.created_by, createdAt: row.created_at,
    };
  }

  /** Connecting again replaces the connection (another repository, a new secret, a new deploy key). */
  save(appId: number, c: NewConnection): void {
    const seal = (value: string | null, column: string) => (value === null ? null : this.#box.seal(value, contextOf(appId, column)));
    this.#sql.prepare(`INSERT INTO app_git_connections (app_id, repo_url, branch, kind, token, token_user, webhook_secret, deploy_key,
        deploy_public_key, known_hosts, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)
      ON CONFLICT (app_id) DO UPDATE SET repo_url = excluded.repo_url, branch = excluded.branch, kind = excluded.kind,
        token = excluded.token, token_user = excluded.token_user, webhook_secret = excluded.webhook_secret,
        deploy_key = excluded.deploy_key, deploy_public_key = excluded.deploy_public_key, known_hosts = NULL,
        created_by = excluded.created_by, created_at = excluded.created_at`)
      .run(appId, c.repoUrl, c.branch, c.kind, seal(c.token?.token ?? null, 'token'), c.token?.user ?? null,
        seal(c.webhookSecret, 'webhook_secret'), seal(c.deployKey, 'deploy_key'), c.deployPublicKey, c.createdBy, now());
  }

  /** The SSH host key seen on the first fetch, kept so a changed one is refused later. */
  saveKnownHosts(appId: number, knownHosts: string): void {
    this.#sql.prepare('UPDATE app_git_connections SET known_hosts = ? WHERE app_id = ?').run(knownHosts, appId);
  }

  remove(appId: number): boolean {
    return this.#sql.prepare('DELETE FROM app_git_connections WHERE app_id = ?').run(appId).changes > 0;
  }
}

/** Rewrites every sealed connection value through `change` (key rotation); returns how many. */
export function resealConnections(sqlite: Database.Database, change: (value: string, context: string) => string): number {
  let count = 0;
  const rows = sqlite.prepare('SELECT app_id, token, webhook_secret, deploy_key FROM app_git_connections').all() as Array<Pick<Row, 'app_id' | (typeof SEALED_COLUMNS)[number]>>;
  for (const row of rows) {
    for (const column of SEALED_COLUMNS) {
      const value = row[column];
      if (value === null) continue;
      sqlite.prepare(`UPDATE app_git_connections SET ${column} = ? WHERE app_id = ?`).run(change(value, contextOf(row.app_id, column)), row.app_id);
      count++;
    }
  }
  return count;
}
