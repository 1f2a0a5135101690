// What the Kubernetes scheduler asks the cluster for, decided without talking to it: the Deployment of each
// process type, the app's config Secret (every live release's values), the web Service, a canary's Deployment and
// Service, the Job of a one-off. Pure builders,
// so every field is unit-tested (test/scheduler/k8s-manifests.test.ts) and the executor (index.ts) only applies them.
import { createHash } from 'node:crypto';
import type { V1Deployment, V1EnvVar, V1Job, V1PodDisruptionBudget, V1ResourceRequirements, V1Secret, V1Service, V1Toleration, V1TopologySpreadConstraint } from '@kubernetes/client-node';
import type { FormationEntry } from '../../state/schema.ts';
import type { CanaryToRun, DeployRequest, OneOffRequest, ReleaseToRun } from '../types.ts';
import { DEFAULT_CONTAINER_PORT, shellCommand } from '../../releases/converge.ts';
import { NO_NODE_SELECTION, selectionSpec, type NodeSelection } from './node-selection.ts';

/** Kubernetes expands $(VAR) in a container's command, and $$ is its escape: the argv reaches the process as given. */
export const literal = (arg: string) => arg.replaceAll('$', '$$$$');

export const LABEL = {
  managed: 'berth.managed',   // on app instances only (Deployment pods), never on one-offs
  owner: 'berth.owner',       // the Berth installation: several may share a cluster (and a namespace)
  app: 'berth.app',
  process: 'berth.process',
  release: 'berth.release',
  oneoff: 'berth.oneoff',
  /**
   * On a canary's pods (value: the process type, web) instead of berth.process: the web Service, the web Deployment's
   * selector and early admission select berth.process=web, and must never pick a canary's pod.
   */
  canary: 'berth.canary',
} as const;

/** The process type of a pod from its labels: berth.process, or the type a canary's pod stands in for. */
export const processOfLabels = (labels: Record<string, string>): string => labels[LABEL.process] ?? labels[LABEL.canary] ?? '';

export const ANNOTATION = {
  generation: 'berth.generation', // bumped by ps:restart: a changed pod template rolls every pod
} as const;

/** The one container of every pod Berth makes (logs and exec address it by name). */
export const CONTAINER = 'app';
/** The web container's port name: the Service targets the name, so a release with another PORT changes no Service. */
export const WEB_PORT_NAME = 'http';
const SERVICE_PORT = 80;
/** Old ReplicaSets kept per Deployment; Berth undoes a failed rollout from the template it read, not from these. */
const REVISION_HISTORY = 2;

export interface ManifestSettings {
  owner: string;
  /** Seconds a terminating pod keeps serving (preStop) while the Service stops sending it connections. */
  drainSec: number;
  /** Seconds between SIGTERM and SIGKILL, after the drain. */
  stopTimeoutSec: number;
  /** The nodes app pods may run on (BERTH_K8S_NODE_SELECTOR, BERTH_K8S_TOLERATIONS); default: any. */
  selection?: NodeSelection;
}

const SPEC_HASH = 'berth.spec-hash';

/** The desired object with a hash of itself: an unchanged formation entry is recognised without diffing server defaults. */
export function withSpecHash(deployment: V1Deployment): V1Deployment {
  const hash = createHash('sha256').update(JSON.stringify(deployment)).digest('hex').slice(0, 16);
  return { ...deployment, metadata: { ...deployment.metadata, annotations: { ...deployment.metadata?.annotations, [SPEC_HASH]: hash } } };
}

/** True when the Deployment read from the cluster was made from the same desired object (withSpecHash). */
export const sameSpec = (current: V1Deployment | null | undefined, desired: V1Deployment): boolean =>
  current?.metadata?.annotations?.[SPEC_HASH] !== undefined && current.metadata.annotations[SPEC_HASH] === desired.metadata?.annotations?.[SPEC_HASH];

/** `APP-TYPE`, a DNS label. Process types may hold `_`, which names can't: those get a short hash so `a_b` and `a-b` stay apart. */
export function deploymentName(app: string, processType: string): string {
  if (!processType.includes('_')) return `${app}-${processType}`;
  const hash = createHash('sha256').update(processType).digest('hex').slice(0, 6);
  return `${`${app}-${processType.replaceAll('_', '-')}`.slice(0, 56).replace(/-+$/, '')}-${hash}`;
}

