// The log store and what feeds it, as one unit for the server to start and stop.
import path from 'node:path';
import { LogCollector, type InstanceSource } from './collector.ts';
import { LogStore } from './store.ts';
import { collectRouterLog, type RouterLogOptions } from './router-log.ts';
import type { AccessLogTail } from '../router/caddy/access-log.ts';
import type { AppEvents } from '../lifecycle/app-events.ts';
import { AppLogKeys, appLogKey, type AppDirectory } from './app-keys.ts';
import { migrateNameDirs } from './name-dirs.ts';

export interface LogServiceOptions {
  dataDir: string;
  retentionDays: number;
  maxBytesPerApp: number;
  /** Where instances and their logs come from: every scheduler (src/scheduler/schedulers.ts). */
  runtime: InstanceSource;
  log: (line: string) => void;
  /** Lines are stored under their app's id: the apps by name, and their lifecycle (a destroyed app's log is removed). */
  apps: AppDirectory;
  events: AppEvents;
  /** Caddy's access log of Berth's server, with what maps its hosts to apps; absent: no router lines. */
  router?: Omit<RouterLogOptions, 'store' | 'stateDir' | 'keys'>;
  /** Sees every instance line as it is stored. */
  onLine?: (app: string, text: string, tsMs: number) => void;
}

export interface LogService {
  store: LogStore;
  collector: LogCollector;
  /** Router requests per app as they are read: `routerAccess?.onAccess((entry) => ...)`. */
  routerAccess: AccessLogTail | null;
  start(): void;
  /** Stops collecting and writes everything; positions are saved, so the next start continues seamlessly. */
  close(): Promise<void>;
}

/** Where Caddy writes the access log Berth reads (the router is configured with it before the service starts). */
export function accessLogPath(dataDir: string): string {
  return path.join(dataDir, 'logs', '.router', 'access.log');
}

export function createLogService(opts: LogServiceOptions): LogService {
  const dir = path.join(opts.dataDir, 'logs');
  const moved = migrateNameDirs(dir, opts.apps);
  if (moved.renamed.length || moved.removed.length) {
    opts.log(`log store: keyed by app id now; ${moved.renamed.length} app log(s) moved, ${moved.removed.length} of destroyed apps removed`);
  }
  const store = new LogStore({
    dir, retentionDays: opts.retentionDays, maxBytesPerApp: opts.maxBytesPerApp,
    onError: (err) => opts.log(`log store: ${err.message}`),
  });
  const keys = new AppLogKeys(opts.apps);
  opts.events.on('created', (event) => keys.changed(event));
  // Stored by id, the log goes with a renamed app; only the name → id cache must forget both names.
  opts.events.on('renamed', (event) => {
    keys.changed(event);
    keys.changed({ ...event, app: event.from });
  });
  // A destroyed app leaves no stored lines behind; a new app of its name gets a new id, so an empty log.
  opts.events.on('destroyed', async (event) => {
    keys.changed(event);
    await store.remove(appLogKey(event.appId));
  });
  // Start events of every engine (with several hosts, the runtime itself has none) drive discovery.
  const collector = new LogCollector({ runtime: opts.runtime, store, keys, stateDir: dir, log: opts.log, onLine: opts.onLine });
  const routerLog = opts.router ? collectRouterLog({ ...opts.router, store, keys, stateDir: dir }) : null;
  return {
    store,
    collector,
    routerAccess: routerLog?.tail ?? null,
    start: () => { collector.start(); },
    close: async () => {
      routerLog?.close();
      await collector.close();
      await store.close();
    },
  };
}
