// Router lines in the app logs: the tail of Caddy's access log, each request stored in its app's
// log as stream "router", Heroku style. The tail position is saved with the store's flushes, so a
// restart neither loses nor repeats requests.
import path from 'node:path';
import type { AppRoute } from '../router/types.ts';
import { AccessLogTail, HostMap, formatRouterLine, type TailPosition } from '../router/caddy/access-log.ts';
import { PositionFile } from './positions.ts';
import type { LogStore } from './store.ts';
import type { AppLogKeys } from './app-keys.ts';

export interface RouterLogOptions {
  file: string;
  store: LogStore;
  /** The store key of a request's app (its id); null: no such app now, or the line is older than it (a namesake's). */
  keys: Pick<AppLogKeys, 'forRequest'>;
  stateDir: string;
  /** The routes Berth manages (hostnames → app), re-read every few seconds. */
  routes(): Promise<AppRoute[]>;
  /** app name for APP.<domain> when that app exists: new apps are attributed before the next refresh. */
  defaultApp(host: string): string | null;
  refreshMs?: number;
}

const POSITION_KEY = 'access';

export function collectRouterLog(opts: RouterLogOptions): { tail: AccessLogTail; close(): void } {
  const hosts = new HostMap();
  const positions = new PositionFile<TailPosition>(path.join(opts.stateDir, '.router-position.json'));
  const tail = new AccessLogTail({
    file: opts.file,
    start: positions.get(POSITION_KEY) ?? null,
    appFor: (host) => hosts.appFor(host) ?? opts.defaultApp(host),
  });
  tail.onAccess((entry) => {
    const key = opts.keys.forRequest(entry.app, entry.ts);
    if (key === null) return;
    opts.store.append(key, {
      ts: entry.ts, process: 'router', instance: 'router', release: null, stream: 'router', text: formatRouterLine(entry),
    });
  });
  const stopSaving = opts.store.onFlush(() => {
    const position = tail.position();
    if (position) positions.set(POSITION_KEY, position);
    positions.save();
  });
  const refresh = () => opts.routes().then((routes) => hosts.update(routes), () => { /* the router is down: keep the last map */ });
  // Start tailing only once the map is known, so requests logged while Berth was away find their apps.
  let closed = false;
  void refresh().then(() => { if (!closed) tail.start(); });
  const timer = setInterval(refresh, opts.refreshMs ?? 5000);
  timer.unref();
  return {
    tail,
    close: () => {
      closed = true;
      clearInterval(timer);
      tail.stop();
      opts.store.flush();
      stopSaving();
    },
  };
}