export const serviceName = (app: string) => deploymentName(app, 'web');
/** The canary's Deployment and its Service: `APP-web-canary` (a process type named web-canary would take it: refused). */
export const canaryName = (app: string) => `${app}-web-canary`;
/**
 * One config Secret per app, for all its releases: each release's values under `vN.KEY`. The kubelet watches a
 * Secret from the first pod that references it, so a release's new pods find it already synced; a Secret per
 * release made the kubelet start a new watch for each, which the API server may refuse for a moment (its node
 * authorizer has not yet linked the new pod to the Secret), and the pod then waited a second or more.
 */
export const configSecretName = (app: string) => `${app}-config`;
export const configKey = (version: number, key: string) => `v${version}.${key}`;
const CONFIG_KEY_VERSION = /^v(\d+)\./;
/** Set by Berth in every container: a config var of the same name never reaches it (as on Docker). */
const BERTH_SET = new Set(['PORT', 'DYNO', 'BERTH_APP', 'BERTH_RELEASE', 'BERTH_PROCESS']);

/** The label selector (`k=v,k=v`) of everything one installation runs, optionally of one app. */
export function selectorOf(owner: string, app?: string, extra: Record<string, string> = {}): string {
  const labels: Record<string, string> = { [LABEL.owner]: owner, ...(app === undefined ? {} : { [LABEL.app]: app }), ...extra };
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}

/** The release's values as keys of the app's config Secret (added to it before the release's pods start). */
export function releaseConfigData(release: ReleaseToRun): Record<string, string> {
  return Object.fromEntries(Object.entries(release.config).map(([key, value]) => [configKey(release.version, key), value]));
}

/** The app's config Secret as first created, holding one release's values. */
export function configSecretFor(app: string, release: ReleaseToRun, owner: string): V1Secret {
  return {
    apiVersion: 'v1', kind: 'Secret',
    metadata: { name: configSecretName(app), labels: { [LABEL.owner]: owner, [LABEL.app]: app } },
    type: 'Opaque',
    stringData: releaseConfigData(release),
  };
}

/**
 * Each config var of the release, read from the app's config Secret by the pod (the values never appear in the
 * pod spec, only the names). Sorted, so the same config gives the same template. Names in `except` are left out.
 */
export function configEnv(app: string, release: ReleaseToRun, except: Set<string> = BERTH_SET): V1EnvVar[] {
  return Object.keys(release.config).filter((key) => !except.has(key)).sort().map((key) => ({
    name: key, valueFrom: { secretKeyRef: { name: configSecretName(app), key: configKey(release.version, key) } },
  }));
}

/**
 * Keys of the config Secret no object needs any more: their release is not one that a ReplicaSet (the rollback
 * history included), a pod or a Job still runs or may start again. Keys Berth did not name are stale too.
 */
export function staleConfigKeys(keys: string[], liveVersions: Iterable<number>): string[] {
  const live = new Set([...liveVersions].map(String));
  return keys.filter((key) => !live.has(CONFIG_KEY_VERSION.exec(key)?.[1] ?? ''));
}

export function deploymentFor(req: DeployRequest & { release: ReleaseToRun }, entry: FormationEntry, image: string, settings: ManifestSettings): V1Deployment {
  const selector = { [LABEL.owner]: settings.owner, [LABEL.app]: req.app, [LABEL.process]: entry.type };
  return workloadFor(deploymentName(req.app, entry.type), selector, req, entry, image, settings);
}

/**
 * A canary's web process: the web Deployment of the canary's release under its own name and selector (berth.canary
 * instead of berth.process, so the app's web Service and Deployment never select its pods), with the same health
 * check, replicas, size and drain as the app's web.
 */
export function canaryDeploymentFor(req: DeployRequest & { canary: CanaryToRun }, web: FormationEntry, image: string, settings: ManifestSettings): V1Deployment {
  return workloadFor(canaryName(req.app), canarySelector(settings.owner, req.app), { ...req, release: req.canary.release }, web, image, settings);
}

const canarySelector = (owner: string, app: string) => ({ [LABEL.owner]: owner, [LABEL.app]: app, [LABEL.canary]: 'web' });

/** The canary's NodePort Service: its ready endpoints (or node port) are the canary's upstreams, beside the app's. */
export function canaryServiceFor(app: string, owner: string): V1Service {
  const selector = canarySelector(owner, app);
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: canaryName(app), labels: selector },
    spec: { type: 'NodePort', selector, ports: [{ name: WEB_PORT_NAME, port: SERVICE_PORT, targetPort: WEB_PORT_NAME, protocol: 'TCP' }] },
  };
}

