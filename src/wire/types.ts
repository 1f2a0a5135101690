// The API's shapes on the wire (docs/api.md): what src/api/views.ts produces and the CLI (src/cli) and the
// web console (web/) read. One home, so the three cannot drift apart.
import type { SchedulerName } from '../scheduler/names.ts';
import type { CanaryView } from './canary.ts';

export interface App {
  deployBranch: string;
  name: string;
  scheduler: SchedulerName;
  url: string;
  gitUrl: string;
  status: 'new' | 'running' | 'deploying' | 'failed' | 'stopped' | 'degraded' | 'crashed';
  currentRelease: number | null;
  instances: number;
  domains: string[];
  createdAt: string;
  lastDeployAt: string | null;
  /** maintenance:on: the app's names answer 503 with the maintenance page. */
  maintenance: boolean;
  /** apps:reviews: pushes of other branches to this app's remote make review apps (null: off). */
  reviews: ReviewSettings | null;
  /** A review app: the app and branch it was made from (null: not one). */
  reviewOf: ReviewOf | null;
}

export interface ReviewSettings { ttlSec: number }

export interface ReviewOf {
  app: string;
  branch: string;
  /** Destroyed then unless the branch is pushed again (null: its parent has review apps off). */
  expiresAt: string | null;
}

/** GET/PATCH /apps/:app/reviews: the setting and the app's review apps; `destroyed`: what turning it off removed. */
export interface ReviewApps {
  app: string;
  enabled: boolean;
  ttlSec: number | null;
  apps: { name: string; branch: string; url: string; expiresAt: string | null }[];
  destroyed?: string[];
}

/**
 * `berth run` over the websocket GET /apps/:app/run?command=JSON&tty=1&cols=&rows=&memoryMB=&type=&timeout=SECONDS.
 * Client to server: binary frames are stdin; text frames are RunControl. Server to client: binary frames whose
 * first byte says the stream (RUN_STDOUT, RUN_STDERR; everything is stdout with a TTY); text frames are RunEvent.
 */
export type RunControl = { type: 'resize'; cols: number; rows: number } | { type: 'eof' } | { type: 'signal'; signal: 'SIGINT' | 'SIGTERM' };
export type RunEvent = { type: 'started'; name: string } | { type: 'exit'; code: number } | { type: 'error'; message: string };
export const RUN_STDOUT = 1;
export const RUN_STDERR = 2;
/** A refused run's message (URI-encoded), as the upgrade's refusal carries no body. */
export const RUN_ERROR_HEADER = 'X-Berth-Error';

/** POST /apps/:app/maintenance, /apps/:app/stop and /apps/:app/start answer with this. */
export interface AppSwitches { app: string; maintenance: boolean; stopped: boolean }

export interface Formation {
  type: string;
  quantity: number;
  memoryMB: number | null;
  cpus: number | null;
  command: string | null;
}

export interface Release {
  version: number;
  status: 'pending' | 'deploying' | 'canary' | 'succeeded' | 'failed' | 'aborted';
  description: string;
  image: string | null;
  imageId: string | null;
  imageDigest: string | null;
  port: number;
  configKeys: string[];
  /** Keys this release added, removed or changed the value of, against the one before (never values). */
  configChanges: { added: string[]; removed: string[]; changed: string[] };
  formation: Formation[];
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
  failureReason: string | null;
  current: boolean;
  /** Set on a release that ran as a canary: its state, weight and the last comparison with the stable release. */
  canary?: CanaryView | null;
}

export interface Instance {
  name: string;
  type: string;
  index: number;
  release: number;
  state: string;
  host: string;
  /** The machine it runs on: "local", a registered host, or a Kubernetes node. */
  hostName: string;
  hostPort: number | null;
  memoryMB: number | null;
  cpus: number | null;
  startedAt: string | null;
  restartCount: number;
  containerId: string;
}

