// Pure builders for the pieces of Caddy JSON config Berth owns, and the reverse mapping.
// Everything Berth creates carries an "@id" so it can be addressed with /id/<id>.
import type { AppRoute, CanaryRoute, MaintenancePage, NamedUpstream, Upstream } from '../types.ts';
import { DNS_REFRESH_MS } from '../dnsmasq/address-book.ts';
import { buildCanarySplit, parseCanarySplit } from './canary-split.ts';

export const SERVER_NAME = 'berth';
export const SERVER_PATH = `/config/apps/http/servers/${SERVER_NAME}`;
export const ROUTES_PATH = `${SERVER_PATH}/routes`;
export const CATCH_ALL_ID = 'berth-catch-all';
export const INTERNAL_TLS_POLICY_ID = 'berth-internal-tls';
export const API_ROUTE_ID = 'berth-api';
const APP_ROUTE_PREFIX = 'berth-app-';
// An app's wildcard names get a route of their own, placed after every exact name (see routeSpecificity).
const WILDCARD_ROUTE_PREFIX = 'berth-wildcard-';

/** Caddy names the server's access logger http.log.access.<default_logger_name>; Berth's log writer includes just it. */
export const ACCESS_LOGGER = 'berth';
export const ACCESS_LOG_ID = 'berth_access';
export const ACCESS_LOGGER_NAME = `http.log.access.${ACCESS_LOGGER}`;

export const CATCH_ALL_BODY = 'No Berth app is configured for this hostname.';
export const noInstanceBody = (app: string): string => `No instance of ${app} is running.`;

export interface BaseOptions {
  httpPort: number;
  httpsPort: number;
  listenHost?: string;     // e.g. 127.0.0.1; all interfaces when absent
  internalTls?: boolean;   // every name gets a certificate from Caddy's internal CA
}

// Loose shapes: only the fields Berth reads or writes.
export type CaddyHandler = Record<string, unknown> & { handler: string };
export interface CaddyRoute {
  '@id'?: string;
  match?: Array<{ host?: string[]; protocol?: string }>;
  handle?: CaddyHandler[];
  terminal?: boolean;
}
export interface CaddyServer {
  listen: string[];
  automatic_https?: { disable_redirects?: boolean };
  routes?: CaddyRoute[];
}
export interface TlsPolicy {
  '@id'?: string;
  subjects?: string[];
  issuers?: Array<{ module: string }>;
  on_demand?: boolean;
  disable_ocsp_stapling?: boolean;
}

export const appRouteId = (app: string): string => APP_ROUTE_PREFIX + app;
export const wildcardRouteId = (app: string): string => WILDCARD_ROUTE_PREFIX + app;

export function appFromRouteId(id: unknown): string | null {
  if (typeof id !== 'string') return null;
  const prefix = [APP_ROUTE_PREFIX, WILDCARD_ROUTE_PREFIX].find((p) => id.startsWith(p));
  return prefix === undefined ? null : id.slice(prefix.length);
}

export function listenAddresses(opts: BaseOptions): string[] {
  const host = opts.listenHost ?? '';
  return [`${host}:${opts.httpPort}`, `${host}:${opts.httpsPort}`];
}

/**
 * One server for both ports: Caddy serves plain HTTP on the listener whose port equals
 * apps.http.http_port and TLS on the others. Redirects are off so plain HTTP keeps working.
 */
export function buildServer(opts: BaseOptions): CaddyServer {
  return { listen: listenAddresses(opts), automatic_https: { disable_redirects: true }, routes: [buildCatchAllRoute()] };
}

/** Without it Caddy answers unknown hosts with an empty 200, which looks like a broken app. */
export function buildCatchAllRoute(): CaddyRoute {
  return { '@id': CATCH_ALL_ID, handle: [textResponse(404, CATCH_ALL_BODY)], terminal: true };
}

export function buildHttpApp(opts: BaseOptions): Record<string, unknown> {
  return { http_port: opts.httpPort, https_port: opts.httpsPort, servers: { [SERVER_NAME]: buildServer(opts) } };
}

/** A router must not edit the host's trust store as a side effect; `caddy trust` does it on request. */
export function buildPkiApp(): Record<string, unknown> {
  return { certificate_authorities: { local: { install_trust: false } } };
}

export function buildTlsApp(policy: TlsPolicy): Record<string, unknown> {
  return { automation: { on_demand: buildOnDemandSettings(), policies: [policy] } };
}

/**
 * Caddy 2.6 warns on every reload when on-demand TLS has neither `ask` nor a rate limit. The
 * policy's explicit subjects are the real protection, so this generous limit only ends the false alarm.
 */
