// Server settings, all from the environment so one binary serves dev, tests and production alike.
import fs from 'node:fs';
import path from 'node:path';
import { parseAllowList, type AllowList } from './shared/outbound-address.ts';
import { LETS_ENCRYPT_DIRECTORY, type AcmeSettings } from './router/caddy/tls-config.ts';
import { s3BackupSettingsFrom, type S3BackupSettings } from './addons/backups/s3-settings.ts';

/** Where Berth keeps its state unless BERTH_DATA_DIR says otherwise. */
export const DEFAULT_DATA_DIR = '/var/lib/berth';

export type RouteVia = 'container-ip' | 'host-port';

export interface Config {
  dataDir: string;             // SQLite database, admin token, git repos
  /** AES-256-GCM keys that seal config values in the database (src/state/secrets.ts); mode 0600. */
  secretsKeyFile: string;
  apiHost: string;             // where the API listens itself: loopback unless told otherwise
  apiPort: number;
  /** The hostname Caddy serves the API, console and git on, with TLS; empty: none. */
  apiHostName: string;
  domain: string;              // apps answer on APP.<domain>
  caddyAdmin: string;          // Caddy admin API: unix:/path/to.sock, or an http:// base URL
  /** The ACME CA certificates for apps' names come from (BERTH_ACME_CA, BERTH_ACME_EMAIL, BERTH_ACME_CA_ROOTS). */
  acme: AcmeSettings;
  httpPort: number;            // the router's listeners
  httpsPort: number;
  registry: string;            // host:port of Berth's registry
  dockerSocket: string;
  maxInstancesPerProcess: number;
  portRange: [number, number]; // host ports Berth assigns to web instances
  healthTimeoutSec: number;    // how long new instances get to answer the health check
  drainSec: number;            // old instances keep running this long after the route switched
  stopTimeoutSec: number;      // SIGTERM → SIGKILL grace
  /** container-ip: the router reaches local web instances on Berth's network; host-port: through docker-proxy. */
  routeVia: RouteVia;
  dnsPort: number;             // the app DNS (dnsmasq) on 127.0.0.1: Caddy resolves each app's stable upstream there
  dnsDir: string | null;       // its hosts and pid file; default /run/berth-dns-<installation id> (readable: dnsmasq runs as nobody)
  networkSubnet: string;       // the range each app's own Docker network is carved from (container-ip only)
  /** Apps pushed to keep network holders ready that their new containers join (container-ip only; BERTH_NETWORK_HOLDERS=0: off). */
  networkHolders: boolean;
  networkHoldersIdleSec: number; // how long after an app's last push its holders stay ready
  pidsLimit: number;           // most processes/threads in any container Berth starts
  oneOffMemoryMB: number;      // memory of release-phase and one-off containers
  /** Globs (picomatch) of image references members may deploy besides their own app's registry images. */
  imageAllow: string[];
  maxBodyBytes: number;
  // Builds (git push)
  maxPushBytes: number;         // a push larger than this is refused
  buildTimeoutSec: number;
  gitFetchTimeoutSec: number;   // apps:connect: a webhook's fetch from the git host is stopped after this
  buildConcurrency: number;     // builds of different apps running at once
  releaseCommandTimeoutSec: number;
  keepReleaseImages: number;    // images of older releases are deleted from the registry beyond this
  maxReviewApps: number;        // review apps one app may have at once
  reviewSweepSec: number;       // how often review apps past their time to live are looked for
  stacks: { node: string; python: string; go: string; static: string; generic: string };
  /** PEM bundle builds trust (TLS-intercepting proxies); null: none. */
  buildCaFile: string | null;
  logRetentionDays: number;     // stored app logs older than this are deleted
  logMaxBytesPerApp: number;    // and beyond this size per app, the oldest first
  /** Internal ranges (and exact ADDRESS:PORTs) alert webhooks may reach besides public addresses. */
  webhookAllow: AllowList;
  /** Add-on backups go to this S3-compatible bucket (BERTH_BACKUP_S3_*); null: BERTH_DATA_DIR/backups. Holds a secret: never log it. */
  backupS3: S3BackupSettings | null;
}

