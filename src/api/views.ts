// How state looks on the wire (docs/api.md). Kept apart so routes stay about behaviour.
import type { Instance } from '../runtime/types.ts';
import type { AppRow } from '../state/apps-store.ts';
import type { ReleaseRow } from '../state/releases-store.ts';
import type { FormationEntry } from '../state/schema.ts';
import type { App, Formation, Instance as InstanceWire, Release } from '../wire/types.ts';

export interface ViewContext {
  domain: string;
  httpsPort: number;
  httpPort: number;
  /** The API's address as users reach it (BERTH_PUBLIC_URL); null: the address of the request. */
  publicUrl: string | null;
  /** The hostname Caddy serves the API on (BERTH_API_HOST_NAME): Berth's, never an app's. */
  apiHostName?: string;
}

export function appUrl(name: string, ctx: ViewContext): string {
  const port = ctx.httpPort === 80 ? '' : `:${ctx.httpPort}`;
  return `http://${name}.${ctx.domain}${port}/`;
}

export function appStatus(app: AppRow, formation: FormationEntry[], instances: Instance[], lastRelease: ReleaseRow | undefined): App['status'] {
  if (app.deployingRelease !== null) return 'deploying';
  if (app.currentRelease === null) return lastRelease?.status === 'failed' ? 'failed' : 'new';
  if (app.stopped) return 'stopped';
  if (formation.every((f) => f.quantity === 0)) return 'stopped';
  const current = instances.filter((i) => i.release === app.currentRelease);
  if (current.length && current.every((i) => i.state === 'running')) return 'running';
  return current.some((i) => i.state === 'running') ? 'degraded' : 'crashed';
}

export function appView(app: AppRow, extra: {
  domains: string[]; instances: Instance[]; formation: FormationEntry[]; lastRelease?: ReleaseRow; requestOrigin: string;
  review?: Pick<App, 'reviews' | 'reviewOf'>;
}, ctx: ViewContext): App {
  return {
    name: app.name,
    url: appUrl(app.name, ctx),
    gitUrl: `${ctx.publicUrl ?? extra.requestOrigin}/git/${app.name}.git`,
    deployBranch: app.deployBranch,
    scheduler: app.scheduler as App['scheduler'],
    status: appStatus(app, extra.formation, extra.instances, extra.lastRelease),
    currentRelease: app.currentRelease,
    instances: extra.instances.filter((i) => i.state === 'running').length,
    domains: extra.domains,
    createdAt: app.createdAt,
    lastDeployAt: app.lastDeployAt,
    maintenance: app.maintenance,
    reviews: extra.review?.reviews ?? null,
    reviewOf: extra.review?.reviewOf ?? null,
  };
}

/** Which config keys a release added, removed or changed the value of, against the release before it (keys only, never values). */
export function configChanges(config: Record<string, string>, previous: Record<string, string> | undefined) {
  const before = previous ?? {};
  const keys = Object.keys(config);
  return {
    added: keys.filter((k) => !(k in before)).sort(),
    removed: Object.keys(before).filter((k) => !(k in config)).sort(),
    changed: keys.filter((k) => k in before && before[k] !== config[k]).sort(),
  };
}

/** `previous` is the release numbered one before (none for v1: every key counts as added). */
export function releaseView(r: ReleaseRow, currentVersion: number | null, previous: ReleaseRow | undefined): Release {
  return {
    version: r.version,
    status: r.status as Release['status'],
    description: r.description,
    image: r.imageRef,
    imageId: r.imageId,
    imageDigest: r.imageDigest,
    port: r.containerPort ?? 5000,
    configKeys: Object.keys(r.config),
    configChanges: configChanges(r.config, previous?.config),
    formation: r.formation.map(formationView),
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    failureReason: r.failureReason,
    current: r.version === currentVersion,
  };
}

export function formationView(f: FormationEntry): Formation {
  return { type: f.type, quantity: f.quantity, memoryMB: f.memoryMB, cpus: f.cpus, command: f.command };
}

export function instanceView(i: Instance): InstanceWire {
  return {
    name: `${i.process}.${i.index}`, type: i.process, index: i.index, release: i.release, state: i.state,
    host: i.host, hostName: i.hostName ?? 'local', hostPort: i.hostPort, memoryMB: i.memoryMB, cpus: i.cpus,
    startedAt: i.startedAt, restartCount: i.restartCount, containerId: i.id,
  };
}