export function buildOnDemandSettings(): Record<string, unknown> {
  return { rate_limit: { interval: '1s', burst: 1000 } };
}

/** All apps Berth needs, for a Caddy that has none configured yet. */
export function buildBaseApps(opts: BaseOptions): Record<string, unknown> {
  return { http: buildHttpApp(opts), tls: buildTlsApp(buildInternalTlsPolicy([])), pki: buildPkiApp() };
}

export function isInternalHostname(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost');
}

/**
 * Always with explicit subjects: a policy without subjects would apply to every name,
 * including sites of the user's own servers. "localhost" keeps the list from ever being empty.
 *
 * On demand: certificates come at the first TLS handshake, not at config load. Otherwise every
 * reload loads each certificate from storage (~0.2 ms per name), and in Caddy 2.6 a reload that
 * reads a certificate still being written in the background fails and leaves that failed config's
 * server running next to the good one. Only the listed subjects qualify, so no arbitrary SNI.
 */
export function buildInternalTlsPolicy(names: string[]): TlsPolicy {
  return {
    '@id': INTERNAL_TLS_POLICY_ID,
    subjects: sortedUnique(['localhost', ...names]),
    issuers: [{ module: 'internal' }],
    on_demand: true,
    // The internal CA has no OCSP responder: stapling would only log a warning per certificate.
    disable_ocsp_stapling: true,
  };
}

/** The names that get certificates from the internal CA: *.localhost, or all of them with internalTls. */
export function internalNamesOf(hostnames: string[], internalTls = false): string[] {
  return sortedUnique(internalTls ? hostnames : hostnames.filter(isInternalHostname));
}

export function normalizeRoute(route: AppRoute): AppRoute {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(route.app)) throw new Error(`invalid app name for a route: "${route.app}"`);
  const hostnames = sortedUnique(route.hostnames.map((h) => h.trim().toLowerCase()).filter(Boolean));
  // An empty host matcher would be dropped by Caddy and the route would then match every host.
  if (hostnames.length === 0) throw new Error(`route for app ${route.app} needs at least one hostname`);
  const upstreams = route.upstreams.map((u) => ({ host: u.host, port: u.port }));
  const maintenance = route.maintenance ? { maintenance: { contentType: route.maintenance.contentType, body: route.maintenance.body } } : {};
  const canary = route.canary ? { canary: normalizeCanary(route.canary) } : {};
  if (!route.named) return { app: route.app, hostnames, upstreams, ...(route.balancesConnections ? { balancesConnections: true } : {}), ...maintenance, ...canary };
  return { app: route.app, hostnames, upstreams: [], named: { name: route.named.name, port: route.named.port, resolver: route.named.resolver }, ...maintenance, ...canary };
}

function normalizeCanary(c: CanaryRoute): CanaryRoute {
  return {
    version: c.version, weight: Math.min(100, Math.max(0, Math.round(c.weight))),
    header: c.header ? { name: c.header.name, value: c.header.value } : null,
    cookie: c.cookie ? { name: c.cookie.name, value: c.cookie.value } : null,
    sticky: !!c.sticky, upstreams: c.upstreams.map((u) => ({ host: u.host, port: u.port })),
  };
}

/**
 * The Caddy routes of one app: its exact names, and its wildcard names (if any) in a second route, so
 * that every exact name of every app can come before any wildcard (Caddy takes the first matching route).
 */
export function buildAppRoutes(route: AppRoute): Array<{ id: string; route: CaddyRoute | null }> {
  const wildcards = route.hostnames.filter(isWildcard);
  const exact = route.hostnames.filter((h) => !isWildcard(h));
  const part = (id: string, hostnames: string[]) => ({ id, route: hostnames.length ? { ...buildAppRoute({ ...route, hostnames }), '@id': id } : null });
  return [part(appRouteId(route.app), exact), part(wildcardRouteId(route.app), wildcards)];
}

export function buildAppRoute(route: AppRoute): CaddyRoute {
  return {
    '@id': appRouteId(route.app),
    match: [{ host: [...route.hostnames] }],
    handle: [
      // The maintenance page answers first; the proxy behind it is kept, so maintenance:off needs no deploy.
      ...(route.maintenance ? [maintenanceResponse(route.maintenance)] : []),
      ...withCanary(route, route.named ? reverseProxy(route.named) : route.upstreams.length > 0 ? reverseProxy(route.upstreams, route.balancesConnections) : textResponse(503, noInstanceBody(route.app))),
    ],
    terminal: true,
  };
}

