// What the API routes are given: the stores, the release engine and the runtime, wired in server/main.ts.
import type { AppsStore } from '../state/apps-store.ts';
import type { ReleasesStore } from '../state/releases-store.ts';
import type { AuthStore } from '../state/auth-store.ts';
import type { BuildsStore } from '../state/builds-store.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { Runtime } from '../runtime/types.ts';
import type { ViewContext } from './views.ts';

export interface Services {
  apps: AppsStore;
  releases: ReleasesStore;
  auth: AuthStore;
  builds: BuildsStore;
  deployer: Deployer;
  runtime: Runtime;
  view: ViewContext;
  maxBodyBytes: number;
  version: string;
  log: (line: string) => void;
}
