// Drizzle schema: the tables Berth's state lives in. Migrations (migrations.ts) create them.
import { sqliteTable, text, integer, real, primaryKey, uniqueIndex } from 'drizzle-orm/sqlite-core';

export const users = sqliteTable('users', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull().unique(),
  role: text('role').notNull(), // 'admin' | 'member'
  createdAt: text('created_at').notNull(),
});

export const tokens = sqliteTable('tokens', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  tokenHash: text('token_hash').notNull().unique(), // sha256 hex; the token itself is never stored
  label: text('label').notNull(),             // the description given at creation
  createdAt: text('created_at').notNull(),
  scope: text('scope').notNull().default('full'), // read | deploy | full | admin (src/api/scopes.ts)
  expiresAt: text('expires_at'),                  // null: never
  lastUsedAt: text('last_used_at'),               // updated at most once a minute
});

export const apps = sqliteTable('apps', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull().unique(),
  createdAt: text('created_at').notNull(),
  currentRelease: integer('current_release'),     // version now serving, null before the first deploy
  deployingRelease: integer('deploying_release'), // version being rolled out, null when idle
  lastDeployAt: text('last_deploy_at'),
  deployBranch: text('deploy_branch').notNull().default('main'), // the git branch whose pushes deploy
  scheduler: text('scheduler').notNull().default('docker'),       // what runs it: docker or k3s (src/scheduler)
  maintenance: integer('maintenance', { mode: 'boolean' }).notNull().default(false), // maintenance:on: the route answers 503
  stopped: integer('stopped', { mode: 'boolean' }).notNull().default(false),         // apps:stop: nothing runs, formation kept
});

export const releases = sqliteTable('releases', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  appId: integer('app_id').notNull().references(() => apps.id, { onDelete: 'cascade' }),
  version: integer('version').notNull(),
  status: text('status').notNull(), // pending | deploying | canary | succeeded | failed | aborted
  description: text('description').notNull(),
  imageRef: text('image_ref'),
  imageId: text('image_id'),
  imageDigest: text('image_digest'),
  containerPort: integer('container_port'), // the port web instances listen on (PORT); null: 5000
  config: text('config', { mode: 'json' }).$type<Record<string, string>>().notNull(),
  formation: text('formation', { mode: 'json' }).$type<FormationEntry[]>().notNull(),
  health: text('health', { mode: 'json' }).$type<ReleaseHealthCheck>(), // app.json's web check; null: none
  createdBy: text('created_by').notNull(),
  createdAt: text('created_at').notNull(),
  finishedAt: text('finished_at'),
  failureReason: text('failure_reason'),
}, (t) => [uniqueIndex('releases_app_version').on(t.appId, t.version)]);

export const builds = sqliteTable('builds', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  appId: integer('app_id').notNull().references(() => apps.id, { onDelete: 'cascade' }),
  status: text('status').notNull(), // building | succeeded | failed
  commitSha: text('commit_sha').notNull(),
  ref: text('ref').notNull(),
  kind: text('kind'),
  releaseVersion: integer('release_version'),
  pushedBy: text('pushed_by').notNull(),
  startedAt: text('started_at').notNull(),
  finishedAt: text('finished_at'),
  error: text('error'),
});

export const configVars = sqliteTable('config_vars', {
  appId: integer('app_id').notNull().references(() => apps.id, { onDelete: 'cascade' }),
  key: text('key').notNull(),
  value: text('value').notNull(),
  noReview: integer('no_review', { mode: 'boolean' }).notNull().default(false), // config:set --no-review: not copied to review apps
}, (t) => [primaryKey({ columns: [t.appId, t.key] })]);

/** apps:reviews APP on: pushes of other branches make review apps, destroyed ttlSec after their last push. */
export const reviewSettings = sqliteTable('review_settings', {
  appId: integer('app_id').primaryKey().references(() => apps.id, { onDelete: 'cascade' }),
  ttlSec: integer('ttl_sec').notNull(),
  enabledAt: text('enabled_at').notNull(),
});

/** A review app (app_id) made from a branch of its parent. */
export const reviewApps = sqliteTable('review_apps', {
  appId: integer('app_id').primaryKey().references(() => apps.id, { onDelete: 'cascade' }),
  parentId: integer('parent_id').notNull(), // no foreign key: the parent's destroy event destroys its review apps
  branch: text('branch').notNull(),
  lastPushAt: text('last_push_at').notNull(),
});

export const formation = sqliteTable('formation', {
  appId: integer('app_id').notNull().references(() => apps.id, { onDelete: 'cascade' }),
  type: text('type').notNull(),
  quantity: integer('quantity').notNull(),
  memoryMB: integer('memory_mb'),
  cpus: real('cpus'),
  command: text('command'),        // null: the image's own command
  generation: integer('generation').notNull().default(0), // bumped by ps:restart
}, (t) => [primaryKey({ columns: [t.appId, t.type] })]);

export const domains = sqliteTable('domains', {
  hostname: text('hostname').primaryKey(),
  appId: integer('app_id').notNull().references(() => apps.id, { onDelete: 'cascade' }),
  createdAt: text('created_at').notNull(),
});

/** app.json's web health check: its path, and seconds new instances get (null: the installation's default). */
export interface ReleaseHealthCheck { path: string; timeoutSec: number | null }

export interface FormationEntry {
  type: string;
  quantity: number;
  memoryMB: number | null;
  cpus: number | null;
  command: string | null;
  generation: number;
}

export const hosts = sqliteTable('hosts', {
  name: text('name').primaryKey(),
  address: text('address').notNull(),          // where Berth reaches it (SSH) and the router reaches its instances
  sshUser: text('ssh_user').notNull(),
  sshPort: integer('ssh_port').notNull(),
  role: text('role').notNull(),                // k3s-server | k3s-agent | kubelet; docker: a retired Docker host of an older Berth
  status: text('status').notNull(),            // up (down was set by the Docker hosts' heartbeats, which are gone)
  draining: integer('draining', { mode: 'boolean' }).notNull().default(false),
  memoryMB: integer('memory_mb'),              // capacity a Docker host's engine reported (null for k3s hosts)
  cpus: integer('cpus'),
  lastHeartbeatAt: text('last_heartbeat_at'),  // the registration time since the Docker hosts' heartbeats are gone
  createdAt: text('created_at').notNull(),
});
