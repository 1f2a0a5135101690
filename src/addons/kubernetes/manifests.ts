// What an add-on is on the Kubernetes (k3s) scheduler, decided without talking to the cluster: a StatefulSet of
// one whose data lives on a local PersistentVolume pinned to one node (a hostPath there, bound to the add-on's
// claim only), a ClusterIP Service, its credentials in a Secret, and a NetworkPolicy that admits only the pods of
// the apps attached to it. Pure builders, unit-tested field by field (test/addons-k8s-manifests.test.ts).
// Add-on objects carry berth.addon and never berth.app or berth.managed: the scheduler's selectors (an app's
// stop, reconcile's orphans, the converger's instances) never match them.
import type {
  V1NetworkPolicy, V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1Secret, V1Service, V1StatefulSet,
} from '@kubernetes/client-node';
import type { ServiceSpec, ServiceStatus } from '../service-runtime.ts';
import { CONTAINER, LABEL } from '../../scheduler/kubernetes/manifests.ts';

export const ADDON_K8S_LABEL = { addon: 'berth.addon', kind: 'berth.addon-kind', app: 'berth.addon-app' } as const;
/** The node the add-on's data lives on (on its StatefulSet and PersistentVolume). */
export const NODE_ANNOTATION = 'berth.addon-node';
/** No provisioner has this class: the claim binds only the volume Berth made for it. */
export const STORAGE_CLASS = 'berth-addon-local';
const DATA_MOUNT = '/data';
/** A database's clean shutdown (a checkpoint) gets this long after SIGTERM. */
const STOP_GRACE_SEC = 30;
/** The nominal size of the local volume: a hostPath is not capped, the node's disk is the limit. */
const NOMINAL_CAPACITY = '10Gi';
const HOSTNAME_LABEL = 'kubernetes.io/hostname';

export interface AddonPlacement {
  owner: string;
  /** The node the data is pinned to. */
  node: { name: string; hostname: string };
  /** The add-on's data directory on that node. */
  dataDir: string;
}

/** One name for the StatefulSet, Service, Secret, claim and policy of an add-on (a DNS label: names are ≤ 40 characters). */
export const addonObjectName = (name: string): string => `addon-${name}`;
/** The StatefulSet's one pod. */
export const addonPodName = (name: string): string => `${addonObjectName(name)}-0`;
/** Volumes are cluster-wide: the installation's id keeps two installations' add-ons of one name apart. */
export const addonVolumeName = (owner: string, name: string): string => `berth-${owner}-addon-${name}`;
/** The data directory on the node: one folder per installation, one per add-on inside it. */
export const addonDataDir = (baseDir: string, owner: string, name: string): string => `${baseDir.replace(/\/+$/, '')}/${owner}/${name}`;
export const ownerDataDir = (baseDir: string, owner: string): string => `${baseDir.replace(/\/+$/, '')}/${owner}`;

export const addonSelector = (owner: string, name: string): string => `${LABEL.owner}=${owner},${ADDON_K8S_LABEL.addon}=${name}`;
/** Every add-on object of one installation. */
export const allAddonsSelector = (owner: string): string => `${LABEL.owner}=${owner},${ADDON_K8S_LABEL.addon}`;

function labelsOf(spec: Pick<ServiceSpec, 'name' | 'kind' | 'app'>, owner: string): Record<string, string> {
  return { [LABEL.owner]: owner, [ADDON_K8S_LABEL.addon]: spec.name, [ADDON_K8S_LABEL.kind]: spec.kind, [ADDON_K8S_LABEL.app]: spec.app };
}

const podLabels = (name: string, owner: string) => ({ [LABEL.owner]: owner, [ADDON_K8S_LABEL.addon]: name });

/** The first Ready node that takes pods, by name (or the one configured, if it is there): where new add-ons' data goes. */
export function pickNode(nodes: V1Node[], wanted?: string): { name: string; hostname: string } | null {
  const usable = nodes
    .filter((n) => (wanted ? n.metadata?.name === wanted : nodeReady(n) && !n.spec?.unschedulable))
    .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  const node = usable[0];
  if (!node) return null;
  return { name: node.metadata!.name!, hostname: node.metadata?.labels?.[HOSTNAME_LABEL] ?? node.metadata!.name! };
}