/** Why a canary cannot run with this formation (its name is a process type's Deployment), or null. */
export function canaryConflict(app: string, formation: FormationEntry[]): string | null {
  const taken = formation.find((f) => deploymentName(app, f.type) === canaryName(app));
  return taken ? `the process type ${taken.type} has the name a canary's Deployment needs (${canaryName(app)}): rename it to run canaries on k3s` : null;
}

function workloadFor(name: string, selector: Record<string, string>, req: Pick<DeployRequest, 'app' | 'health'> & { release: ReleaseToRun },
  entry: FormationEntry, image: string, settings: ManifestSettings): V1Deployment {
  const { app, release } = req;
  const isWeb = entry.type === 'web';
  const port = release.containerPort ?? DEFAULT_CONTAINER_PORT;
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name, labels: { ...selector, [LABEL.managed]: '1' } },
    spec: {
      replicas: entry.quantity,
      revisionHistoryLimit: REVISION_HISTORY,
      selector: { matchLabels: selector },
      // A new pod must be Ready before an old one goes: capacity never drops below the formation.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      // A process without a port only has to stay up (the Docker scheduler waits the same second).
      minReadySeconds: isWeb ? 0 : 1,
      template: {
        metadata: {
          labels: { ...selector, [LABEL.managed]: '1', [LABEL.release]: String(release.version) },
          annotations: { [ANNOTATION.generation]: String(entry.generation) },
        },
        spec: {
          ...podBasics(settings.drainSec + settings.stopTimeoutSec),
          ...nodePlacement(selector, isWeb, settings.selection),
          containers: [{
            name: CONTAINER,
            image,
            ...(entry.command ? { command: shellCommand(entry.command).map(literal) } : {}),
            env: [
              ...configEnv(app, release),
              ...(isWeb ? [{ name: 'PORT', value: String(port) }] : []),
              // DYNO can't say web.1 (replicas are interchangeable): it names the pod, unique like Heroku's.
              { name: 'DYNO', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ...berthEnv(app, release.version, entry.type),
            ],
            ...(isWeb ? {
              ports: [{ name: WEB_PORT_NAME, containerPort: port, protocol: 'TCP' }],
              readinessProbe: {
                httpGet: { path: req.health.path, port: WEB_PORT_NAME },
                periodSeconds: 1, timeoutSeconds: 2, successThreshold: 1, failureThreshold: 3,
              },
            } : {}),
            // Kubernetes 1.24 has no sleep action: the image's own `sleep` holds the pod while endpoints update.
            // An image without it fails the hook (an event) and is stopped at once, without the drain.
            ...(settings.drainSec > 0 ? { lifecycle: { preStop: { exec: { command: ['sleep', String(settings.drainSec)] } } } } : {}),
            resources: resourcesOf(entry.memoryMB, entry.cpus),
          }],
        },
      },
    },
  };
}

/** NodePort Service of the web process: its node port is the app's stable upstream, for every release. */
export function serviceFor(app: string, owner: string): V1Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: serviceName(app), labels: { [LABEL.owner]: owner, [LABEL.app]: app } },
    spec: {
      type: 'NodePort',
      selector: { [LABEL.owner]: owner, [LABEL.app]: app, [LABEL.process]: 'web' },
      ports: [{ name: WEB_PORT_NAME, port: SERVICE_PORT, targetPort: WEB_PORT_NAME, protocol: 'TCP' }],
    },
  };
}

/** A one-off (release phase, `berth run`) as a Job of one pod that is never retried, on the nodes app pods may use. */
export function jobFor(req: OneOffRequest, image: string, name: string, owner: string, selection: NodeSelection = NO_NODE_SELECTION): V1Job {
  const labels = { [LABEL.owner]: owner, [LABEL.app]: req.app, [LABEL.release]: String(req.release.version), [LABEL.oneoff]: '1' };
  // req.env (DYNO, BERTH_PROCESS, …) wins over the defaults and the config; one entry per name.
  const byName = new Map(berthEnv(req.app, req.release.version, 'run').map((e) => [e.name, e.value ?? '']));
  for (const [name, value] of Object.entries(req.env)) byName.set(name, value);
  const env: V1EnvVar[] = [
    ...configEnv(req.app, req.release, new Set([...BERTH_SET, ...byName.keys()])),
    ...[...byName].map(([name, value]) => ({ name, value })),
  ];
  return {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: { name, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: req.timeoutSec,
      // Deleted by Berth once read; this only catches a Berth that died meanwhile.
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels },
        spec: {
          ...podBasics(0),
          ...selectionSpec(selection),
          restartPolicy: 'Never',
          containers: [{
            name: CONTAINER, image, command: req.command.map(literal),
            env,
            resources: resourcesOf(req.memoryMB, null),
          }],
        },
      },
    },
  };
}