/** The stable handler alone, or the split between it and the canary's instances (a canary without any: the stable alone). */
function withCanary(route: AppRoute, stable: CaddyHandler): CaddyHandler[] {
  if (!route.canary?.upstreams.length) return [stable];
  return buildCanarySplit(route.canary, stable, reverseProxy(route.canary.upstreams, route.balancesConnections));
}

const MAINTENANCE_HEADER = 'X-Berth-Maintenance';

function maintenanceResponse(page: MaintenancePage): CaddyHandler {
  return { handler: 'static_response', status_code: 503, headers: { 'Content-Type': [page.contentType], 'Retry-After': ['60'], [MAINTENANCE_HEADER]: ['on'] }, body: page.body };
}

/** The maintenance page a route's first handler is, or null. */
function parseMaintenance(handler: CaddyHandler | undefined): MaintenancePage | null {
  const headers = handler?.handler === 'static_response' ? handler.headers as Record<string, string[]> | undefined : undefined;
  if (!headers?.[MAINTENANCE_HEADER]) return null;
  return { contentType: headers['Content-Type']?.[0] ?? 'text/plain; charset=utf-8', body: String(handler!.body ?? '') };
}

/** A fixed list of instances, or a name Caddy resolves every DNS_REFRESH_MS (the schedulers' stable upstream). */
function reverseProxy(to: Upstream[] | NamedUpstream, balancesConnections = false): CaddyHandler {
  const targets = Array.isArray(to)
    ? { upstreams: to.map((u) => ({ dial: formatDial(u) })) }
    : {
      dynamic_upstreams: {
        source: 'a', name: to.name, port: String(to.port), refresh: `${DNS_REFRESH_MS}ms`, resolver: { addresses: [`udp/${to.resolver}`] },
      },
    };
  return {
    handler: 'reverse_proxy',
    ...targets,
    // A new connection per request lets a NodePort's per-connection balancing see each request (a release
    // reaches traffic as soon as kube-proxy has the new pod, not when the old one exits).
    ...(balancesConnections ? { transport: { protocol: 'http', keep_alive: { enabled: false } } } : {}),
    // Retrying for a few seconds hides an instance that just went away during a deploy.
    load_balancing: { selection_policy: { policy: 'round_robin' }, try_duration: '5s', try_interval: '250ms' },
    health_checks: { passive: { fail_duration: '10s', max_fails: 1 } },
  };
}

function textResponse(status: number, body: string): CaddyHandler {
  return {
    handler: 'static_response',
    status_code: status,
    headers: { 'Content-Type': ['text/plain; charset=utf-8'] },
    body,
  };
}

/** Berth's own API, console and git, served by Caddy on a hostname of its own (BERTH_API_HOST_NAME). */
export interface ApiRoute {
  hostname: string;
  upstream: Upstream;   // where the API listens itself, on loopback
}

/**
 * The API's route: TLS only (plain HTTP on that name gets a redirect, so no token or cookie travels in
 * clear), proxied to the loopback listener without buffering, so git's streamed push and pull, the
 * build log and the server-sent events arrive as they are written. A route of exact names, so the
 * specificity order puts it before every wildcard.
 */
export function buildApiRoute(api: ApiRoute, httpsPort: number): CaddyRoute {
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  return {
    '@id': API_ROUTE_ID,
    match: [{ host: [api.hostname.toLowerCase()] }],
    handle: [{
      handler: 'subroute',
      routes: [
        {
          match: [{ protocol: 'http' }],
          handle: [{ handler: 'static_response', status_code: 308, headers: { Location: [`https://{http.request.host}${port}{http.request.uri}`] } }],
        },
        { handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: formatDial(api.upstream) }], flush_interval: -1 }] },
      ],
    }],
    terminal: true,
  };
}

