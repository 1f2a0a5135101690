// Replaces every row of the live database with a restored database's, in one transaction on the server's
// own connection: the server keeps its handle and statements, and sees either all of the backup or none of it.
import type Database from 'better-sqlite3';

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * `source` must have this database's schema (the restore migrates it first). `refuse` is called, inside the
 * transaction, when the live database has an app by then: it must throw. Returns the restored apps.
 */
export function copyDatabaseInto(sqlite: Database.Database, source: string, refuse: () => never): Array<{ id: number; name: string }> {
  // The attached file came from an archive: its schema's code is not trusted (it was checked to have none).
  const trusted = sqlite.pragma('trusted_schema', { simple: true });
  sqlite.pragma('trusted_schema = OFF');
  sqlite.prepare('ATTACH DATABASE ? AS restored').run(source);
  try {
    return sqlite.transaction(() => {
      if ((sqlite.prepare('SELECT count(*) AS n FROM main.apps').get() as { n: number }).n > 0) refuse();
      // Rows go in table by table; references are checked once, at commit, when every table is complete.
      sqlite.pragma('defer_foreign_keys = ON');
      const tables = (sqlite.prepare(`SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as Array<{ name: string }>)
        .map((row) => row.name);
      const restoredTables = new Set((sqlite.prepare(`SELECT name FROM restored.sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>).map((row) => row.name));
      // Everything is emptied before anything is filled: a cascade from a parent's delete must not reach restored rows.
      for (const table of tables) sqlite.exec(`DELETE FROM main.${quote(table)}`);
      for (const table of tables.filter((name) => restoredTables.has(name))) {
        const columns = (sqlite.pragma(`main.table_info(${quote(table)})`) as Array<{ name: string }>).map((column) => quote(column.name)).join(', ');
        sqlite.exec(`INSERT INTO main.${quote(table)} (${columns}) SELECT ${columns} FROM restored.${quote(table)}`);
      }
      if (restoredTables.has('sqlite_sequence')) {
        sqlite.exec('DELETE FROM main.sqlite_sequence');
        sqlite.exec('INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM restored.sqlite_sequence');
      }
      return sqlite.prepare('SELECT id, name FROM main.apps ORDER BY id').all() as Array<{ id: number; name: string }>;
    })();
  } finally {
    sqlite.prepare('DETACH DATABASE restored').run();
    sqlite.pragma(`trusted_schema = ${trusted ? 'ON' : 'OFF'}`);
  }
}
