// The executor of add-ons on the Kubernetes (k3s) scheduler: applies what manifests.ts decides (a StatefulSet of
// one on a local volume pinned to a node, a ClusterIP Service, a Secret, a NetworkPolicy) and reads the service's
// state back. The add-on images are pushed to Berth's registry, as release images are, and pinned by digest.
import { NetworkingV1Api, type V1NetworkPolicy, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { ExecSession } from '../../runtime/types.ts';
import { RegistryApi } from '../../registry/api.ts';
import { splitReference } from '../../registry/index.ts';
import { BerthError } from '../../shared/errors.ts';
import { apiMessage, connect, isConflict, isNotFound, namespaceOnce, unlessMissing, type Cluster } from '../../scheduler/kubernetes/client.ts';
import { openExec } from '../../scheduler/kubernetes/exec.ts';
import { LABEL } from '../../scheduler/kubernetes/manifests.ts';
import { KINDS, type AddonKind } from '../kinds.ts';
import type { ServiceExec, ServiceExecResult, ServiceRuntime, ServiceSpec, ServiceStatus } from '../service-runtime.ts';
import {
  ADDON_K8S_LABEL, NODE_ANNOTATION, addonDataDir, addonObjectName, addonPodName, addonServiceFor, addonVolumeName, admittedApps,
  allAddonsSelector, credentialsSecretFor, dataRemovalPodFor, lostNodes, networkPolicyFor, nodeReady, ownerDataDir, persistentVolumeClaimFor,
  persistentVolumeFor, pickNode, serviceStatusOf, statefulSetFor, type AddonPlacement,
} from './manifests.ts';
import { execInPod } from './exec.ts';

export interface KubernetesServicesOptions {
  kubeconfigPath: string;
  namespace: string;
  owner: string;
  /** host:port of the registry the nodes pull from. */
  registry: string;
  /** Tags a local image as `target` and pushes it to the registry. */
  pushImage: (localImage: string, target: string) => Promise<void>;
  /** Where add-on data lives on the nodes (BERTH_K8S_ADDON_DIR). */
  dataDir: string;
  /** Pin new add-ons to this node (BERTH_K8S_ADDON_NODE); default: the first Ready one. */
  node?: string;
  log: (line: string) => void;
}

const POLL_MS = 500;
/** How long destroy waits for each object to be gone (the pod's, the volume's, the data removal's). */
const GONE_WAIT_MS = 60_000;
const STUCK = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'CreateContainerConfigError']);

export class KubernetesServices implements ServiceRuntime {
  readonly #o: KubernetesServicesOptions;
  readonly #cluster: Cluster;
  readonly #net: NetworkingV1Api;
  readonly #registryApi: RegistryApi;
  readonly #ensureNamespace: () => Promise<void>;

  constructor(opts: KubernetesServicesOptions) {
    this.#o = opts;
    this.#cluster = connect(opts.kubeconfigPath);
    this.#net = this.#cluster.config.makeApiClient(NetworkingV1Api);
    this.#registryApi = new RegistryApi(opts.registry);
    this.#ensureNamespace = namespaceOnce(this.#cluster, opts.namespace, { [LABEL.owner]: opts.owner });
  }

  get #ns(): string { return this.#o.namespace; }

