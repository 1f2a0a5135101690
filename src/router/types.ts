// The router contract: how Berth tells the HTTP edge where each app's instances are.
// Caddy (src/router/caddy) implements it through its admin API.

export interface Upstream { host: string; port: number }

export interface AppRoute {
  app: string;
  hostnames: string[];          // APP.<domain> plus custom domains
  upstreams: Upstream[];        // empty: the app answers 503 "no instance running"
}

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
