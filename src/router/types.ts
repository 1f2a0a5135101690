// The router contract: how Berth tells the HTTP edge where each app's instances are.
// Caddy (src/router/caddy) implements it through its admin API.

export interface Upstream { host: string; port: number }

/** A stable upstream: a DNS name whose addresses change behind it (src/router/dnsmasq), so the route doesn't. */
export interface NamedUpstream {
  name: string;                 // e.g. shop.berth.internal
  port: number;
  resolver: string;             // host:port of the DNS server that answers for the name
}

export interface AppRoute {
  app: string;
  hostnames: string[];          // APP.<domain> plus custom domains
  upstreams: Upstream[];        // empty (and no named upstream): the app answers 503 "no instance running"
  /** Set: requests go to whatever the name resolves to, and `upstreams` is empty. */
  named?: NamedUpstream;
  /**
   * The upstreams balance connections, not requests (a Kubernetes NodePort picks a pod per connection):
   * the edge opens a connection per request, or a kept-alive one would stay on the old release's pod.
   */
  balancesConnections?: boolean;
  /** Set: the app is in maintenance (maintenance:on), every request gets this 503 page; the upstreams stay for later. */
  maintenance?: MaintenancePage;
  /** Set: a canary release runs beside the stable one and gets the requests its routing picks (src/router/caddy/canary-split.ts). */
  canary?: CanaryRoute;
}

/** Which requests a canary gets: the gray matches first, then sticky clients, then `weight` % of the rest. */
export interface CanaryRouting {
  /** The canary's release; sticky clients' cookie names it, so a later canary starts from a fresh draw. */
  version: number;
  /** 0..100: the share of the other requests (0: only the gray matches). */
  weight: number;
  /** Requests with this header value go to the canary (testers first). */
  header?: { name: string; value: string } | null;
  /** Requests with this cookie value go to the canary. */
  cookie?: { name: string; value: string } | null;
  /** A client keeps the side its first request was drawn for (a cookie). */
  sticky?: boolean;
}

export interface CanaryRoute extends CanaryRouting {
  upstreams: Upstream[];
}

/** What a request to an app in maintenance gets, with status 503. */
export interface MaintenancePage { contentType: string; body: string }

export interface Router {
  /** Makes sure the edge has Berth's server and the catch-all 404; keeps existing app routes. */
  ensureBase(): Promise<void>;
  /** Creates or replaces one app's route; a targeted update, never a full reload. */
  setRoute(route: AppRoute): Promise<void>;
  /** Removes one app's route; unknown apps are not an error. */
  removeRoute(app: string): Promise<void>;
  /** Routes Berth manages now, as the edge has them. */
  listRoutes(): Promise<AppRoute[]>;
}
