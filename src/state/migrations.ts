// Schema migrations, applied in order on start. SQLite's user_version records how far a database is.
// Append new migrations; never edit one that has shipped.
export const migrations: string[] = [
  `CREATE TABLE users (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL UNIQUE,
     role TEXT NOT NULL,
     created_at TEXT NOT NULL);
   CREATE TABLE tokens (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     token_hash TEXT NOT NULL UNIQUE,
     label TEXT NOT NULL,
     created_at TEXT NOT NULL);
   CREATE TABLE apps (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL UNIQUE,
     created_at TEXT NOT NULL,
     current_release INTEGER,
     deploying_release INTEGER,
     last_deploy_at TEXT);
   CREATE TABLE releases (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
     version INTEGER NOT NULL,
     status TEXT NOT NULL,
     description TEXT NOT NULL,
     image_ref TEXT,
     image_id TEXT,
     image_digest TEXT,
     config TEXT NOT NULL,
     formation TEXT NOT NULL,
     created_by TEXT NOT NULL,
     created_at TEXT NOT NULL,
     finished_at TEXT,
     failure_reason TEXT);
   CREATE UNIQUE INDEX releases_app_version ON releases(app_id, version);
   CREATE TABLE config_vars (
     app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
     key TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (app_id, key));
   CREATE TABLE formation (
     app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
     type TEXT NOT NULL,
     quantity INTEGER NOT NULL,
     memory_mb INTEGER,
     cpus REAL,
     command TEXT,
     generation INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (app_id, type));
   CREATE TABLE domains (
     hostname TEXT PRIMARY KEY,
     app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
     created_at TEXT NOT NULL);`,
  `ALTER TABLE apps ADD COLUMN deploy_branch TEXT NOT NULL DEFAULT 'main';
   CREATE TABLE builds (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
     status TEXT NOT NULL,
     commit_sha TEXT NOT NULL,
     ref TEXT NOT NULL,
     kind TEXT,
     release_version INTEGER,
     pushed_by TEXT NOT NULL,
     started_at TEXT NOT NULL,
     finished_at TEXT,
     error TEXT);
   CREATE INDEX builds_app ON builds(app_id, id);`,
  `ALTER TABLE releases ADD COLUMN container_port INTEGER;`,
];