  /** Pushes the image, picks the node, creates the objects; returns the Service's ClusterIP (the apps' address). */
  async start(spec: ServiceSpec): Promise<string> {
    await this.#ensureNamespace();
    const image = await this.#registryImage(spec.image);
    const node = pickNode((await this.#cluster.core.listNode()).items, this.#o.node);
    if (!node) {
      throw new BerthError(503, 'no_node', this.#o.node ? `The node ${this.#o.node} (BERTH_K8S_ADDON_NODE) is not in the cluster.` : 'No Ready node in the cluster takes the add-on.');
    }
    const placement: AddonPlacement = { owner: this.#o.owner, node, dataDir: addonDataDir(this.#o.dataDir, this.#o.owner, spec.name) };
    const port = KINDS[spec.kind as AddonKind].port;
    const namespace = this.#ns;
    await this.#create(() => this.#cluster.core.createNamespacedSecret({ namespace, body: credentialsSecretFor(spec, this.#o.owner) }));
    await this.#create(() => this.#cluster.core.createPersistentVolume({ body: persistentVolumeFor(spec, placement, namespace) }));
    await this.#create(() => this.#cluster.core.createNamespacedPersistentVolumeClaim({ namespace, body: persistentVolumeClaimFor(spec, placement) }));
    const service = await this.#create(() => this.#cluster.core.createNamespacedService({ namespace, body: addonServiceFor(spec, this.#o.owner, port) }));
    await this.#create(() => this.#net.createNamespacedNetworkPolicy({ namespace, body: networkPolicyFor(spec, this.#o.owner, port, [spec.app]) }));
    await this.#create(() => this.#cluster.apps.createNamespacedStatefulSet({ namespace, body: statefulSetFor(spec, placement, image, port) }));
    return clusterIpOf(service.spec?.clusterIP);
  }

  /** Waits for the pod's readiness probe (the image's berth-ready); fails early on a pod that cannot start. */
  async waitReady(name: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no pod yet';
    for (;;) {
      const pod = await unlessMissing(() => this.#cluster.core.readNamespacedPod({ name: addonPodName(name), namespace: this.#ns }));
      if (pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return;
      const failure = pod && startFailure(pod);
      if (failure) throw new BerthError(500, 'addon_failed', `The service ${name} could not start: ${failure}.`);
      last = pod ? waitingReason(pod) : last;
      if (Date.now() > deadline) throw new BerthError(504, 'addon_timeout', `The service ${name} did not accept connections within ${Math.round(timeoutMs / 1000)} s (${last}).`);
      await sleep(POLL_MS);
    }
  }

  /** The policy admits the app's pods too; the address is the same ClusterIP for every app. */
  async connect(name: string, app: string): Promise<string> {
    await this.#editPolicy(name, (apps) => [...apps, app]);
    const service = await this.#cluster.core.readNamespacedService({ name: addonObjectName(name), namespace: this.#ns });
    return clusterIpOf(service.spec?.clusterIP);
  }

  async disconnect(name: string, app: string): Promise<void> {
    await this.#editPolicy(name, (apps) => apps.filter((a) => a !== app));
  }

  /** Everything of the add-on goes, the data directory on its node last (only once no pod can hold it). */
  async remove(name: string): Promise<void> {
    const objectName = addonObjectName(name);
    const namespace = this.#ns;
    const volumeName = addonVolumeName(this.#o.owner, name);
    const volume = await unlessMissing(() => this.#cluster.core.readPersistentVolume({ name: volumeName }));
    const statefulSet = await unlessMissing(() => this.#cluster.apps.readNamespacedStatefulSet({ name: objectName, namespace }));
    // The service's own image (on the node already) runs the data removal.
    const image = statefulSet?.spec?.template.spec?.containers[0]?.image;
    await unlessMissing(() => this.#cluster.apps.deleteNamespacedStatefulSet({ name: objectName, namespace, propagationPolicy: 'Background' }));
    // Its data goes next: the server need not shut down cleanly.
    await unlessMissing(() => this.#cluster.core.deleteNamespacedPod({ name: addonPodName(name), namespace, gracePeriodSeconds: 0 }));
    await unlessMissing(() => this.#cluster.core.deleteNamespacedService({ name: objectName, namespace }));
    await unlessMissing(() => this.#cluster.core.deleteNamespacedSecret({ name: objectName, namespace }));
    await unlessMissing(() => this.#net.deleteNamespacedNetworkPolicy({ name: objectName, namespace }));
    await this.#until(`the pod of ${name} is gone`, async () => !(await unlessMissing(() => this.#cluster.core.readNamespacedPod({ name: addonPodName(name), namespace }))));
    await unlessMissing(() => this.#cluster.core.deleteNamespacedPersistentVolumeClaim({ name: objectName, namespace }));
    await unlessMissing(() => this.#cluster.core.deletePersistentVolume({ name: volumeName }));
    const node = volume?.metadata?.annotations?.[NODE_ANNOTATION];
    if (node && image) await this.#removeData(name, node, image);
  }

  async status(name: string): Promise<ServiceStatus> {
    const statefulSet = await unlessMissing(() => this.#cluster.apps.readNamespacedStatefulSet({ name: addonObjectName(name), namespace: this.#ns }));
    if (!statefulSet) return 'missing';
    const nodeName = statefulSet.metadata?.annotations?.[NODE_ANNOTATION];
    const [pod, node] = await Promise.all([
      unlessMissing(() => this.#cluster.core.readNamespacedPod({ name: addonPodName(name), namespace: this.#ns })),
      nodeName ? unlessMissing(() => this.#cluster.core.readNode({ name: nodeName })) : Promise.resolve(null),
    ]);
    return serviceStatusOf(statefulSet, pod, node);
  }

  openClient(name: string, command: string[], size: { cols: number; rows: number }): Promise<ExecSession> {
    return openExec(this.#cluster, this.#ns, addonPodName(name), { command, ...size });
  }

  exec(name: string, run: ServiceExec): Promise<ServiceExecResult> {
    return execInPod(this.#cluster, this.#ns, addonPodName(name), run);
  }

  /** The nodes holding this installation's add-on data that are lost, each with its add-ons (for the alert). */
  async lostNodes(): Promise<Map<string, string[]>> {
    const [sets, nodes] = await Promise.all([
      this.#cluster.apps.listNamespacedStatefulSet({ namespace: this.#ns, labelSelector: allAddonsSelector(this.#o.owner) }),
      this.#cluster.core.listNode(),
    ]);
    const placements = new Map(sets.items.flatMap((s) => {
      const addon = s.metadata?.labels?.[ADDON_K8S_LABEL.addon];
      const node = s.metadata?.annotations?.[NODE_ANNOTATION];
      return addon && node ? [[addon, node] as [string, string]] : [];
    }));
    return lostNodes(placements, nodes.items as V1Node[]);
  }

  /** A pod on the node deletes the directory; a lost node keeps it (said in the log), the rest is gone anyway. */
  async #removeData(name: string, node: string, image: string): Promise<void> {
    const namespace = this.#ns;
    const nodeObject = await unlessMissing(() => this.#cluster.core.readNode({ name: node }));
    if (!nodeReady(nodeObject)) {
      this.#o.log(`add-on ${name}: its node ${node} is lost; its data directory there (${addonDataDir(this.#o.dataDir, this.#o.owner, name)}) was not removed`);
      return;
    }
    const placement = {
      owner: this.#o.owner, node: { name: node, hostname: node }, dataDir: addonDataDir(this.#o.dataDir, this.#o.owner, name),
      ownerDir: ownerDataDir(this.#o.dataDir, this.#o.owner),
    };
    const pod = dataRemovalPodFor(name, placement, image);
    const podName = pod.metadata!.name!;
    await unlessMissing(() => this.#cluster.core.deleteNamespacedPod({ name: podName, namespace, gracePeriodSeconds: 0 }));
    await this.#until(`the last data removal of ${name} is gone`, async () => !(await unlessMissing(() => this.#cluster.core.readNamespacedPod({ name: podName, namespace }))));
    await this.#cluster.core.createNamespacedPod({ namespace, body: pod });
    try {
      await this.#until(`the data of ${name} is removed`, async () => {
        const phase = (await this.#cluster.core.readNamespacedPod({ name: podName, namespace })).status?.phase;
        if (phase === 'Failed') throw new BerthError(500, 'addon_cleanup_failed', `Removing the data of ${name} on ${node} failed.`);
        return phase === 'Succeeded';
      });
    } finally {
      await unlessMissing(() => this.#cluster.core.deleteNamespacedPod({ name: podName, namespace, gracePeriodSeconds: 0 }));
    }
  }

  /** Reads the policy, changes its list of apps, writes it back (again on a concurrent change). */
  async #editPolicy(name: string, change: (apps: string[]) => string[]): Promise<void> {
    const namespace = this.#ns;
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.#net.readNamespacedNetworkPolicy({ name: addonObjectName(name), namespace });
      const labels = current.metadata?.labels ?? {};
      const kind = labels[ADDON_K8S_LABEL.kind] as AddonKind;
      const desired: V1NetworkPolicy = networkPolicyFor({ name, kind, app: labels[ADDON_K8S_LABEL.app] ?? '' }, this.#o.owner, KINDS[kind].port, change(admittedApps(current)));
      desired.metadata = { ...desired.metadata, resourceVersion: current.metadata?.resourceVersion };
      try {
        await this.#net.replaceNamespacedNetworkPolicy({ name: addonObjectName(name), namespace, body: desired });
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    throw new BerthError(409, 'conflict', `The network policy of ${name} kept changing; try again.`);
  }

  /** `REGISTRY/berth/postgres:15@sha256:…`: pushed from the local engine (scripts/base-images.sh built it). */
  async #registryImage(localImage: string): Promise<string> {
    const target = `${this.#o.registry}/${localImage}`;
    try {
      await this.#o.pushImage(localImage, target);
    } catch (err) {
      throw new BerthError(503, 'image_missing', `Could not push ${localImage} to ${target} (scripts/base-images.sh builds the add-on images offline): ${(err as Error).message}`);
    }
    const { repository, tag } = splitReference(target);
    const digest = await this.#registryApi.manifestDigest(repository.slice(this.#o.registry.length + 1), tag);
    if (!digest) throw new BerthError(503, 'image_missing', `The image ${target} is not in the registry.`);
    return `${target}@${digest}`;
  }

  /** A create whose conflict means the add-on's name is taken in the cluster (statusCode 409, as Addons expects). */
  async #create<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (isConflict(err)) throw Object.assign(new Error(apiMessage(err)), { statusCode: 409 });
      throw new BerthError(500, 'addon_failed', `The cluster refused an object of the add-on: ${apiMessage(err)}`);
    }
  }

  async #until(what: string, done: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + GONE_WAIT_MS;
    while (!(await done())) {
      if (Date.now() > deadline) throw new BerthError(504, 'addon_timeout', `Timed out waiting until ${what}.`);
      await sleep(POLL_MS);
    }
  }

}

function clusterIpOf(ip: string | undefined): string {
  if (!ip || ip === 'None') throw new BerthError(500, 'internal', 'The add-on\'s Service has no cluster IP.');
  return ip;
}

/** Why the pod will not start by itself: a pull error, or its server exiting again and again. */
function startFailure(pod: V1Pod): string | null {
  if (pod.status?.phase === 'Failed') return pod.status.message ?? 'the pod failed';
  for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && STUCK.has(waiting.reason)) return `${waiting.reason}: ${waiting.message ?? ''}`.trim();
    if (c.restartCount >= 2 && waiting?.reason === 'CrashLoopBackOff') {
      const last = c.lastState?.terminated;
      return `it exits again and again (exit code ${last?.exitCode ?? '?'}${last?.message ? `: ${last.message}` : ''})`;
    }
  }
  return null;
}

function waitingReason(pod: V1Pod): string {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') return scheduled.message ?? 'not scheduled';
  const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
  return waiting?.reason ?? pod.status?.phase ?? 'starting';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