export const nodeReady = (node: V1Node | undefined | null): boolean =>
  node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** The local volume: a hostPath on one node, which only that node may mount, bound in advance to the add-on's claim. */
export function persistentVolumeFor(spec: ServiceSpec, placement: AddonPlacement, namespace: string): V1PersistentVolume {
  return {
    apiVersion: 'v1', kind: 'PersistentVolume',
    metadata: {
      name: addonVolumeName(placement.owner, spec.name), labels: labelsOf(spec, placement.owner),
      annotations: { [NODE_ANNOTATION]: placement.node.name },
    },
    spec: {
      capacity: { storage: NOMINAL_CAPACITY },
      accessModes: ['ReadWriteOnce'],
      // Berth deletes the data itself (removeData), only on addons:destroy.
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: STORAGE_CLASS,
      hostPath: { path: placement.dataDir, type: 'DirectoryOrCreate' },
      claimRef: { namespace, name: addonObjectName(spec.name) },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: HOSTNAME_LABEL, operator: 'In', values: [placement.node.hostname] }] }] } },
    },
  };
}

export function persistentVolumeClaimFor(spec: ServiceSpec, placement: AddonPlacement): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1', kind: 'PersistentVolumeClaim',
    metadata: { name: addonObjectName(spec.name), labels: labelsOf(spec, placement.owner) },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: STORAGE_CLASS,
      volumeName: addonVolumeName(placement.owner, spec.name),
      resources: { requests: { storage: NOMINAL_CAPACITY } },
    },
  };
}

/** The credentials the image's entrypoint reads (and addons:connect's client), never in the pod spec itself. */
export function credentialsSecretFor(spec: ServiceSpec, owner: string): V1Secret {
  return {
    apiVersion: 'v1', kind: 'Secret',
    metadata: { name: addonObjectName(spec.name), labels: labelsOf(spec, owner) },
    type: 'Opaque',
    stringData: { ...spec.env },
  };
}

/** A ClusterIP: the apps reach the service at one stable address (the test cluster has no DNS). */
export function addonServiceFor(spec: ServiceSpec, owner: string, port: number): V1Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: addonObjectName(spec.name), labels: labelsOf(spec, owner) },
    spec: {
      type: 'ClusterIP',
      selector: podLabels(spec.name, owner),
      ports: [{ name: spec.kind, port, targetPort: port, protocol: 'TCP' }],
    },
  };
}

/**
 * One replica on the pinned volume. The init container gives the fresh directory to the image's own user (the
 * owner of the image's /data), so the server never runs as root; the image's health check is the readiness probe.
 */
export function statefulSetFor(spec: ServiceSpec, placement: AddonPlacement, image: string, port: number): V1StatefulSet {
  const name = addonObjectName(spec.name);
  const selector = podLabels(spec.name, placement.owner);
  const dropAll = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  return {
    apiVersion: 'apps/v1', kind: 'StatefulSet',
    metadata: { name, labels: labelsOf(spec, placement.owner), annotations: { [NODE_ANNOTATION]: placement.node.name } },
    spec: {
      replicas: 1,
      serviceName: name,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...selector, [ADDON_K8S_LABEL.kind]: spec.kind } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          // The pause process is PID 1 and reaps; the server gets SIGTERM like any process (Docker's Init for add-ons).
          shareProcessNamespace: true,
          terminationGracePeriodSeconds: STOP_GRACE_SEC,
          initContainers: [{
            name: 'data-owner', image,
            command: ['/bin/sh', '-c', `chown "$(stat -c %u:%g ${DATA_MOUNT})" /mnt/data`],
            securityContext: { runAsUser: 0, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['CHOWN'] } },
            volumeMounts: [{ name: 'data', mountPath: '/mnt/data' }],
            resources: resources(64),
          }],
          containers: [{
            name: CONTAINER, image,
            envFrom: [{ secretRef: { name } }],
            ports: [{ name: spec.kind, containerPort: port, protocol: 'TCP' }],
            readinessProbe: { exec: { command: ['/usr/local/bin/berth-ready'] }, periodSeconds: 2, timeoutSeconds: 3, failureThreshold: 3 },
            securityContext: dropAll,
            volumeMounts: [{ name: 'data', mountPath: DATA_MOUNT }],
            resources: resources(spec.memoryMB),
          }],
          volumes: [{ name: 'data', persistentVolumeClaim: { claimName: name } }],
        },
      },
    },
  };
}

