// The data services Berth runs (addons:create): per kind, the offline image (scripts/base-images.sh), the port,
// the config var it sets, the environment its entrypoint reads credentials from, the URL an app connects
// with, and the client `addons:connect` runs inside the service. Pure: no Docker, no database.
import { BerthError } from '../shared/errors.ts';

export const ADDON_KINDS = ['postgres', 'redis', 'mysql'] as const;
export type AddonKind = (typeof ADDON_KINDS)[number];

/** What the entrypoint is given; `database` is empty for Redis. */
export interface AddonCredentials { user: string; password: string; database: string }

export interface KindSpec {
  image: string;
  port: number;
  /** The config var addons:create sets on the app. */
  defaultVar: string;
  /** URL schemes an app's driver accepts for this kind (the first is the one Berth writes). */
  schemes: string[];
  env(credentials: AddonCredentials): Record<string, string>;
  /** The interactive client, run in the service's container (its env holds the password). */
  client: string[];
}

export const KINDS: Record<AddonKind, KindSpec> = {
  postgres: {
    image: 'berth/postgres:15', port: 5432, defaultVar: 'DATABASE_URL', schemes: ['postgres', 'postgresql'],
    env: (c) => ({ POSTGRES_USER: c.user, POSTGRES_PASSWORD: c.password, POSTGRES_DB: c.database }),
    client: ['/bin/sh', '-c', 'exec psql -h /tmp -U "$POSTGRES_USER" "$POSTGRES_DB"'],
  },
  redis: {
    image: 'berth/redis:7', port: 6379, defaultVar: 'REDIS_URL', schemes: ['redis', 'rediss'],
    env: (c) => ({ REDIS_PASSWORD: c.password }),
    client: ['/bin/sh', '-c', 'REDISCLI_AUTH="$REDIS_PASSWORD" exec redis-cli'],
  },
  mysql: {
    image: 'berth/mariadb:10', port: 3306, defaultVar: 'MYSQL_URL', schemes: ['mysql', 'mariadb'],
    env: (c) => ({ MYSQL_USER: c.user, MYSQL_PASSWORD: c.password, MYSQL_DATABASE: c.database }),
    client: ['/bin/sh', '-c', 'MYSQL_PWD="$MYSQL_PASSWORD" exec mariadb --protocol=tcp -h 127.0.0.1 -u "$MYSQL_USER" "$MYSQL_DATABASE"'],
  },
};

export function checkKind(kind: unknown): AddonKind {
  if (typeof kind === 'string' && (ADDON_KINDS as readonly string[]).includes(kind)) return kind as AddonKind;
  throw new BerthError(422, 'unknown_kind', `Unknown add-on kind ${JSON.stringify(kind)}: the kinds are ${ADDON_KINDS.join(', ')}.`);
}

/** Add-on names reach Docker (container and volume names) and URLs: lowercase, digits, dashes. */
export const ADDON_NAME = /^[a-z][a-z0-9-]{1,39}$/;

export function checkAddonName(name: unknown): string {
  if (typeof name === 'string' && ADDON_NAME.test(name) && !name.endsWith('-')) return name;
  throw new BerthError(422, 'invalid_name', 'An add-on name is 2-40 lowercase letters, digits and dashes, starting with a letter.');
}

/** The name addons:create picks without --name: "shop-postgres", shortened to fit. */
export function defaultAddonName(app: string, kind: AddonKind): string {
  return `${app.slice(0, 39 - kind.length)}-${kind}`.replace(/-+/g, '-');
}

export const DEFAULT_SIZE_MB = 512;
const MIN_SIZE_MB = 128;
const MAX_SIZE_MB = 64 * 1024;

/** "--size 1G" / "512M" / "768" (MB): the service's memory limit. */
export function parseSize(size: unknown): number {
  if (size === undefined || size === null || size === '') return DEFAULT_SIZE_MB;
  const m = typeof size === 'string' ? /^(\d{1,6})([mg]?)b?$/i.exec(size.trim()) : null;
  const mb = m ? Number(m[1]) * (m[2]!.toLowerCase() === 'g' ? 1024 : 1) : typeof size === 'number' && Number.isInteger(size) ? size : NaN;
  if (!(mb >= MIN_SIZE_MB && mb <= MAX_SIZE_MB)) {
    throw new BerthError(422, 'invalid_size', `An add-on size is between ${MIN_SIZE_MB}M and ${MAX_SIZE_MB / 1024}G (like 512M or 1G).`);
  }
  return mb;
}

/** The URL an app connects with: the service's address on that app's network. */
export function serviceUrl(kind: AddonKind, credentials: AddonCredentials, host: string): string {
  const spec = KINDS[kind];
  const auth = kind === 'redis' ? `:${encodeURIComponent(credentials.password)}` : `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}`;
  const path = kind === 'redis' ? '/0' : `/${encodeURIComponent(credentials.database)}`;
  return `${spec.schemes[0]}://${auth}@${host}:${spec.port}${path}`;
}

/** The password of a URL replaced by asterisks (addons:info without --reveal). */
export function maskedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '********';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

/** An outside service's URL (addons:attach --url): a known scheme, a host; any kind's scheme is fine. */
export function checkOutsideUrl(raw: unknown): { url: string; kind: AddonKind } {
  let parsed: URL | null = null;
  try { parsed = typeof raw === 'string' && raw.length <= 2048 ? new URL(raw) : null; } catch { parsed = null; }
  if (!parsed || !parsed.hostname) throw new BerthError(422, 'invalid_url', 'Give the outside service as a URL, like postgres://user:password@db.example:5432/name.');
  const scheme = parsed.protocol.replace(/:$/, '');
  const kind = ADDON_KINDS.find((k) => KINDS[k].schemes.includes(scheme));
  if (!kind) {
    const known = ADDON_KINDS.flatMap((k) => KINDS[k].schemes).join(', ');
    throw new BerthError(422, 'unknown_scheme', `Unknown URL scheme "${scheme}": the schemes are ${known}.`);
  }
  return { url: raw as string, kind };
}
