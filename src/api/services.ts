// What the API routes are given: the stores, the release engine and the runtime, wired in server/main.ts.
import type { AppsStore } from '../state/apps-store.ts';
import type { ReleasesStore } from '../state/releases-store.ts';
import type { AuthStore } from '../state/auth-store.ts';
import type { BuildsStore } from '../state/builds-store.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { Schedulers } from '../scheduler/schedulers.ts';
import type { ViewContext } from './views.ts';
import type { HostsService } from '../hosts/service.ts';
import type { AccessStore } from '../state/access-store.ts';
import type { AuditStore } from '../state/audit-store.ts';
import type { SessionsStore } from '../state/sessions-store.ts';
import type { ConfigSecrets } from '../state/config-secrets.ts';
import type { MetricsStore } from '../metrics/store.ts';
import type { AlertsStore } from '../alerts/store.ts';
import type { AlertEngine } from '../alerts/engine.ts';
import type { OutboundGuard } from '../shared/outbound-request.ts';
import type { LogStore } from '../logstore/store.ts';
import type { ImagePolicySettings } from '../security/image-policy.ts';
import type { HttpsStore } from '../state/https-store.ts';
import type { CertificateStatus } from '../wire/types.ts';
import type { BackupService } from '../backup/service.ts';
import type { ReviewApps } from '../pipeline/review-apps.ts';
import type { CanaryStore } from '../canary/store.ts';
import type { CanaryController } from '../canary/controller.ts';
import type { AutoscaleService } from '../autoscale/service.ts';

/** Real HTTPS for apps' names: the certificates Caddy holds and the per-app redirect (src/router/caddy). */
export interface HttpsService {
  settings: HttpsStore;
  /** Each name's certificate, in the order given. */
  certificateStatus(hostnames: string[]): Promise<CertificateStatus[]>;
  /** Applies the app's stored redirect setting to its route. */
  refreshRedirect(app: string): Promise<void>;
  /** Loads the stored certificates (certs:add) into the router as they are now. */
  syncCertificates(): Promise<void>;
}

export interface Services {
  apps: AppsStore;
  releases: ReleasesStore;
  auth: AuthStore;
  builds: BuildsStore;
  access: AccessStore;
  audit: AuditStore;
  sessions: SessionsStore;
  /** The key config values are sealed with (admin:rotate-key); absent in setups that never rotate. */
  secrets?: ConfigSecrets;
  deployer: Deployer;
  /** Every scheduler, and which one runs which app. */
  schedulers: Schedulers;
  /** Machines besides the local engine (hosts:add); absent in setups that only ever use the local engine. */
  hosts?: HostsService;
  metrics: MetricsStore;
  alerts: { store: AlertsStore; engine: AlertEngine; guard: OutboundGuard };
  /** BERTH_METRICS_TOKEN: a bearer token that opens GET /metrics only (besides admins' tokens). */
  metricsToken: string | null;
  /** The persistent app logs (src/logstore); absent: /logs serves only the engine's live tail. */
  logStore?: LogStore;
  view: ViewContext;
  /** Which images members may deploy (src/security/image-policy.ts); absent: their own app's loopback-registry images only. */
  images?: ImagePolicySettings;
  /** Review apps (apps:reviews); absent in setups without the git push pipeline. */
  reviewApps?: ReviewApps;
  /** Certificates and redirects; absent in setups without a router that manages certificates. */
  https?: HttpsService;
  /** Berth's own backup, restore and integrity check (admin:backup/restore/check); absent: not offered. */
  backup?: BackupService;
  /** ps:autoscale; absent: no autoscaler, ps:scale sets counts as given. */
  autoscale?: AutoscaleService;
  /** What owns an app's config var (an add-on, an outside service binding): config:set/unset of it is refused. */
  configOwners?: (appId: number, key: string) => string | null;
  /** Canary releases (src/canary); absent: deploys never start one. */
  canaries?: { store: CanaryStore; controller: CanaryController };
  maxBodyBytes: number;
  version: string;
  log: (line: string) => void;
}