/** The extra CAs this host trusts (Debian's update-ca-certificates folder), which a build must trust too. */
function defaultBuildCa(env: NodeJS.ProcessEnv): string | null {
  if (env.BERTH_BUILD_CA_FILE !== undefined) return env.BERTH_BUILD_CA_FILE || null;
  const dir = '/usr/local/share/ca-certificates';
  try {
    return fs.readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.crt')) ? dir : null;
  } catch {
    return null;
  }
}

/** Caddy's route to the API (apiHostName → the API's own listener, on loopback unless it listens elsewhere); null: none. */
export function apiRoute(config: Config): { hostname: string; upstream: { host: string; port: number } } | null {
  if (!config.apiHostName) return null;
  const everywhere = ['0.0.0.0', '::', ''].includes(config.apiHost);
  return { hostname: config.apiHostName, upstream: { host: everywhere ? '127.0.0.1' : config.apiHost, port: config.apiPort } };
}

/** Let's Encrypt unless told otherwise; BERTH_ACME_CA_ROOTS: PEM files trusted for the CA's own HTTPS (a private CA). */
function acmeSettings(env: NodeJS.ProcessEnv): AcmeSettings {
  const ca = env.BERTH_ACME_CA || LETS_ENCRYPT_DIRECTORY;
  if (!/^https:\/\/[^\s]+$/.test(ca)) throw new Error(`BERTH_ACME_CA must be the https:// URL of an ACME directory, got "${ca}"`);
  const email = env.BERTH_ACME_EMAIL?.trim() || undefined;
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new Error(`BERTH_ACME_EMAIL must be an email address, got "${email}"`);
  const roots = (env.BERTH_ACME_CA_ROOTS ?? '').split(',').map((f) => f.trim()).filter(Boolean).map((f) => path.resolve(f));
  return { ca, ...(email ? { email } : {}), ...(roots.length ? { trustedRootsPemFiles: roots } : {}) };
}

function routeVia(raw: string | undefined): RouteVia {
  if (raw === undefined || raw === '' || raw === 'container-ip') return 'container-ip';
  if (raw === 'host-port') return 'host-port';
  throw new Error(`BERTH_ROUTE_VIA must be container-ip or host-port, got "${raw}"`);
}