export interface LogLine {
  time: string;
  process: string;
  index: number | null;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface Domain {
  hostname: string;
  kind: 'default' | 'custom';
  /** Where the name's HTTPS certificate stands (GET /apps/:app/domains). */
  certificate?: CertificateStatus;
}

/**
 * issued: served now (expiresAt, issuer); pending: being obtained; failed: the CA refused, in Caddy's
 * words (reason), retried at retryAt; internal: Caddy's own CA (*.localhost); custom: the team's own
 * certificate (certs:add); none: no certificate (a wildcard without one of the team's own).
 */
export interface CertificateStatus {
  state: 'issued' | 'pending' | 'failed' | 'internal' | 'custom' | 'none';
  expiresAt?: string;
  issuer?: string;
  reason?: string;
  retryAt?: string;
}

/** GET/PATCH /apps/:app/https */
export interface HttpsSettings {
  redirect: boolean;
}

/** GET/POST /apps/:app/certs: the team's own certificate for the app's names (certs:add). */
export interface AppCertificate {
  names: string[];
  expiresAt: string;
  issuer: string;
  fingerprint: string;   // SHA-256 of the certificate, hex
  addedAt: string;
}

/** One entry of PATCH /formation's `updates`. */
export interface FormationUpdate {
  type: string;
  quantity?: number;
  memoryMB?: number;
  cpus?: number;
}

export type ConfigVars = Record<string, string>;

/** What a token may do (docs/security.md): read < deploy < full (the user's rights) < admin (admins only). */
export const TOKEN_SCOPES = ['read', 'deploy', 'full', 'admin'] as const;
export type TokenScope = typeof TOKEN_SCOPES[number];

/** One row of GET /tokens; the secret itself is only in POST /tokens' answer, once. */
export interface ApiToken {
  id: number;
  user: string;
  scope: TokenScope;
  description: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  current: boolean;          // the token this request came with
}

/** POST /tokens' answer. */
export interface CreatedToken extends ApiToken { token: string }

/** One build of GET /apps/:app/builds. */
export interface Build {
  id: number;
  status: string;
  commitSha: string;
  ref: string;
  pushedBy: string;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
}

export interface User { name: string; role: string }

/** One step of one instance in GET /apps/:app/metrics. */
export interface InstanceSeriesPoint {
  t: number;                  // bucket start, epoch seconds
  cpu: number | null;         // avg % of one core
  cpuMax: number | null;
  memory: number;             // avg bytes
  memoryMax: number;
  memoryLimit: number | null;
  rx: number | null; tx: number | null;            // bytes/s
  blockRead: number | null; blockWrite: number | null;
}

/** One step of an app's requests (its router lines) in GET /apps/:app/metrics; steps without requests are left out. */
export interface RequestSeriesPoint {
  t: number;
  count: number;
  rate: number;               // requests/s over the step
  s2xx: number; s3xx: number; s4xx: number; s5xx: number;
  avgMs: number | null; p50: number | null; p95: number | null; p99: number | null;
}

/** GET /apps/:app/metrics?since=1h[&step=1m]: series from `from` to `to` (epoch seconds) at `step` seconds. */
export interface MetricsAnswer {
  app: string;
  from: number; to: number; step: number;
  instances: { instance: string; process: string; points: InstanceSeriesPoint[] }[];
  requests: RequestSeriesPoint[];
  /** The whole range at once (what `berth metrics` prints). */
  requestTotals: Omit<RequestSeriesPoint, 't'>;
}

/** apps:connect: the repository an app deploys from when its git host's push webhook arrives. */
export interface GitConnection {
  app: string;
  /** As Berth fetches it: https://… or ssh://…/user@host:path, never with credentials. */
  repo: string;
  branch: string;
  kind: 'https' | 'ssh';
  /** Where the git host sends push events (POST, signed with the webhook secret). */
  webhookUrl: string;
  /** HTTPS: whether an access token is stored (it is never shown). */
  token: boolean;
  /** SSH: the deploy key's public half, to add to the repository (read-only access is enough). */
  deployKey: string | null;
  /** SSH: whether the host's key was seen on a fetch (the first one is trusted, a changed one refused). */
  hostKeyKnown: boolean;
  createdBy: string;
  createdAt: string;
}

/** POST /apps/:app/connection: the secret only when Berth generated it (shown this once). */
export interface GitConnectResult { connection: GitConnection; webhookSecret: string | null }

/** POST /hooks/git/:app: the build started for a push (null: nothing to deploy), and why. */
export interface WebhookAnswer { build: number | null; message: string }

/** An add-on's attachment: the config var it owns on an app (only apps the caller can see are listed). */
export interface AddonAttachment { app: string; as: string }

/** berth addons: a data service (addons:create) or an outside service bound to the app (addons:attach --url). */
export interface Addon {
  /** The add-on's name; for an outside service, the config var it owns. */
  name: string;
  kind: 'postgres' | 'redis' | 'mysql';
  /** The app that created it; null for an outside service. */
  app: string | null;
  /** From the service's health check; `down`: the machine holding its data is lost; `outside` for a service Berth does not run. */
  status: 'starting' | 'up' | 'unhealthy' | 'stopped' | 'missing' | 'down' | 'outside';
  memoryMB: number | null;
  attachedAs: AddonAttachment[];
  createdAt: string;
}

/** addons:info: how this app connects (the password masked unless ?reveal=true). */
export interface AddonInfo extends Addon { var: string; url: string }

/** addons:create / addons:attach: the var set and the release that set it (null: stored until the first deploy). */
export interface AddonChange { addon: Addon; var: string; release: number | null }

/**
 * Add-on backups (/api/v1/addons/:name/backups). An id is "b001", "b002"… per add-on. Only `succeeded` backups
 * can be downloaded or restored; `failed` ones (a dump error, a full disk, Berth killed mid-dump) say why.
 */
export interface Backup {
  id: string;
  addon: string;
  kind: Addon['kind'];
  status: 'running' | 'succeeded' | 'failed';
  /** Who started it: a member's name, or "schedule". */
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  /** Bytes stored and their SHA-256 (hex), once succeeded. */
  size: number | null;
  sha256: string | null;
  store: 'local' | 's3';
  error: string | null;
}

/** backups:schedule: a daily capture at `at` (HH:MM, UTC), keeping the last `keep` succeeded backups. */
export interface BackupSchedule { at: string; keep: number; nextRunAt: string }

/** GET /addons/:name/backups: newest first. */
export interface BackupList { addon: string; kind: Addon['kind']; schedule: BackupSchedule | null; backups: Backup[] }

/** POST …/backups/:id/restore or …/restore (a file): what was overwritten (`into`), from what. */
export interface BackupRestore { addon: string; into: string; from: string; created: boolean; durationMs: number }

/** Headers of GET …/backups/:id/download (the body is the raw dump: pg_dump -Fc, SQL, or an RDB file). */
export const BACKUP_SHA256_HEADER = 'x-berth-backup-sha256';

/** GET /admin/check (`berth admin:check`, the console's Admin page): the installation's integrity report. */
export interface MissingImage { app: string; version: number; imageRef: string; problem: string }
export interface OrphanContainer { id: string; name: string; app: string; state: string }
export interface AppDiskUse { app: string; repoBytes: number; logBytes: number; buildLogBytes: number; totalBytes: number }
export interface CheckReport {
  ok: boolean;
  database: { ok: boolean; messages: string[] };
  missingImages: MissingImage[];
  orphanContainers: OrphanContainer[];
  disk: AppDiskUse[];
  checkedAt: string;
}