/** Job names: the app, a purpose and a random suffix, within a DNS label's 63 characters. */
export function jobName(app: string, purpose: 'run', suffix: string): string {
  return `${app}-${purpose}-${suffix}`.slice(0, 63).replace(/-+$/, '');
}

/**
 * What every Berth pod gets: no service-account token (apps are untrusted and have no business with the
 * API), no other Services' addresses in the environment (they would leak other apps' names), and the pause
 * process as PID 1 (a shared process namespace): the app is not PID 1, so SIGTERM stops it even without a
 * handler of its own (as Docker's init does for the Docker scheduler), and zombies are reaped.
 */
function podBasics(terminationGraceSec: number) {
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    shareProcessNamespace: true,
    terminationGracePeriodSeconds: terminationGraceSec,
  };
}

function berthEnv(app: string, version: number, processType: string): V1EnvVar[] {
  return [
    { name: 'BERTH_APP', value: app },
    { name: 'BERTH_RELEASE', value: `v${version}` },
    { name: 'BERTH_PROCESS', value: processType },
  ];
}

/** ps:resize sizes as requests and limits alike: what is reserved is what may be used, as on Docker. */
export function resourcesOf(memoryMB: number | null, cpus: number | null): V1ResourceRequirements {
  const amounts: Record<string, string> = {};
  if (memoryMB !== null) amounts.memory = `${memoryMB}Mi`;
  if (cpus !== null) amounts.cpu = `${Math.max(1, Math.round(cpus * 1000))}m`;
  return Object.keys(amounts).length ? { requests: { ...amounts }, limits: { ...amounts } } : {};
}

// --- spreading over nodes and leaving a lost one ------------------------------------------------------------

/** Seconds an instance stays bound to a node that stopped answering (Kubernetes' default is 300). */
export const LOST_NODE_TOLERATION_SEC = 20;
export const HOSTNAME_TOPOLOGY = 'kubernetes.io/hostname';

/**
 * Where a Deployment's pods go: on the nodes the installation's selection allows, web pods spread over them (one
 * more on a node than on another at most, but still scheduled when there is one node), and every pod leaves a node
 * that is not-ready or unreachable after LOST_NODE_TOLERATION_SEC, so a lost node's instances run elsewhere even
 * without Berth (which replaces them sooner: hosts/nodes/lost-plan.ts).
 */
export function nodePlacement(selector: Record<string, string>, spread: boolean, selection: NodeSelection = NO_NODE_SELECTION): {
  tolerations: V1Toleration[]; nodeSelector?: Record<string, string>; topologySpreadConstraints?: V1TopologySpreadConstraint[];
} {
  const chosen = selectionSpec(selection);
  const tolerations = [...['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].map((key) => ({
    key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: LOST_NODE_TOLERATION_SEC,
  })), ...chosen.tolerations ?? []];
  const nodeSelector = chosen.nodeSelector ? { nodeSelector: chosen.nodeSelector } : {};
  if (!spread) return { tolerations, ...nodeSelector };
  return {
    tolerations, ...nodeSelector,
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: HOSTNAME_TOPOLOGY, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { ...selector } } }],
  };
}

/** The web process's disruption budget: a drain evicts one of its pods at a time (only when it runs more than one). */
export function disruptionBudgetFor(app: string, owner: string): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1', kind: 'PodDisruptionBudget',
    metadata: { name: deploymentName(app, 'web'), labels: { [LABEL.owner]: owner, [LABEL.app]: app } },
    spec: { maxUnavailable: 1, selector: { matchLabels: { [LABEL.owner]: owner, [LABEL.app]: app, [LABEL.process]: 'web' } } },
  };
}

/** Whether the app's web process gets a disruption budget: a single instance must still be evictable. */
export const wantsDisruptionBudget = (formation: FormationEntry[]): boolean =>
  formation.some((entry) => entry.type === 'web' && entry.quantity > 1);
