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
  // Per-app access (Heroku's collaborators), the audit trail, and web console sessions.
  `CREATE TABLE app_members (
     app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at TEXT NOT NULL,
     PRIMARY KEY (app_id, user_id));
   CREATE TABLE audit_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at TEXT NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     app TEXT,
     target TEXT,
     ip TEXT,
     status INTEGER,
     detail TEXT);
   CREATE INDEX audit_events_app ON audit_events(app, id);
   CREATE TABLE sessions (
     id_hash TEXT PRIMARY KEY,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     csrf_token TEXT NOT NULL,
     created_at TEXT NOT NULL,
     expires_at TEXT NOT NULL);`,
  // More than one machine: the Docker hosts instances run on (the local engine is implicit, never a row).
  `CREATE TABLE hosts (
     name TEXT PRIMARY KEY,
     address TEXT NOT NULL,
     ssh_user TEXT NOT NULL,
     ssh_port INTEGER NOT NULL,
     role TEXT NOT NULL,
     status TEXT NOT NULL,
     draining INTEGER NOT NULL DEFAULT 0,
     memory_mb INTEGER,
     cpus INTEGER,
     last_heartbeat_at TEXT,
     created_at TEXT NOT NULL);`,
  // Metrics (10 s points kept 24 h, 1 min rollups kept 30 days; times in epoch seconds) and alerts.
  `CREATE TABLE metric_instance_points (
     app TEXT NOT NULL,
     res INTEGER NOT NULL,
     ts INTEGER NOT NULL,
     instance TEXT NOT NULL,
     cpu REAL,
     cpu_max REAL,
     mem INTEGER NOT NULL,
     mem_max INTEGER NOT NULL,
     mem_limit INTEGER,
     rx REAL,
     tx REAL,
     blk_r REAL,
     blk_w REAL,
     PRIMARY KEY (app, res, ts, instance)) WITHOUT ROWID;
   CREATE INDEX metric_instance_points_age ON metric_instance_points(res, ts);
   CREATE TABLE metric_request_points (
     app TEXT NOT NULL,
     res INTEGER NOT NULL,
     ts INTEGER NOT NULL,
     c2 INTEGER NOT NULL,
     c3 INTEGER NOT NULL,
     c4 INTEGER NOT NULL,
     c5 INTEGER NOT NULL,
     other INTEGER NOT NULL,
     sum_ms REAL NOT NULL,
     hist TEXT NOT NULL,
     PRIMARY KEY (app, res, ts)) WITHOUT ROWID;
   CREATE INDEX metric_request_points_age ON metric_request_points(res, ts);
   CREATE TABLE alert_rules (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
     expr TEXT NOT NULL,
     rule TEXT NOT NULL,
     webhook TEXT NOT NULL,
     format TEXT NOT NULL,
     renotify_minutes INTEGER NOT NULL,
     state TEXT NOT NULL DEFAULT 'ok',
     state_since INTEGER,
     last_notified_at INTEGER,
     created_by TEXT NOT NULL,
     created_at TEXT NOT NULL);
   CREATE TABLE alert_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
     rule_id INTEGER,
     expr TEXT NOT NULL,
     kind TEXT NOT NULL,
     value REAL,
     message TEXT NOT NULL,
     at INTEGER NOT NULL);
   CREATE INDEX alert_events_app ON alert_events(app_id, id);
   CREATE TABLE alert_deliveries (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id INTEGER NOT NULL REFERENCES alert_events(id) ON DELETE CASCADE,
     url TEXT NOT NULL,
     attempt INTEGER NOT NULL,
     status INTEGER,
     error TEXT,
     at INTEGER NOT NULL);
   CREATE INDEX alert_deliveries_event ON alert_deliveries(event_id);`,
  // Issue 10: each app names the scheduler that runs it (docker, k3s).
  `ALTER TABLE apps ADD COLUMN scheduler TEXT NOT NULL DEFAULT 'docker';`,
  // Issue 14: scoped, expiring tokens with a last-used time; a session ends with the token it came from.
  // Admins' tokens so far carried their admin rights, so they keep them as the admin scope.
  `ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'full';
   ALTER TABLE tokens ADD COLUMN expires_at TEXT;
   ALTER TABLE tokens ADD COLUMN last_used_at TEXT;
   UPDATE tokens SET scope = 'admin' WHERE user_id IN (SELECT id FROM users WHERE role = 'admin');
   CREATE INDEX tokens_user ON tokens(user_id);
   ALTER TABLE sessions ADD COLUMN token_id INTEGER REFERENCES tokens(id) ON DELETE CASCADE;`,
  // Issue 14: config values are sealed (src/state/config-secrets.ts); which key, and a value sealed with it.
  `CREATE TABLE secrets_state (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     key_id TEXT NOT NULL,
     key_check TEXT NOT NULL,
     sealed_at TEXT NOT NULL);`,
  // Issue 12: maintenance mode (the route answers 503, instances run on) and stopped apps (formation kept).
  `ALTER TABLE apps ADD COLUMN maintenance INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE apps ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0;`,
  // Issue 12: apps:https --redirect (plain HTTP to HTTPS), and a team's own certificate (certs:add), per app.
  `CREATE TABLE app_https (
     app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
     redirect INTEGER NOT NULL DEFAULT 0);
   CREATE TABLE app_certificates (
     app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
     names TEXT NOT NULL,
     expires_at TEXT NOT NULL,
     issuer TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     added_at TEXT NOT NULL);`,
  // Issue 12: the web health check the commit's app.json asks for, kept with the release that built it.
  `ALTER TABLE releases ADD COLUMN health TEXT;`,
  // Issue 12: review apps. A parent's setting (apps:reviews), each review app's parent and branch (the parent
  // is no foreign key: destroying it destroys its review apps through the lifecycle event, and the sweep
  // catches any left behind), and config vars kept out of review apps (config:set --no-review).
  `CREATE TABLE review_settings (
     app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
     ttl_sec INTEGER NOT NULL,
     enabled_at TEXT NOT NULL);
   CREATE TABLE review_apps (
     app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
     parent_id INTEGER NOT NULL,
     branch TEXT NOT NULL,
     last_push_at TEXT NOT NULL,
     UNIQUE (parent_id, branch));
   ALTER TABLE config_vars ADD COLUMN no_review INTEGER NOT NULL DEFAULT 0;`,
  // Issue 12: apps:connect: deploys from a git host's webhook. Token, webhook secret and deploy key are sealed
  // (src/state/secrets.ts); known_hosts keeps the SSH host key first seen (trust on first use).
  `CREATE TABLE app_git_connections (
     app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
     repo_url TEXT NOT NULL,
     branch TEXT NOT NULL,
     kind TEXT NOT NULL,
     token TEXT,
     token_user TEXT,
     webhook_secret TEXT NOT NULL,
     deploy_key TEXT,
     deploy_public_key TEXT,
     known_hosts TEXT,
     created_by TEXT NOT NULL,
     created_at TEXT NOT NULL);`,
  // Issue 11: add-ons (data services). An add-on's credentials rest sealed (src/state/secrets.ts); app_id is
  // no foreign key: the app's destroy event removes its add-ons' containers and volumes first, then the rows.
  // A binding is a config var an add-on (addon_id) or an outside service (url, sealed) owns on an app;
  // host is the service's address on that app's network.
  `CREATE TABLE addons (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     kind TEXT NOT NULL,
     app_id INTEGER NOT NULL,
     credentials TEXT NOT NULL,
     memory_mb INTEGER NOT NULL,
     created_by TEXT NOT NULL,
     created_at TEXT NOT NULL);
   CREATE TABLE addon_bindings (
     app_id INTEGER NOT NULL,
     var TEXT NOT NULL,
     addon_id INTEGER REFERENCES addons(id) ON DELETE CASCADE,
     host TEXT,
     url TEXT,
     created_at TEXT NOT NULL,
     PRIMARY KEY (app_id, var));`,
  // Issue 13: autoscaling per process type (ps:autoscale): the range, the signal and its per-instance target,
  // the cooldown before each scale-down, and when the autoscaler last changed the count (cooldowns survive restarts).
  `CREATE TABLE autoscale_settings (
     app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
     process_type TEXT NOT NULL,
     min_instances INTEGER NOT NULL,
     max_instances INTEGER NOT NULL,
     signal TEXT NOT NULL,
     target REAL NOT NULL,
     cooldown_sec INTEGER NOT NULL,
     last_change_at INTEGER,
     updated_by TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (app_id, process_type));`,
  // Issue 11: add-on backups. Keyed by the add-on's name, not its row: addons:destroy --keep-backups leaves them
  // (an add-on created again under that name sees them). seq numbers them per add-on (b001…); store_key is where
  // the store holds the bytes. A schedule is one daily capture per add-on (at: HH:MM UTC) and its retention.
  `CREATE TABLE addon_backups (
     id INTEGER PRIMARY KEY,
     addon TEXT NOT NULL,
     seq INTEGER NOT NULL,
     kind TEXT NOT NULL,
     status TEXT NOT NULL,
     trigger TEXT NOT NULL,
     started_at TEXT NOT NULL,
     finished_at TEXT,
     duration_ms INTEGER,
     size INTEGER,
     sha256 TEXT,
     store TEXT NOT NULL,
     store_key TEXT NOT NULL,
     error TEXT,
     UNIQUE (addon, seq));
   CREATE TABLE addon_backup_schedules (
     addon TEXT PRIMARY KEY,
     at TEXT NOT NULL,
     keep INTEGER NOT NULL,
     last_run_at TEXT NOT NULL);`,
  // Issue 13: canary releases. One row per app: its latest canary (running, promoted or aborted), the plan it runs
  // (JSON, src/canary/plan.ts), its step and the last analysis; canary_settings: apps:canary's plan for pushes.
  `CREATE TABLE canaries (
     app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
     version INTEGER NOT NULL,
     state TEXT NOT NULL,
     plan TEXT NOT NULL,
     step INTEGER NOT NULL,
     weight INTEGER NOT NULL,
     step_started_at INTEGER NOT NULL,
     comparison TEXT,
     reason TEXT,
     started_by TEXT NOT NULL,
     started_at TEXT NOT NULL,
     finished_at TEXT);
   CREATE TABLE canary_settings (
     app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
     plan TEXT NOT NULL);`,
  // Issue 11: which scheduler holds each add-on's service (docker: a container; k3s: a StatefulSet of one). An
  // add-on never moves: it is reachable only from apps on its own scheduler.
  `ALTER TABLE addons ADD COLUMN scheduler TEXT NOT NULL DEFAULT 'docker';`,
];
