// The Router implemented with Caddy's admin API. Every change is a targeted edit of one
// object (addressed by its @id); Caddy's full-config /load is used only on an empty Caddy.
import { isDeepStrictEqual } from 'node:util';
import type { AppRoute, Router } from '../types.ts';
import { CaddyAdminClient, CaddyAdminError, adminListenAddress } from './admin-client.ts';
import {
  ACCESS_LOGGER_NAME, ACCESS_LOG_ID, CATCH_ALL_ID, INTERNAL_TLS_POLICY_ID, ROUTES_PATH, SERVER_PATH, buildAccessLog, buildServerLogs,
  appRouteId, buildAppRoutes, buildBaseApps, buildCatchAllRoute, buildHttpApp, buildInternalTlsPolicy,
  buildOnDemandSettings, buildPkiApp, buildServer, buildTlsApp, internalNamesOf, joinAppRoutes, listenAddresses, normalizeRoute, parseAppRoute,
  routeInPlace, routeInsertIndex, wildcardRouteId,
} from './config.ts';
import { API_ROUTE_ID, buildApiRoute } from './config.ts';
import type { ApiRoute, BaseOptions, CaddyRoute, CaddyServer, TlsPolicy } from './config.ts';
import {
  ACME_TLS_POLICY_ID, CERTIFICATE_LOG_ID, acmeNamesOf, buildAcmeTlsPolicy, buildCertificateLog, buildLoadFiles, buildRedirectRoute,
  isBerthLoadFile, redirectRouteId,
} from './tls-config.ts';
import type { AcmeSettings, CustomCertificate } from './tls-config.ts';
import { certificateStatuses, type CertificateStatus } from './certificate-status.ts';

export interface CaddyRouterOptions extends BaseOptions {
  adminUrl: string;        // unix:/run/berth/caddy-admin.sock, or e.g. http://127.0.0.1:2019
  timeoutMs?: number;      // per admin API request
  accessLogFile?: string;  // JSON access log of Berth's server written here (src/router/caddy/access-log.ts reads it)
  api?: ApiRoute;          // Berth's own API served on a hostname, with TLS; absent: none (and an old one is removed)
  /** Where names outside Caddy's internal CA get certificates; absent: Caddy's own defaults decide. */
  acme?: AcmeSettings;
  /** Caddy writes certificate issuance events here (JSON lines); certificateStatus() reads them. */
  certificateLogFile?: string;
  /** Apps whose plain HTTP requests are redirected to HTTPS (apps:https --redirect on). */
  redirectsHttp?: (app: string) => boolean;
  /** Teams' own certificates (certs:add), with the names each covers: those names get no ACME certificate. */
  customCertificates?: () => Array<CustomCertificate & { names: string[] }>;
}

type JsonObject = Record<string, unknown>;