/** Reads back a route Berth wrote; null for routes that are not Berth app routes. */
export function parseAppRoute(raw: CaddyRoute): AppRoute | null {
  const app = appFromRouteId(raw['@id']);
  if (app === null) return null;
  const hostnames = raw.match?.[0]?.host ?? [];
  const maintenance = parseMaintenance(raw.handle?.[0]);
  if (maintenance) return { ...parseAppRoute({ ...raw, handle: raw.handle!.slice(1) })!, maintenance };
  const split = raw.handle?.length ? parseCanarySplit(raw.handle, proxyUpstreams) : null;
  if (split) return { ...parseAppRoute({ ...raw, handle: [split.stable] })!, canary: split.canary };
  const handler = raw.handle?.[0];
  const upstreams = proxyUpstreams(handler);
  const transport = handler?.handler === 'reverse_proxy' ? handler.transport as { keep_alive?: { enabled?: boolean } } | undefined : undefined;
  const dynamic = handler?.handler === 'reverse_proxy' ? handler.dynamic_upstreams as { name?: string; port?: string; resolver?: { addresses?: string[] } } | undefined : undefined;
  if (dynamic?.name && dynamic.port) {
    const named = { name: dynamic.name, port: Number(dynamic.port), resolver: (dynamic.resolver?.addresses?.[0] ?? '').replace(/^udp\//, '') };
    return { app, hostnames: [...hostnames], upstreams, named };
  }
  if (transport?.keep_alive?.enabled === false) return { app, hostnames: [...hostnames], upstreams, balancesConnections: true };
  return { app, hostnames: [...hostnames], upstreams };
}

function proxyUpstreams(handler: CaddyHandler | undefined): Upstream[] {
  const dials = handler?.handler === 'reverse_proxy' ? (handler.upstreams as Array<{ dial?: string }> | undefined) ?? [] : [];
  return dials.flatMap((u) => (typeof u.dial === 'string' ? [parseDial(u.dial)] : []));
}

/** The routes parseAppRoute read back, one per app: an app's exact and wildcard routes joined. */
export function joinAppRoutes(parts: AppRoute[]): AppRoute[] {
  const byApp = new Map<string, AppRoute>();
  for (const part of parts) {
    const seen = byApp.get(part.app);
    if (!seen) byApp.set(part.app, { ...part, hostnames: [...part.hostnames] });
    else {
      seen.hostnames.push(...part.hostnames);
      if (seen.upstreams.length === 0) seen.upstreams = part.upstreams;
      if (!seen.named && part.named) seen.named = part.named;
      if (part.balancesConnections) seen.balancesConnections = true;
      if (part.maintenance) seen.maintenance = part.maintenance;
      if (!seen.canary && part.canary) seen.canary = part.canary;
    }
  }
  return [...byApp.values()];
}

const isWildcard = (hostname: string): boolean => hostname.startsWith('*.');

/**
 * How specific a route's host matcher is, as a sort key (smaller first): routes of exact names before
 * routes with a wildcard, then more labels first, judged by the route's least specific name. A route
 * without a host matcher matches every host and goes last.
 */
export function routeSpecificity(route: CaddyRoute): [number, number] {
  const hosts = route.match?.[0]?.host ?? [];
  if (hosts.length === 0) return [2, 0];
  return [hosts.some(isWildcard) ? 1 : 0, -Math.min(...hosts.map((h) => h.split('.').length))];
}

/** Negative when `a` must come before `b`, 0 when either order routes every request the same. */
export function compareSpecificity(a: CaddyRoute, b: CaddyRoute): number {
  const rank = (r: CaddyRoute) => (r['@id'] === CATCH_ALL_ID ? [3, 0] : routeSpecificity(r));
  const [ga, la] = rank(a);
  const [gb, lb] = rank(b);
  return ga - gb || la - lb;
}

/** Where `route` goes in `routes` (which must not contain it): before the first route that is not more specific. */
export function routeInsertIndex(routes: readonly CaddyRoute[], route: CaddyRoute): number {
  const at = routes.findIndex((r) => compareSpecificity(r, route) >= 0);
  return at === -1 ? routes.length : at;
}

/** True when the route at `at` may stay there: nothing before it is less specific, nothing after it more. */
export function routeInPlace(routes: readonly CaddyRoute[], at: number): boolean {
  const route = routes[at]!;
  return routes.every((r, i) => i === at || (i < at ? compareSpecificity(r, route) <= 0 : compareSpecificity(r, route) >= 0));
}

export function formatDial(u: Upstream): string {
  return u.host.includes(':') ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`;
}

export function parseDial(dial: string): Upstream {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(dial);
  if (!m) throw new Error(`unexpected upstream address in Caddy config: "${dial}"`);
  return { host: m[1], port: Number(m[2]) };
}

export function sameStringSet(a: readonly string[], b: readonly string[]): boolean {
  const x = sortedUnique(a);
  const y = sortedUnique(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** The server's `logs` setting that turns its access log on. */
export function buildServerLogs(): Record<string, unknown> {
  return { default_logger_name: ACCESS_LOGGER };
}

/**
 * The logging.logs entry writing the access log as JSON lines to a file Berth tails. Caddy rolls it
 * (rename, then a new file); the tail finishes a renamed file before it moves on, so a roll loses nothing.
 */
export function buildAccessLog(file: string): Record<string, unknown> {
  return {
    writer: { output: 'file', filename: file, roll_size_mb: 64, roll_keep: 2, roll_keep_days: 2 },
    encoder: { format: 'json' },
    include: [ACCESS_LOGGER_NAME],
  };
}