/**
 * Ingress to the service from the pods of the attached apps (their instances and one-offs), on its port only;
 * no app attached: nothing gets in. Enforced only where the network plugin implements NetworkPolicy.
 */
export function networkPolicyFor(spec: Pick<ServiceSpec, 'name' | 'kind' | 'app'>, owner: string, port: number, apps: string[]): V1NetworkPolicy {
  const admitted = [...new Set(apps)].sort();
  return {
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
    metadata: { name: addonObjectName(spec.name), labels: labelsOf(spec, owner) },
    spec: {
      podSelector: { matchLabels: podLabels(spec.name, owner) },
      policyTypes: ['Ingress'],
      ingress: admitted.length === 0 ? [] : [{
        _from: [{ podSelector: { matchLabels: { [LABEL.owner]: owner }, matchExpressions: [{ key: LABEL.app, operator: 'In', values: admitted }] } }],
        ports: [{ protocol: 'TCP', port }],
      }],
    },
  };
}

/** The apps a policy admits now (attach and detach edit this list). */
export function admittedApps(policy: V1NetworkPolicy): string[] {
  return policy.spec?.ingress?.flatMap((rule) => rule._from ?? [])
    .flatMap((peer) => peer.podSelector?.matchExpressions ?? [])
    .filter((e) => e.key === LABEL.app && e.operator === 'In')
    .flatMap((e) => e.values ?? []) ?? [];
}

/** A pod on the data's node that deletes the add-on's directory (addons:destroy), as root: the files are the service user's. */
export function dataRemovalPodFor(name: string, placement: AddonPlacement & { ownerDir: string }, image: string): V1Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: `${addonObjectName(name)}-rm`, labels: { ...podLabels(name, placement.owner), 'berth.addon-cleanup': '1' } },
    spec: {
      nodeName: placement.node.name,
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      containers: [{
        name: 'rm', image,
        command: ['rm', '-rf', '--one-file-system', `/addons/${name}`],
        securityContext: { runAsUser: 0, allowPrivilegeEscalation: false },
        volumeMounts: [{ name: 'addons', mountPath: '/addons' }],
        resources: resources(64),
      }],
      volumes: [{ name: 'addons', hostPath: { path: placement.ownerDir, type: 'DirectoryOrCreate' } }],
    },
  };
}

/**
 * The service's state from its StatefulSet, its pod and the data's node. A node that is gone or not Ready makes
 * the service down: it waits there for its data, it is never started elsewhere.
 */
export function serviceStatusOf(statefulSet: V1StatefulSet | null, pod: V1Pod | null, node: V1Node | null): ServiceStatus {
  if (!statefulSet) return 'missing';
  if (!nodeReady(node)) return 'down';
  if (!pod || pod.metadata?.deletionTimestamp) return 'starting';
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') return 'stopped';
  if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return 'up';
  const state = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  if ((state?.restartCount ?? 0) > 0 || state?.state?.waiting?.reason === 'CrashLoopBackOff') return 'unhealthy';
  return 'starting';
}

/**
 * The nodes holding add-on data that are lost (gone or not Ready), each with its add-ons: what the alert
 * reports. `placements`: add-on name → its node.
 */
export function lostNodes(placements: Map<string, string>, nodes: V1Node[]): Map<string, string[]> {
  const byName = new Map(nodes.map((n) => [n.metadata!.name!, n]));
  const lost = new Map<string, string[]>();
  for (const [addon, node] of [...placements].sort(([a], [b]) => a.localeCompare(b))) {
    if (nodeReady(byName.get(node))) continue;
    lost.set(node, [...(lost.get(node) ?? []), addon]);
  }
  return lost;
}

/** Limits equal to requests for memory (as on Docker: what is reserved may be used); CPU: a small share, up to one core. */
function resources(memoryMB: number) {
  return { requests: { memory: `${memoryMB}Mi`, cpu: '50m' }, limits: { memory: `${memoryMB}Mi`, cpu: '1' } };
}