function int(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${key} must be a non-negative number, got "${raw}"`);
  return n;
}

export function portRangeFrom(env: NodeJS.ProcessEnv = process.env): [number, number] {
  const [lo, hi] = (env.BERTH_PORT_RANGE ?? '20000-29999').split('-').map(Number);
  if (!(lo > 0 && hi >= lo && hi < 65536)) throw new Error(`BERTH_PORT_RANGE must look like 20000-29999`);
  return [lo, hi];
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const [lo, hi] = portRangeFrom(env);
  const dataDir = path.resolve(env.BERTH_DATA_DIR ?? DEFAULT_DATA_DIR);
  const domain = env.BERTH_DOMAIN ?? 'localhost';
  return {
    dataDir,
    secretsKeyFile: path.resolve(env.BERTH_SECRETS_KEY_FILE || path.join(dataDir, 'secrets.key')),
    // Plain HTTP stays on loopback; the network reaches the API through Caddy (apiHostName), over TLS.
    apiHost: env.BERTH_API_HOST || '127.0.0.1',
    apiPort: int(env, 'BERTH_API_PORT', 7070),
    apiHostName: (env.BERTH_API_HOST_NAME ?? `berth.${domain}`).trim().toLowerCase(),
    domain,
    // A unix socket only root reaches (scripts/up.sh): no app or container can talk to Caddy's admin API.
    caddyAdmin: (env.BERTH_CADDY_ADMIN || 'unix:/run/berth/caddy-admin.sock').replace(/\/$/, ''),
    acme: acmeSettings(env),
    httpPort: int(env, 'BERTH_HTTP_PORT', 80),
    httpsPort: int(env, 'BERTH_HTTPS_PORT', 443),
    registry: env.BERTH_REGISTRY ?? '127.0.0.1:5000',
    dockerSocket: env.BERTH_DOCKER_SOCKET ?? '/var/run/docker.sock',
    maxInstancesPerProcess: int(env, 'BERTH_MAX_INSTANCES', 10),
    portRange: [lo, hi],
    healthTimeoutSec: int(env, 'BERTH_HEALTH_TIMEOUT', 60),
    drainSec: int(env, 'BERTH_DRAIN_SECONDS', 3),
    stopTimeoutSec: int(env, 'BERTH_STOP_TIMEOUT', 10),
    routeVia: routeVia(env.BERTH_ROUTE_VIA),
    dnsPort: int(env, 'BERTH_DNS_PORT', 5354),
    dnsDir: env.BERTH_DNS_DIR || null,
    networkSubnet: env.BERTH_NETWORK_SUBNET || 'auto', // auto: the first free /16 from 10.213.0.0
    networkHolders: env.BERTH_NETWORK_HOLDERS !== '0',
    networkHoldersIdleSec: Math.max(1, int(env, 'BERTH_NETWORK_HOLDERS_IDLE', 600)),
    pidsLimit: Math.max(16, int(env, 'BERTH_PIDS_LIMIT', 512)),
    oneOffMemoryMB: Math.max(16, int(env, 'BERTH_ONEOFF_MEMORY_MB', 512)),
    imageAllow: (env.BERTH_IMAGE_ALLOW ?? '').split(',').map((glob) => glob.trim()).filter(Boolean),
    maxBodyBytes: int(env, 'BERTH_MAX_BODY_BYTES', 1024 * 1024),
    maxPushBytes: int(env, 'BERTH_MAX_PUSH_MB', 512) * 1024 * 1024,
    buildTimeoutSec: int(env, 'BERTH_BUILD_TIMEOUT', 900),
    gitFetchTimeoutSec: int(env, 'BERTH_GIT_FETCH_TIMEOUT', 300),
    buildConcurrency: Math.max(1, int(env, 'BERTH_BUILD_CONCURRENCY', 2)),
    releaseCommandTimeoutSec: int(env, 'BERTH_RELEASE_TIMEOUT', 600),
    keepReleaseImages: Math.max(1, int(env, 'BERTH_KEEP_RELEASES', 5)),
    maxReviewApps: int(env, 'BERTH_MAX_REVIEW_APPS', 10),
    reviewSweepSec: Math.max(1, int(env, 'BERTH_REVIEW_SWEEP_SECONDS', 60)),
    // Local images made by scripts/base-images.sh, so a fresh install builds offline; point these at
    // Docker Hub images (node:24-bookworm-slim, python:3.12-slim, golang:1.23, debian:bookworm-slim)
    // where the internet is reachable.
    stacks: {
      node: env.BERTH_STACK_NODE ?? 'berth/node:24',
      python: env.BERTH_STACK_PYTHON ?? 'berth/python:3',
      go: env.BERTH_STACK_GO ?? 'berth/go:1',
      static: env.BERTH_STACK_STATIC ?? 'berth/node:24',
      generic: env.BERTH_STACK_GENERIC ?? 'berth/debian:bookworm',
    },
    buildCaFile: defaultBuildCa(env),
    logRetentionDays: int(env, 'BERTH_LOG_RETENTION_DAYS', 7),
    logMaxBytesPerApp: int(env, 'BERTH_LOG_MAX_MB_PER_APP', 256) * 1024 * 1024,
    webhookAllow: parseAllowList(env.BERTH_WEBHOOK_ALLOW),
    backupS3: s3BackupSettingsFrom(env),
  };
}