export class CaddyRouter implements Router {
  readonly #client: CaddyAdminClient;
  readonly #base: BaseOptions;
  readonly #adminListen: string;
  readonly #accessLogFile: string | null;
  readonly #api: ApiRoute | null;
  readonly #acme: AcmeSettings | null;
  readonly #certificateLogFile: string | null;
  readonly #redirectsHttp: (app: string) => boolean;
  readonly #customCertificates: () => Array<CustomCertificate & { names: string[] }>;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: CaddyRouterOptions) {
    this.#client = new CaddyAdminClient(opts.adminUrl, { timeoutMs: opts.timeoutMs });
    this.#base = { httpPort: opts.httpPort, httpsPort: opts.httpsPort, listenHost: opts.listenHost, internalTls: opts.internalTls };
    this.#adminListen = adminListenAddress(opts.adminUrl);
    this.#accessLogFile = opts.accessLogFile ?? null;
    this.#api = opts.api ?? null;
    this.#acme = opts.acme ?? null;
    this.#certificateLogFile = opts.certificateLogFile ?? null;
    this.#redirectsHttp = opts.redirectsHttp ?? (() => false);
    this.#customCertificates = opts.customCertificates ?? (() => []);
  }

  ensureBase(): Promise<void> {
    return this.#exclusive(async () => {
      await this.#ensureBase();
      await this.#ensureApiRoute();
      if (this.#accessLogFile) await this.#ensureAccessLog(this.#accessLogFile);
      if (this.#certificateLogFile) await this.#ensureCertificateLog(this.#certificateLogFile);
      await this.#syncCustomCertificates();
    });
  }

  /** Loads the teams' own certificates as customCertificates() lists them now, and moves their names off ACME. */
  syncCustomCertificates(): Promise<void> {
    return this.#exclusive(() => this.#syncCustomCertificates());
  }

  async #syncCustomCertificates(): Promise<void> {
    const current = await this.#client.getOrNull<Array<Record<string, unknown>>>('/config/apps/tls/certificates/load_files');
    const desired = [...(current ?? []).filter((e) => !isBerthLoadFile(e)), ...buildLoadFiles(this.#customCertificates())];
    if (!isDeepStrictEqual(current ?? [], desired)) {
      // Names leave the ACME policy before their certificate arrives, or Caddy would start an order for them.
      await this.#syncTlsPolicy(await this.#readAppRoutes());
      const certificates = await this.#client.getOrNull('/config/apps/tls/certificates');
      if (certificates === null) await this.#client.post('/config/apps/tls/certificates', { load_files: desired });
      else if (current === null) await this.#client.post('/config/apps/tls/certificates/load_files', desired);
      else await this.#client.patch('/config/apps/tls/certificates/load_files', desired);
    }
    await this.#syncTlsPolicy(await this.#readAppRoutes());
  }

  /** Where each name's certificate stands: what Caddy serves for it, else what its certificate log last said. */
  certificateStatus(hostnames: string[]): Promise<CertificateStatus[]> {
    return certificateStatuses(hostnames, {
      host: this.#base.listenHost || '127.0.0.1', httpsPort: this.#base.httpsPort, logFile: this.#certificateLogFile,
      acmeNames: new Set(this.#acmeNames(hostnames, true)),
      customNames: new Set(this.#customCertificates().flatMap((c) => c.names)),
    });
  }

  /** Applies the app's redirect setting (redirectsHttp) to its route now, e.g. after apps:https. */
  refreshRedirect(app: string): Promise<void> {
    return this.#exclusive(async () => {
      const route = (await this.#readAppRoutes()).find((r) => r.app === app);
      await this.#syncRedirect(app, route?.hostnames ?? []);
    });
  }

  /** The API's route among the base routes, placed by specificity like an app's, its name in the TLS policy. */
  async #ensureApiRoute(): Promise<void> {
    const previous = await this.#client.getOrNull<CaddyRoute>(`/id/${API_ROUTE_ID}`);
    if (!this.#api) {
      if (previous) await this.#client.deleteIfExists(`/id/${API_ROUTE_ID}`);
      return;
    }
    const route = buildApiRoute(this.#api, this.#base.httpsPort);
    if (!isDeepStrictEqual(previous, route)) await this.#placeRoute(route, previous);
    await this.#syncTlsPolicy(await this.#readAppRoutes());
  }

  setRoute(route: AppRoute): Promise<void> {
    const normalized = normalizeRoute(route);
    return this.#exclusive(() => this.#setRoute(normalized));
  }

  removeRoute(app: string): Promise<void> {
    return this.#exclusive(() => this.#removeRoute(app));
  }

  listRoutes(): Promise<AppRoute[]> {
    return this.#exclusive(() => this.#readAppRoutes());
  }

  // Read-then-write sequences must not interleave, or two inserts could duplicate an @id.
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const attempt = () => retryTransient(task);
    const run = this.#queue.then(attempt, attempt);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #ensureBase(): Promise<void> {
    const root = await this.#client.get<JsonObject | null>('/config/');
    if (!root?.apps) {
      // Nothing configured: one /load, keeping admin/logging/storage settings as they are.
      const admin = root?.admin ?? { listen: this.#adminListen };
      await this.#client.load({ ...root, admin, apps: buildBaseApps(this.#base) });
      return;
    }
    await this.#ensureHttpServer();
    await this.#ensureCatchAllLast();
    if ((await this.#client.get('/config/apps/pki')) === null) await this.#client.post('/config/apps/pki', buildPkiApp());
    await this.#syncTlsPolicy(await this.#readAppRoutes());
    if ((await this.#client.get('/config/apps/tls/automation/on_demand')) === null) {
      await this.#client.post('/config/apps/tls/automation/on_demand', buildOnDemandSettings());
    }
  }

  /** Access logging of Berth's server into its own log; kept out of Caddy's default (stderr) log. */
  async #ensureAccessLog(file: string): Promise<void> {
    if (!isDeepStrictEqual(await this.#client.get(`${SERVER_PATH}/logs`), buildServerLogs())) {
      await this.#client.post(`${SERVER_PATH}/logs`, buildServerLogs());
    }
    const logging = await this.#client.get<{ logs?: Record<string, { exclude?: string[] }> } | null>('/config/logging');
    const wanted = buildAccessLog(file);
    if (logging === null) {
      await this.#client.post('/config/logging', { logs: { default: { exclude: [ACCESS_LOGGER_NAME] }, [ACCESS_LOG_ID]: wanted } });
      return;
    }
    if (!logging.logs) return this.#client.post('/config/logging/logs', { default: { exclude: [ACCESS_LOGGER_NAME] }, [ACCESS_LOG_ID]: wanted });
    if (!isDeepStrictEqual(logging.logs[ACCESS_LOG_ID], wanted)) await this.#client.post(`/config/logging/logs/${ACCESS_LOG_ID}`, wanted);
    const defaultLog = logging.logs.default;
    if (!defaultLog) await this.#client.post('/config/logging/logs/default', { exclude: [ACCESS_LOGGER_NAME] });
    else if (!defaultLog.exclude?.includes(ACCESS_LOGGER_NAME)) {
      await this.#client.post('/config/logging/logs/default', { ...defaultLog, exclude: [...(defaultLog.exclude ?? []), ACCESS_LOGGER_NAME] });
    }
  }

  async #ensureHttpServer(): Promise<void> {
    const http = await this.#client.get<JsonObject | null>('/config/apps/http');
    if (http === null) return this.#client.post('/config/apps/http', buildHttpApp(this.#base));
    if (http.http_port !== this.#base.httpPort) await this.#client.post('/config/apps/http/http_port', this.#base.httpPort);
    if (http.https_port !== this.#base.httpsPort) await this.#client.post('/config/apps/http/https_port', this.#base.httpsPort);
    const servers = http.servers as Record<string, CaddyServer> | undefined;
    if (!servers) return this.#client.post('/config/apps/http/servers', { berth: buildServer(this.#base) });
    const server = servers.berth;
    if (!server) return this.#client.post(SERVER_PATH, buildServer(this.#base));
    const listen = listenAddresses(this.#base);
    // PATCH replaces; POST on an existing array would append to it.
    if (!isDeepStrictEqual(server.listen, listen)) await this.#client.patch(`${SERVER_PATH}/listen`, listen);
    if (server.automatic_https?.disable_redirects !== true) {
      await this.#client.post(`${SERVER_PATH}/automatic_https`, { ...server.automatic_https, disable_redirects: true });
    }
  }

  async #ensureCatchAllLast(): Promise<void> {
    const routes = await this.#client.get<CaddyRoute[] | null>(ROUTES_PATH);
    const catchAll = buildCatchAllRoute();
    if (routes === null) return this.#client.post(ROUTES_PATH, [catchAll]);
    if (isDeepStrictEqual(routes.at(-1), catchAll) && routes.filter(isCatchAll).length === 1) return;
    // One replace of the route list, so there is never a moment without a catch-all.
    await this.#client.patch(ROUTES_PATH, [...routes.filter((r) => !isCatchAll(r)), catchAll]);
  }

  async #setRoute(route: AppRoute): Promise<void> {
    const parts = buildAppRoutes(route);
    const previous = await Promise.all(parts.map((p) => this.#client.getOrNull<CaddyRoute>(`/id/${p.id}`)));
    const previousHosts = previous.flatMap((r) => r?.match?.[0]?.host ?? []);
    if (!isDeepStrictEqual(this.#internalNames(previousHosts), this.#internalNames(route.hostnames))
      || !isDeepStrictEqual(this.#acmeNames(previousHosts), this.#acmeNames(route.hostnames))) {
      // Policy first: certificates for new names must come from the internal CA from the start.
      const others = (await this.#readAppRoutes()).filter((r) => r.app !== route.app);
      await this.#syncTlsPolicy([...others, route]);
    }
    for (const [i, part] of parts.entries()) {
      // An unchanged route is not written: a release on a stable upstream changes nothing in Caddy.
      if (part.route) { if (!isDeepStrictEqual(previous[i], part.route)) await this.#placeRoute(part.route, previous[i] ?? null); }
      else if (previous[i]) await this.#client.deleteIfExists(`/id/${part.id}`);
    }
    await this.#syncRedirect(route.app, route.hostnames);
  }

  /**
   * The app's redirect route: its exact names (each has a certificate: internal, ACME or the team's own),
   * right before the app's own route so it sees plain HTTP requests first. Other apps' routes match other
   * names, so only this order matters.
   */
  async #syncRedirect(app: string, hostnames: string[]): Promise<void> {
    const id = redirectRouteId(app);
    const exact = hostnames.filter((h) => !h.startsWith('*.'));
    const wanted = this.#redirectsHttp(app) ? buildRedirectRoute(app, exact, this.#base.httpsPort) : null;
    const routes = (await this.#client.getOrNull<CaddyRoute[]>(ROUTES_PATH)) ?? [];
    const at = routes.findIndex((r) => r['@id'] === id);
    if (!wanted) {
      if (at !== -1) await this.#client.deleteIfExists(`/id/${id}`);
      return;
    }
    const appAt = routes.findIndex((r) => r['@id'] === appRouteId(app));
    if (at !== -1 && isDeepStrictEqual(routes[at], wanted) && (appAt === -1 || at < appAt)) return;
    const others = routes.filter((r) => r['@id'] !== id);
    const before = others.findIndex((r) => r['@id'] === appRouteId(app));
    const index = before === -1 ? routeInsertIndex(others, wanted) : before;
    // One replace of the list (or an insert), so the app's route never goes without its redirect in front.
    if (at === -1) return this.#client.put(`${ROUTES_PATH}/${index}`, wanted);
    await this.#client.patch(ROUTES_PATH, [...others.slice(0, index), wanted, ...others.slice(index)]);
  }

  /**
   * Puts a route where its specificity says (exact names before wildcards, more labels first), never
   * by insertion order: a new route is inserted at that index; a changed one is edited in place, or,
   * if its names now belong elsewhere, the route list is replaced once with it moved (no moment without it).
   */
  async #placeRoute(route: CaddyRoute, previous: CaddyRoute | null): Promise<void> {
    const id = route['@id']!;
    const routes = await this.#client.getOrNull<CaddyRoute[]>(ROUTES_PATH);
    if (routes === null) {
      // Berth's server is gone (e.g. Caddy restarted without --resume): recreate it, then insert.
      await this.#ensureBase();
      return this.#client.put(`${ROUTES_PATH}/0`, route);
    }
    const at = previous ? routes.findIndex((r) => r['@id'] === id) : -1;
    if (at === -1) return this.#client.put(`${ROUTES_PATH}/${routeInsertIndex(routes, route)}`, route); // PUT on an index inserts there
    const updated = routes.with(at, route);
    if (routeInPlace(updated, at)) return this.#client.patch(`/id/${id}`, route);
    const others = routes.filter((_, i) => i !== at);
    const index = routeInsertIndex(others, route);
    await this.#client.patch(ROUTES_PATH, [...others.slice(0, index), route, ...others.slice(index)]);
  }

  async #removeRoute(app: string): Promise<void> {
    const ids = [appRouteId(app), wildcardRouteId(app), redirectRouteId(app)];
    const previous = await Promise.all(ids.map((id) => this.#client.getOrNull<CaddyRoute>(`/id/${id}`)));
    if (previous.every((r) => r === null)) return;
    // Duplicate @ids can only come from writers outside this process; remove them all (bounded).
    for (const id of ids) for (let i = 0; i < 10 && (await this.#client.deleteIfExists(`/id/${id}`)); i++);
    const hosts = previous.flatMap((r) => r?.match?.[0]?.host ?? []);
    if (this.#internalNames(hosts).length > 0 || this.#acmeNames(hosts).length > 0) await this.#syncTlsPolicy(await this.#readAppRoutes());
  }

  async #readAppRoutes(): Promise<AppRoute[]> {
    const routes = (await this.#client.getOrNull<CaddyRoute[]>(ROUTES_PATH)) ?? [];
    return joinAppRoutes(routes.map(parseAppRoute).filter((r): r is AppRoute => r !== null));
  }

  /** Makes the internal-CA policy list exactly the internal names of the given routes (edits only that policy). */
  async #syncTlsPolicy(routes: AppRoute[]): Promise<void> {
    const ownNames = this.#api ? [this.#api.hostname] : [];
    const desired = buildInternalTlsPolicy(this.#internalNames([...routes.flatMap((r) => r.hostnames), ...ownNames]));
    const current = await this.#client.getOrNull<TlsPolicy>(`/id/${INTERNAL_TLS_POLICY_ID}`);
    if (current === null) await this.#insertTlsPolicy(desired);
    else if (!isDeepStrictEqual(current, desired)) await this.#client.patch(`/id/${INTERNAL_TLS_POLICY_ID}`, desired);
    await this.#syncAcmePolicy(this.#acmeNames([...routes.flatMap((r) => r.hostnames), ...ownNames]));
  }

  /** The ACME policy lists exactly these names (none: no policy, since one without subjects would match every name). */
  async #syncAcmePolicy(names: string[]): Promise<void> {
    if (!this.#acme) return;
    const desired = buildAcmeTlsPolicy(names, this.#acme, this.#base);
    const current = await this.#client.getOrNull<TlsPolicy>(`/id/${ACME_TLS_POLICY_ID}`);
    if (desired === null) {
      if (current !== null) await this.#client.deleteIfExists(`/id/${ACME_TLS_POLICY_ID}`);
      return;
    }
    // First, like the internal policy (Caddy takes the first policy matching a name; the two never share one).
    if (current === null) return this.#client.put('/config/apps/tls/automation/policies/0', desired);
    if (!isDeepStrictEqual(current, desired)) await this.#client.patch(`/id/${ACME_TLS_POLICY_ID}`, desired);
  }

  #internalNames(hostnames: string[]): string[] {
    return internalNamesOf(hostnames, this.#base.internalTls);
  }

  /** Names the ACME policy lists (with `evenWithoutAcme`: that Caddy's defaults would get a public certificate for). */
  #acmeNames(hostnames: string[], evenWithoutAcme = false): string[] {
    if (!this.#acme && !evenWithoutAcme) return [];
    const custom = new Set(this.#customCertificates().flatMap((c) => c.names));
    return acmeNamesOf(hostnames, this.#base.internalTls).filter((name) => !custom.has(name));
  }

  /** Certificate events into their own file, as the access log; Caddy's default log keeps them too. */
  async #ensureCertificateLog(file: string): Promise<void> {
    const wanted = buildCertificateLog(file);
    const current = await this.#client.getOrNull(`/config/logging/logs/${CERTIFICATE_LOG_ID}`);
    if (isDeepStrictEqual(current, wanted)) return;
    const logging = await this.#client.get<{ logs?: unknown } | null>('/config/logging');
    if (logging === null) return this.#client.post('/config/logging', { logs: { [CERTIFICATE_LOG_ID]: wanted } });
    if (!logging.logs) return this.#client.post('/config/logging/logs', { [CERTIFICATE_LOG_ID]: wanted });
    await this.#client.post(`/config/logging/logs/${CERTIFICATE_LOG_ID}`, wanted);
  }

  async #insertTlsPolicy(policy: TlsPolicy): Promise<void> {
    const tls = await this.#client.get<{ automation?: { policies?: unknown[] } } | null>('/config/apps/tls');
    if (tls === null) return this.#client.post('/config/apps/tls', buildTlsApp(policy));
    if (!tls.automation) return this.#client.post('/config/apps/tls/automation', { policies: [policy] });
    if (!tls.automation.policies) return this.#client.post('/config/apps/tls/automation/policies', [policy]);
    // First, because Caddy uses the first policy whose subjects match a name.
    await this.#client.put('/config/apps/tls/automation/policies/0', policy);
  }
}

const RETRY_DELAYS_MS = [50, 200, 500];

/**
 * Failures worth one more try, seen with Caddy 2.6: a connection reset when Caddy swaps its admin
 * server (right after the first change following startup), and a reload failing while certificates
 * issued in the background are still being written ("managing certificates ... decoding certificate
 * metadata"). Caddy keeps the previous config when a reload fails.
 */
function isTransient(err: unknown): boolean {
  if (!(err instanceof CaddyAdminError)) return false;
  return err.connectionLost || (err.status >= 500 && /managing certificates/.test(err.caddyMessage));
}

/** Every operation reads before it writes, so running it again converges instead of applying a change twice. */
async function retryTransient<T>(task: () => Promise<T>): Promise<T> {
  for (const delay of RETRY_DELAYS_MS) {
    try {
      return await task();
    } catch (err) {
      if (!isTransient(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  return task();
}

function isCatchAll(route: CaddyRoute): boolean {
  return route['@id'] === CATCH_ALL_ID;
}
