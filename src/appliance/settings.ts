// Where `berth up` and `berth upgrade` put things and what the server is started with: scripts/lib.sh's
// layout, decided from the environment and the settings saved by an earlier run (berth.env), so the
// executable and the scripts agree on every path, pid file and setting.
import path from 'node:path';
import { KUBELET_SETTINGS } from '../hosts/kubelet/settings.ts';

/** The variables the server reads (src/config.ts, src/server, src/state), saved in berth.env in this order. */
export const SERVER_SETTINGS = [
  'BERTH_DATA_DIR', 'BERTH_API_HOST', 'BERTH_API_PORT', 'BERTH_DOMAIN', 'BERTH_CADDY_ADMIN', 'BERTH_HTTP_PORT',
  'BERTH_HTTPS_PORT', 'BERTH_REGISTRY', 'BERTH_DOCKER_SOCKET', 'BERTH_MAX_INSTANCES', 'BERTH_PORT_RANGE',
  'BERTH_HEALTH_TIMEOUT', 'BERTH_DRAIN_SECONDS', 'BERTH_STOP_TIMEOUT', 'BERTH_MAX_BODY_BYTES',
  'BERTH_PUBLIC_URL', 'BERTH_SQLITE_BINDING', 'BERTH_REGISTRY_ADVERTISE',
  'K3S_BINARY', 'BERTH_LOG_RETENTION_DAYS', 'BERTH_LOG_MAX_MB_PER_APP', 'BERTH_METRICS_TOKEN',
  'BERTH_STACK_NODE', 'BERTH_STACK_STATIC', 'BERTH_STACK_GENERIC', 'BERTH_STACK_PYTHON', 'BERTH_STACK_GO',
  'BERTH_WEBHOOK_ALLOW',
  'BERTH_API_HOST_NAME', 'BERTH_SECRETS_KEY_FILE',
  'BERTH_BACKUP_S3_ENDPOINT', 'BERTH_BACKUP_S3_BUCKET', 'BERTH_BACKUP_S3_REGION', 'BERTH_BACKUP_S3_ACCESS_KEY_ID',
  'BERTH_BACKUP_S3_SECRET_ACCESS_KEY', 'BERTH_BACKUP_S3_PREFIX',
  // hosts:add --role kubelet (src/hosts/kubelet/settings.ts)
  ...Object.values(KUBELET_SETTINGS).map((s) => s.env),
] as const;

export const REGISTRY_ADDR = '127.0.0.1:5000';

export interface Appliance {
  etcDir: string;
  envFile: string;
  dataDir: string;
  logDir: string;
  runDir: string;
  /** The installed executable: the CLI on PATH, and what the server's unit runs. */
  executable: string;
  docker: string;
  caddyAdminSock: string;
  /** Every BERTH_* setting in force (environment over berth.env over defaults). */
  env: Record<string, string>;
  /** berth.env's text: the server's settings, one KEY=VALUE a line. */
  serverEnvText: string;
  apiUrl: string;
  healthUrl: string;
  apiTlsUrl: string;
}

/** KEY=VALUE lines of berth.env (as systemd's EnvironmentFile reads them, without quoting). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    const key = line.slice(0, Math.max(eq, 0));
    if (/^[A-Z][A-Z0-9_]*$/.test(key)) out[key] = line.slice(eq + 1);
  }
  return out;
}

const isBerthKey = (key: string) => /^BERTH_[A-Z_]+$/.test(key);

/** The API as reached from this machine: loopback unless the server listens on one address only. */
export function localApiUrl(host: string, port: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return `http://127.0.0.1:${port}`;
  if (host.includes(':')) return `http://[${host.replace(/[[\]]/g, '')}]:${port}`;
  return `http://${host}:${port}`;
}

/**
 * env: this process's environment; savedText: berth.env from an earlier run (or null). The environment wins
 * over the file and the file over the defaults, so `BERTH_DOMAIN=example.com berth up` sticks for later runs.
 */
export function resolveAppliance(env: NodeJS.ProcessEnv, savedText: string | null): Appliance {
  const etcDir = env.BERTH_ETC_DIR || '/etc/berth';
  // Only BERTH_* keys of the file count, as lib.sh's load_saved_settings reads it.
  const merged = Object.fromEntries(Object.entries(parseEnvFile(savedText ?? '')).filter(([key]) => isBerthKey(key)));
  for (const [key, value] of Object.entries(env)) if (isBerthKey(key) && value !== undefined) merged[key] = value;
  merged.BERTH_DATA_DIR ||= '/var/lib/berth';
  merged.BERTH_LOG_DIR ||= '/var/log/berth';
  merged.BERTH_RUN_DIR ||= '/run/berth';
  merged.BERTH_API_PORT ||= '7070';
  const caddyAdminSock = path.join(merged.BERTH_RUN_DIR, 'caddy-admin.sock');
  // The Caddy started here is reached on its admin socket; an address set by hand to another Caddy is kept,
  // the old default (TCP port 2019, reachable from every container) is not.
  if (['', 'http://127.0.0.1:2019', 'http://localhost:2019'].includes(merged.BERTH_CADDY_ADMIN ?? '')) {
    merged.BERTH_CADDY_ADMIN = `unix:${caddyAdminSock}`;
  }
  const serverEnv: Record<string, string | undefined> = { ...merged, K3S_BINARY: env.K3S_BINARY };
  const serverEnvText = SERVER_SETTINGS.filter((key) => serverEnv[key] !== undefined)
    .map((key) => `${key}=${serverEnv[key]}\n`).join('');
  const apiUrl = localApiUrl(merged.BERTH_API_HOST || '127.0.0.1', merged.BERTH_API_PORT);
  const httpsPort = merged.BERTH_HTTPS_PORT || '443';
  const tlsHost = merged.BERTH_API_HOST_NAME ?? `berth.${merged.BERTH_DOMAIN || 'localhost'}`;
  return {
    etcDir,
    envFile: path.join(etcDir, 'berth.env'),
    dataDir: merged.BERTH_DATA_DIR,
    logDir: merged.BERTH_LOG_DIR,
    runDir: merged.BERTH_RUN_DIR,
    executable: merged.BERTH_EXECUTABLE || '/usr/local/bin/berth',
    docker: env.DOCKER || '/usr/bin/docker',
    caddyAdminSock,
    env: merged,
    serverEnvText,
    apiUrl,
    healthUrl: `${apiUrl}/api/v1/health`,
    apiTlsUrl: `https://${tlsHost}${httpsPort === '443' ? '' : `:${httpsPort}`}`,
  };
}
