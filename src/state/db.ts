// Opens the SQLite database: WAL, foreign keys, migrations. Berth is its only writer.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import * as schema from './schema.ts';
import { migrations } from './migrations.ts';
import { DEFAULT_DATA_DIR } from '../config.ts';
import { inExecutable } from '../executable/self.ts';
import { loadEmbeddedSqliteAddon } from '../executable/sqlite-addon.ts';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

let embeddedAddon: object | undefined;

/**
 * dist/berth carries the addon inside (written to <data dir>/cache on first use, loaded once per
 * process); the bundled server ships better_sqlite3.node beside itself; from sources the package finds its own.
 */
export function nativeBinding(): string | undefined {
  if (process.env.BERTH_SQLITE_BINDING) return process.env.BERTH_SQLITE_BINDING;
  if (inExecutable()) {
    embeddedAddon ??= loadEmbeddedSqliteAddon(path.join(path.resolve(process.env.BERTH_DATA_DIR ?? DEFAULT_DATA_DIR), 'cache'));
    // better-sqlite3 takes a loaded addon object too; its @types only know the path form.
    return embeddedAddon as unknown as string;
  }
  const beside = path.join(path.dirname(process.argv[1] ?? ''), 'better_sqlite3.node');
  return fs.existsSync(beside) ? beside : undefined;
}

export function openDb(file: string): Db {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new Database(file, { nativeBinding: nativeBinding() });
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  migrate(sqlite);
  return drizzle(sqlite, { schema }) as Db;
}

function migrate(sqlite: Database.Database): void {
  const applied = sqlite.pragma('user_version', { simple: true }) as number;
  for (let v = applied; v < migrations.length; v++) {
    sqlite.transaction(() => {
      sqlite.exec(migrations[v]);
      sqlite.pragma(`user_version = ${v + 1}`);
    })();
  }
}

export const now = (): string => new Date().toISOString();
