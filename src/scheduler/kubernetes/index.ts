// The Kubernetes (k3s) scheduler: a release becomes a Deployment per process type, a Secret holding its
// config and a NodePort Service for web; the cluster rolls pods out (readiness probe = the health check,
// maxUnavailable 0, a preStop drain), Berth watches the rollout, streams it and undoes it when it fails.
// Caddy stays the edge and reaches the app by a stable upstream, so a release changes no Caddy config: the
// app's DNS name of its ready pods when Berth's machine is on the pod network (pod-addresses.ts), else the
// Service's node port on every node. A canary runs as a second Deployment and Service beside the app's (canary.ts),
// and the route splits between the two. Decisions live in manifests.ts and rollout.ts; this file only applies them.
import Docker from 'dockerode';
import { PatchStrategy, setHeaderOptions, type CoreV1Event, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import type { ExecOptions, ExecSession, ImageInfo, Instance, InstanceLogOptions, InstanceStats, LogLine, LogOptions, RuntimeEvent } from '../../runtime/types.ts';
import type { AppRoute, CanaryRoute, NamedUpstream, Router, Upstream } from '../../router/types.ts';
import type { AttachedRun, AttachedRunRequest, DeployRequest, OneOffRequest, Progress, ReleaseToRun, Scheduler } from '../types.ts';
import { BerthError } from '../../shared/errors.ts';
import { resolveImage } from '../../runtime/docker/images.ts';
import { RegistryApi } from '../../registry/api.ts';
import { splitReference } from '../../registry/index.ts';
import { apiMessage, connect, isConflict, isLoopback, isNotFound, namespaceOnce, unlessMissing, type Cluster } from './client.ts';
import {
  LABEL, canaryConflict, canaryName, configSecretFor, configSecretName, deploymentFor, deploymentName, disruptionBudgetFor, releaseConfigData,
  sameSpec, selectorOf, serviceFor, serviceName, staleConfigKeys, wantsDisruptionBudget, withSpecHash, type ManifestSettings,
} from './manifests.ts';
import { newestTemplateHash, rolloutVerdict, waitingReasons } from './rollout.ts';
import { instancesFromPods } from './instances.ts';
import { podLogs, readLogs } from './logs.ts';
import { openExec } from './exec.ts';
import { readStats } from './stats.ts';
import { podEvents } from './events.ts';
import { runJob } from './one-off.ts';
import { listRuns, removeLeftoverRuns, removeRuns, startRun, type RunContext } from './run.ts';
import { PodAddresses, localAddresses, routeMode, type RouteMode, type RouteSetting } from './pod-addresses.ts';
import { admitNewPods, type EarlyAdmission } from './admission.ts';
import { DNS_SWITCH_MS, type AddressBook } from '../../router/dnsmasq/address-book.ts';
import { DEFAULT_CONTAINER_PORT } from '../../releases/converge.ts';
import { CanaryWorkloads } from './canary.ts';
import type { NodeSelection } from './node-selection.ts';

export interface KubernetesSchedulerOptions {
  kubeconfigPath: string;
  /** Where Berth's objects live (created when missing). */
  namespace: string;
  router: Router;
  /** host:port of the registry pods pull from, e.g. 127.0.0.1:5000. */
  registry: string;
  /** Tags a local image (id or reference) as `target` and pushes it to the registry. */
  pushImage: (localImage: string, target: string) => Promise<void>;
  /** Where NodePorts answer; default: the nodes' InternalIPs, plus 127.0.0.1 when the API server is on loopback. */
  nodeAddresses?: string[];
  drainSec: number;
  stopTimeoutSec: number;
  /** This installation's id (label berth.owner). */
  owner: string;
  log: (line: string) => void;
  /** The local engine, for resolveImage; default /var/run/docker.sock. */
  dockerSocket?: string;
  /** The app DNS (src/router/dnsmasq): with it, apps can be routed straight to their pods (pod-addresses.ts). */
  addressBook?: AddressBook | null;
  /** BERTH_K8S_ROUTE; default auto. */
  route?: RouteSetting;
  /** The nodes app pods may run on (node-selection.ts); default: any. */
  selection?: NodeSelection;
}

/** Scheduling and pulling a new pod may take this long before its health-check time starts counting. */
const STARTUP_SEC = 60;
const POLL_MS = 500;
/** After an undo, how long Berth waits for the previous pods to be all back (it does not fail on it). */
const UNDO_WAIT_SEC = 30;
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** Warnings about the cluster, not the app (no cluster DNS on the test kit): not worth a `remote:` line. */
const QUIET_WARNINGS = new Set(['MissingClusterDNS']);

export class KubernetesScheduler implements Scheduler {
  readonly name = 'k3s' as const;
  private readonly opts: KubernetesSchedulerOptions;
  private readonly cluster: Cluster;
  private readonly ns: string;
  private readonly docker: Docker;
  private readonly registryApi: RegistryApi;
  private readonly ensureNamespace: () => Promise<void>;
  private nodeAddresses: Promise<string[]> | null = null;
  private mode: Promise<RouteMode> | null = null;
  private readonly pods: PodAddresses | null;
  /**
   * The pinned image of each app's last release, so the release phase and the deploy push once, and a release
   * of the same image (a config change) pushes nothing.
   */
  private readonly images = new Map<string, { key: string; ref: string; digest: string }[]>();
  private readonly canaries: CanaryWorkloads;
  /** run.N numbers being handed out (run.ts). */
  private readonly runNumbers = new Map<string, Set<number>>();

  constructor(opts: KubernetesSchedulerOptions) {
    this.opts = opts;
    this.cluster = connect(opts.kubeconfigPath);
    this.ns = opts.namespace;
    this.ensureNamespace = namespaceOnce(this.cluster, this.ns, { [LABEL.owner]: opts.owner });
    this.docker = new Docker({ socketPath: opts.dockerSocket ?? '/var/run/docker.sock' });
    this.registryApi = new RegistryApi(opts.registry);
    this.pods = opts.addressBook
      ? new PodAddresses({ cluster: this.cluster, namespace: opts.namespace, owner: opts.owner, book: opts.addressBook, log: opts.log })
      : null;
    this.canaries = new CanaryWorkloads({
      cluster: this.cluster, namespace: this.ns, settings: this.settings, log: opts.log,
      image: (app, release, progress) => this.registryImage(app, release, progress),
      applySecret: (app, release) => this.applySecret(app, release),
      applyDeployment: (body, exists) => this.applyDeployment(body, exists),
      watch: (rollouts, req, progress) => this.watchRollouts(rollouts, req, progress),
      routeMode: () => this.routeMode(),
      nodeAddresses: () => this.addresses(),
    });
  }

  private get settings(): ManifestSettings {
    return { owner: this.opts.owner, drainSec: this.opts.drainSec, stopTimeoutSec: this.opts.stopTimeoutSec, selection: this.opts.selection };
  }

  async deploy(req: DeployRequest, progress: Progress = () => {}): Promise<void> {
    const conflict = req.canary ? canaryConflict(req.app, req.formation) : null;
    if (conflict) throw new BerthError(422, 'release_failed', `A canary cannot run: ${conflict}.`);
    // Pods start only once the release phase succeeded: a new pod could take traffic through the Service at once.
    await req.releasePhase;
    await this.ensureNamespace();
    if (!req.release) {
      await this.removeWorkloads(req.app);
      await this.syncRoute(req, null);
      return;
    }
    // Started before the Deployment changes: the web pods there now are the old ones (admission.ts).
    const admission = await this.earlyAdmission(req);
    try {
      await this.rollOut({ ...req, release: req.release }, admission, progress);
    } finally {
      await admission?.stop();
    }
  }

  private async rollOut(req: DeployRequest & { release: ReleaseToRun }, admission: EarlyAdmission | null, progress: Progress): Promise<void> {
    const release = req.release;
    const image = await this.registryImage(req.app, release, progress);
    const [, deployments] = await Promise.all([this.applySecret(req.app, release), this.listDeployments(req.app)]);
    // The canary's Deployment is not one of the formation's: canary.ts keeps it.
    const existing = new Map(deployments.filter((d) => !d.metadata?.labels?.[LABEL.canary]).map((d) => [d.metadata!.name!, d]));
    const hadCanary = deployments.some((d) => d.metadata?.name === canaryName(req.app));
    const changed: { type: string; name: string; previous: V1Deployment | null }[] = [];
    await admission?.listed;
    try {
      // Inside the try: a Deployment the cluster refuses undoes the ones applied before it.
      for (const entry of req.formation) {
        const desired = withSpecHash(deploymentFor({ ...req, release }, entry, image, this.settings));
        const name = desired.metadata!.name!;
        const previous = existing.get(name) ?? null;
        if (sameSpec(previous, desired)) continue;
        await this.applyDeployment(desired, previous !== null);
        changed.push({ type: entry.type, name, previous });
      }
      if (req.formation.some((f) => f.type === 'web')) await this.ensureService(req.app);
      await this.syncDisruptionBudget(req.app, wantsDisruptionBudget(req.formation));
      if (changed.length) progress(`Rolling out v${release.version}: ${changed.map((c) => c.type).join(', ')}.`);
      try {
        await this.watchRollouts(changed, req, progress);
      } finally {
        await admission?.stop();
        await this.pods?.endAdmissions(req.app);
      }
    } catch (err) {
      const reason = err instanceof BerthError ? err.message : `the rollout could not be watched: ${apiMessage(err)}`;
      progress(`Rollout failed: ${reason}`);
      progress('Undoing it; the running release keeps serving.');
      await this.undo(changed, progress).catch((undoErr) => this.opts.log(`k3s: undoing the rollout of ${req.app} failed: ${apiMessage(undoErr)}`));
      throw new BerthError(422, 'release_failed', reason);
    }
    const wanted = new Set(req.formation.map((f) => deploymentName(req.app, f.type)));
    for (const name of existing.keys()) {
      if (!wanted.has(name)) await unlessMissing(() => this.cluster.apps.deleteNamespacedDeployment({ name, namespace: this.ns, propagationPolicy: 'Background' }));
    }
    if (!wanted.has(serviceName(req.app))) await unlessMissing(() => this.cluster.core.deleteNamespacedService({ name: serviceName(req.app), namespace: this.ns }));
    const web = req.formation.find((f) => f.type === 'web');
    const serving = web && web.quantity > 0 ? web : null;
    // The canary's pods ready before the route names them; a canary that fails leaves the route as it was.
    const canary: CanaryRoute | null = req.canary && serving
      ? { ...req.canary.routing, upstreams: await this.canaries.run({ ...req, canary: req.canary }, serving, progress) }
      : null;
    await this.pruneConfig(req.app, release.version);
    await this.syncRoute(req, serving ? await this.webUpstream(req.app, release, changed.length > 0) : null, canary);
    if (changed.length) progress(`v${release.version} is live on the cluster.`);
    // Ended (abort, promote) or scaled to nothing: out of the route now, its objects go after the drain.
    if (hadCanary && !canary) await this.canaries.retire(req.app, req.drainInBackground ?? false);
  }

  async destroy(app: string): Promise<void> {
    await this.opts.router.removeRoute(app);
    await this.stop(app);
  }

  /** Everything the app runs here, gone (pods get their drain); the route is left to whoever serves it now. */
  async stop(app: string): Promise<void> {
    await this.removeWorkloads(app);
    await removeRuns(this.runContext, app);
    await this.pods?.remove(app);
    const selector = selectorOf(this.opts.owner, app);
    for (const svc of (await this.cluster.core.listNamespacedService({ namespace: this.ns, labelSelector: selector })).items) {
      await unlessMissing(() => this.cluster.core.deleteNamespacedService({ name: svc.metadata!.name!, namespace: this.ns }));
    }
    await this.cluster.core.deleteCollectionNamespacedSecret({ namespace: this.ns, labelSelector: selector });
    this.images.delete(app);
    // Berth's promise is "nothing left": wait until the pods are really gone (drain plus stop timeout, bounded).
    const deadline = Date.now() + (this.opts.drainSec + this.opts.stopTimeoutSec + 30) * 1000;
    while (Date.now() < deadline) {
      const pods = await this.cluster.core.listNamespacedPod({ namespace: this.ns, labelSelector: selector });
      if (pods.items.length === 0) return;
      await sleep(POLL_MS);
    }
    this.opts.log(`k3s: pods of ${app} were still terminating after the stop timeout`);
  }

  /** Their pods go with the usual grace period; the app's Deployment starts new ones at once. */
  async stopInstances(app: string, instances: Instance[]): Promise<void> {
    for (const instance of instances.filter((i) => i.app === app)) {
      await unlessMissing(() => this.cluster.core.deleteNamespacedPod({ name: instance.name, namespace: this.ns, gracePeriodSeconds: this.opts.stopTimeoutSec }));
    }
  }

  async instances(app?: string): Promise<Instance[]> {
    const pods = await this.listPods(app);
    return instancesFromPods(pods);
  }

  async apps(): Promise<string[]> {
    await this.ensureNamespace();
    const selector = selectorOf(this.opts.owner);
    const [deployments, services, secrets, jobs] = await Promise.all([
      this.cluster.apps.listNamespacedDeployment({ namespace: this.ns, labelSelector: selector }),
      this.cluster.core.listNamespacedService({ namespace: this.ns, labelSelector: selector }),
      this.cluster.core.listNamespacedSecret({ namespace: this.ns, labelSelector: selector }),
      this.cluster.batch.listNamespacedJob({ namespace: this.ns, labelSelector: selector }),
    ]);
    const names = [...deployments.items, ...services.items, ...secrets.items, ...jobs.items].map((o) => o.metadata?.labels?.[LABEL.app]);
    return [...new Set(names.filter((n): n is string => Boolean(n)))];
  }

  logs(app: string, opts: LogOptions): AsyncIterable<LogLine> {
    return readLogs({ cluster: this.cluster, namespace: this.ns, instances: () => this.instances(app) }, opts);
  }

  instanceLogs(instance: Pick<Instance, 'id' | 'app' | 'process' | 'index'>, opts: InstanceLogOptions): AsyncIterable<LogLine> {
    return podLogs({ cluster: this.cluster, namespace: this.ns }, instance, opts);
  }

  async exec(instance: Instance, opts: ExecOptions): Promise<ExecSession> {
    // Only a running pod of this installation's instances of that very app: an id from a request is not trusted.
    const pod = await unlessMissing(() => this.cluster.core.readNamespacedPod({ name: instance.id, namespace: this.ns }));
    const labels = pod?.metadata?.labels ?? {};
    if (!pod || labels[LABEL.owner] !== this.opts.owner || labels[LABEL.managed] !== '1' || labels[LABEL.app] !== instance.app) {
      throw new Error(`pod ${instance.id} is not one of this Berth installation's`);
    }
    if (pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp) throw new Error(`pod ${instance.id} is not running`);
    return openExec(this.cluster, this.ns, instance.id, opts);
  }

  async runOnce(req: OneOffRequest, onLine: (line: string) => void): Promise<number> {
    await this.ensureNamespace();
    const image = await this.registryImage(req.app, req.release, onLine);
    await this.applySecret(req.app, req.release);
    return runJob(this.cluster, this.ns, this.opts.owner, req, image, onLine, this.opts.selection);
  }

  async runAttached(req: AttachedRunRequest): Promise<AttachedRun> {
    await this.ensureNamespace();
    const image = await this.registryImage(req.app, req.release, () => {});
    await this.applySecret(req.app, req.release);
    return startRun(this.runContext, req, image);
  }

  async runs(app: string): Promise<Instance[]> {
    await this.ensureNamespace();
    return listRuns(this.runContext, app);
  }

  async removeLeftoverOneOffs(): Promise<string[]> {
    await this.ensureNamespace();
    return removeLeftoverRuns(this.runContext);
  }

  private get runContext(): RunContext {
    return { cluster: this.cluster, namespace: this.ns, owner: this.opts.owner, runNumbers: this.runNumbers, selection: this.opts.selection };
  }

  async stats(): Promise<InstanceStats[]> {
    return readStats(this.cluster, this.ns, await this.instances());
  }

  events(signal: AbortSignal): AsyncIterable<RuntimeEvent> {
    return podEvents(this.cluster, this.ns, selectorOf(this.opts.owner, undefined, { [LABEL.managed]: '1' }), signal);
  }

  /** Images are built and resolved on the local engine, then pushed to the registry the cluster pulls from. */
  resolveImage(ref: string): Promise<ImageInfo | null> {
    return resolveImage(this.docker, ref, { requestMs: 60_000, pullMs: 120_000 });
  }

  // --- deploying -----------------------------------------------------------------------------------------

  /**
   * The image reference pods run: `REGISTRY/APP:vN` (pushed first when the release's image is only local, or
   * its tag was pruned from the registry since), pinned to the registry's digest, so a tag reused after
   * apps:destroy never runs a node's stale copy. The same image as the app's last release is that release's
   * reference again, once the registry still has it (one HEAD request instead of a push).
   */
  private async registryImage(app: string, release: ReleaseToRun, progress: Progress): Promise<string> {
    const key = `${release.imageId}/${release.imageRef ?? ''}`;
    // The app's two latest images: a canary's and the stable release's (promote runs the canary's).
    const recent = this.images.get(app) ?? [];
    const cached = recent.find((entry) => entry.key === key);
    if (cached && await this.digestOf(cached.ref) === cached.digest) return `${cached.ref}@${cached.digest}`;
    const prefix = `${this.opts.registry}/`;
    const target = `${prefix}${app}:v${release.version}`;
    const pushed = release.imageRef?.startsWith(prefix) && !release.imageRef.includes('@') ? release.imageRef : null;
    let ref = pushed ?? target;
    let digest = pushed ? await this.digestOf(pushed) : null;
    if (!digest) {
      ref = target;
      progress(`Pushing the image to ${target} for the cluster.`);
      try {
        await this.opts.pushImage(release.imageId, target);
      } catch (err) {
        throw new BerthError(422, 'release_failed', `Could not push the image to ${target}: ${(err as Error).message}`);
      }
      digest = await this.digestOf(target);
    }
    if (!digest) throw new BerthError(422, 'release_failed', `The image ${ref} is not in the registry.`);
    this.images.set(app, [{ key, ref, digest }, ...recent.filter((entry) => entry.key !== key)].slice(0, 2));
    return `${ref}@${digest}`;
  }

  private digestOf(ref: string): Promise<string | null> {
    const { repository, tag } = splitReference(ref);
    return this.registryApi.manifestDigest(repository.slice(this.opts.registry.length + 1), tag);
  }

  /** Adds the release's values to the app's config Secret (a merge: other releases' keys and writers are left alone). */
  private async applySecret(app: string, release: ReleaseToRun): Promise<void> {
    const name = configSecretName(app);
    const patch = () => this.cluster.core.patchNamespacedSecret({ name, namespace: this.ns, body: { stringData: releaseConfigData(release) } }, MERGE_PATCH);
    try {
      await patch();
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.cluster.core.createNamespacedSecret({ namespace: this.ns, body: configSecretFor(app, release, this.opts.owner) });
      } catch (createErr) {
        if (!isConflict(createErr)) throw createErr;
        await patch();
      }
    }
  }

  private async applyDeployment(body: V1Deployment, exists: boolean): Promise<void> {
    const name = body.metadata!.name!;
    try {
      if (exists) await this.cluster.apps.replaceNamespacedDeployment({ name, namespace: this.ns, body });
      else await this.cluster.apps.createNamespacedDeployment({ namespace: this.ns, body });
    } catch (err) {
      throw new BerthError(422, 'release_failed', `The cluster refused the Deployment ${name}: ${apiMessage(err)}`);
    }
  }

  private async ensureService(app: string): Promise<void> {
    // Created once and never changed: its node port is the app's upstream for its whole life.
    try {
      await this.cluster.core.createNamespacedService({ namespace: this.ns, body: serviceFor(app, this.opts.owner) });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  /** The web process's PodDisruptionBudget, there while it runs more than one pod (a drain then evicts one at a time). */
  private async syncDisruptionBudget(app: string, wanted: boolean): Promise<void> {
    const name = serviceName(app);
    if (!wanted) {
      await unlessMissing(() => this.cluster.policy.deleteNamespacedPodDisruptionBudget({ name, namespace: this.ns }));
      return;
    }
    try {
      await this.cluster.policy.createNamespacedPodDisruptionBudget({ namespace: this.ns, body: disruptionBudgetFor(app, this.opts.owner) });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  private async watchRollouts(changed: { type: string; name: string }[], req: DeployRequest, progress: Progress): Promise<void> {
    const deadline = Date.now() + (STARTUP_SEC + req.health.timeoutSec) * 1000;
    const pending = new Map(changed.map((c) => [c.name, c.type]));
    const lastSummary = new Map<string, string>();
    const probeFailures = new Map<string, string>();
    const reported = new Set<string>();
    let waiting: string[] = [];
    while (pending.size) {
      waiting = [];
      for (const [name, type] of pending) {
        const deployment = await this.cluster.apps.readNamespacedDeployment({ name, namespace: this.ns });
        const newPods = await this.newPods(deployment);
        waiting.push(...waitingReasons(newPods));
        for (const event of await this.warningsOf(newPods)) {
          const pod = event.involvedObject?.name;
          if (!event.message || QUIET_WARNINGS.has(event.reason ?? '')) continue;
          if (event.reason === 'Unhealthy') probeFailures.set(pod!, event.message);
          const key = `${pod}/${event.reason}/${event.message}`;
          if (!reported.has(key)) {
            reported.add(key);
            progress(`${type} pod ${pod}: ${event.message}`);
          }
        }
        const verdict = rolloutVerdict({
          processType: type, deployment, newPods, probeFailures, healthPath: req.health.path, healthTimeoutSec: req.health.timeoutSec, now: Date.now(),
        });
        if (verdict.state === 'failed') throw new BerthError(422, 'release_failed', verdict.reason);
        if (verdict.state === 'done') {
          pending.delete(name);
          progress(`${type}: ${deployment.spec?.replicas ?? 0} of ${deployment.spec?.replicas ?? 0} ready.`);
        } else if (lastSummary.get(name) !== verdict.summary) {
          lastSummary.set(name, verdict.summary);
          progress(verdict.summary);
        }
      }
      if (!pending.size) return;
      if (Date.now() > deadline) {
        const last = waiting[0] ?? [...probeFailures.values()].at(-1);
        throw new BerthError(422, 'release_failed',
          `${[...pending.values()].join(', ')} did not become ready within ${STARTUP_SEC + req.health.timeoutSec} s${last ? ` (${last})` : ''}`);
      }
      await sleep(POLL_MS);
    }
  }

  /** Warning events of these pods (probe failures, back-offs, pull errors), asked per pod: a namespace may hold many. */
  private async warningsOf(pods: V1Pod[]): Promise<CoreV1Event[]> {
    const lists = await Promise.all(pods.map((pod) => this.cluster.core.listNamespacedEvent({
      namespace: this.ns, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${pod.metadata!.name},type=Warning`,
    })));
    return lists.flatMap((list) => list.items);
  }

  private async newPods(deployment: V1Deployment): Promise<V1Pod[]> {
    const selector = await this.newPodSelector(deployment);
    if (!selector) return [];
    return (await this.cluster.core.listNamespacedPod({ namespace: this.ns, labelSelector: selector })).items
      .filter((p) => !p.metadata?.deletionTimestamp);
  }

  /** The label selector of the pods of the Deployment's newest ReplicaSet; null before it has one. */
  private async newPodSelector(deployment: V1Deployment): Promise<string | null> {
    const selector = Object.entries(deployment.spec!.selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    const replicaSets = await this.cluster.apps.listNamespacedReplicaSet({ namespace: this.ns, labelSelector: selector });
    const hash = newestTemplateHash(deployment, replicaSets.items);
    return hash ? `${selector},pod-template-hash=${hash}` : null;
  }

  /** Puts back each Deployment as it was read before this deploy (or removes the ones it created). */
  private async undo(changed: { type: string; name: string; previous: V1Deployment | null }[], progress: Progress): Promise<void> {
    // The failed ReplicaSets' pods, by template hash: the ReplicaSet may still replace a deleted pod until the
    // Deployment controller has scaled it down, so pods are looked up by hash, not by name.
    const failed: string[] = [];
    for (const { name } of changed) {
      const current = await unlessMissing(() => this.cluster.apps.readNamespacedDeployment({ name, namespace: this.ns }));
      const selector = current && await this.newPodSelector(current);
      if (selector) failed.push(selector);
    }
    for (const { name, previous } of changed) {
      if (!previous) {
        await unlessMissing(() => this.cluster.apps.deleteNamespacedDeployment({ name, namespace: this.ns, propagationPolicy: 'Background' }));
        continue;
      }
      const annotations = { ...previous.metadata?.annotations };
      delete annotations['deployment.kubernetes.io/revision'];
      await this.cluster.apps.replaceNamespacedDeployment({
        name, namespace: this.ns,
        body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels: previous.metadata?.labels, annotations }, spec: previous.spec },
      });
    }
    const deadline = Date.now() + UNDO_WAIT_SEC * 1000;
    // Pods that never became ready never served: they go at once, not after a drain; ready ones drain as usual.
    for (const selector of failed) {
      while (Date.now() < deadline) {
        const pods = (await this.cluster.core.listNamespacedPod({ namespace: this.ns, labelSelector: selector })).items;
        if (pods.length === 0) break;
        for (const pod of pods.filter((p) => !isReady(p) && p.metadata?.deletionGracePeriodSeconds !== 0)) {
          await unlessMissing(() => this.cluster.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: this.ns, gracePeriodSeconds: 0 }));
        }
        await sleep(POLL_MS);
      }
    }
    for (const { type, name, previous } of changed) {
      if (!previous) continue;
      while (Date.now() < deadline) {
        const d = await this.cluster.apps.readNamespacedDeployment({ name, namespace: this.ns });
        const verdict = rolloutVerdict({ processType: type, deployment: d, newPods: [], probeFailures: new Map(), healthPath: '/', healthTimeoutSec: UNDO_WAIT_SEC, now: Date.now() });
        if (verdict.state === 'done') break;
        await sleep(POLL_MS);
      }
    }
    progress('The previous release is back in place.');
  }

  private async removeWorkloads(app: string): Promise<void> {
    const selector = selectorOf(this.opts.owner, app);
    await this.cluster.apps.deleteCollectionNamespacedDeployment({ namespace: this.ns, labelSelector: selector, propagationPolicy: 'Background' });
    await this.cluster.batch.deleteCollectionNamespacedJob({ namespace: this.ns, labelSelector: selector, propagationPolicy: 'Background' });
    await this.cluster.policy.deleteCollectionNamespacedPodDisruptionBudget({ namespace: this.ns, labelSelector: selector });
  }

  /**
   * Drops the config of releases nothing runs or may start again (not the release just rolled out, nor one a
   * ReplicaSet, a pod or a Job still names), and the per-release Secrets of Berth versions before the shared one.
   */
  private async pruneConfig(app: string, version: number): Promise<void> {
    const selector = selectorOf(this.opts.owner, app);
    const [replicaSets, pods, jobs, secrets] = await Promise.all([
      this.cluster.apps.listNamespacedReplicaSet({ namespace: this.ns, labelSelector: selector }),
      this.cluster.core.listNamespacedPod({ namespace: this.ns, labelSelector: selector }),
      this.cluster.batch.listNamespacedJob({ namespace: this.ns, labelSelector: selector }),
      this.cluster.core.listNamespacedSecret({ namespace: this.ns, labelSelector: selector }),
    ]);
    const live = [version, ...[
      ...replicaSets.items.map((rs) => rs.spec?.template?.metadata?.labels),
      ...pods.items.map((pod) => pod.metadata?.labels),
      ...jobs.items.map((job) => job.metadata?.labels),
    ].map((labels) => Number(labels?.[LABEL.release])).filter(Number.isInteger)];
    for (const secret of secrets.items) {
      const name = secret.metadata!.name!;
      if (name !== configSecretName(app)) {
        await unlessMissing(() => this.cluster.core.deleteNamespacedSecret({ name, namespace: this.ns }));
        continue;
      }
      const stale = staleConfigKeys(Object.keys(secret.data ?? {}), live);
      if (stale.length) {
        await unlessMissing(() => this.cluster.core.patchNamespacedSecret({
          name, namespace: this.ns, body: { data: Object.fromEntries(stale.map((key) => [key, null])) },
        }, MERGE_PATCH));
      }
    }
  }

  /** Nodes judged lost (hosts/nodes/node-monitor.ts): their pods leave the app DNS at once, before the cluster says so. */
  routeAroundNodes(names: string[]): Promise<void> {
    return this.pods?.setLostNodes(names) ?? Promise.resolve();
  }

  // --- routing ---------------------------------------------------------------------------------------------

  /**
   * Where Caddy sends the app's requests: the app's DNS name of its ready pods (published before this returns,
   * and, when it replaced other pods, after Caddy's cached answer expired: the new release serves on return), or
   * the Service's node port on the nodes.
   */
  private async webUpstream(app: string, release: ReleaseToRun, rolledOut: boolean): Promise<Upstream[] | NamedUpstream> {
    if (this.pods && await this.routeMode() === 'pods') {
      // After a rollout the watch may have published the new pods already: wait out Caddy's refresh either way.
      if (await this.pods.sync(app) || rolledOut) await sleep(DNS_SWITCH_MS);
      return { name: this.pods.nameOf(app), port: release.containerPort ?? DEFAULT_CONTAINER_PORT, resolver: this.pods.book.resolver };
    }
    return this.nodePortUpstreams(app);
  }

  /** Early admission of the rollout's new web pods, when the app is routed to its pods (admission.ts); else null. */
  private async earlyAdmission(req: DeployRequest): Promise<EarlyAdmission | null> {
    const release = req.release;
    const pods = this.pods;
    if (!release || !pods || !req.formation.some((f) => f.type === 'web' && f.quantity > 0)) return null;
    if (await this.routeMode().catch(() => 'nodeport') !== 'pods') return null;
    return admitNewPods({
      cluster: this.cluster, namespace: this.ns, selector: selectorOf(this.opts.owner, req.app, { [LABEL.process]: 'web' }),
      port: release.containerPort ?? DEFAULT_CONTAINER_PORT, healthPath: req.health.path,
      admit: (address) => pods.admit(req.app, address), log: this.opts.log,
    });
  }

  private routeMode(): Promise<RouteMode> {
    this.mode ??= (async () => {
      const nodes = await this.cluster.core.listNode();
      const internal = nodes.items.flatMap((n) => n.status?.addresses?.filter((a) => a.type === 'InternalIP').map((a) => a.address) ?? []);
      const mode = routeMode(this.opts.route ?? 'auto', Boolean(this.pods), internal, localAddresses());
      this.opts.log(`k3s: apps are routed to ${mode === 'pods' ? 'their pods (this machine is on the pod network)' : 'the node ports of their Services'}`);
      return mode;
    })().catch((err) => { this.mode = null; throw err; });
    return this.mode;
  }

  private async nodePortUpstreams(app: string): Promise<Upstream[]> {
    const service = await this.cluster.core.readNamespacedService({ name: serviceName(app), namespace: this.ns });
    const port = service.spec?.ports?.[0]?.nodePort;
    if (!port) throw new BerthError(500, 'internal', `The Service of ${app} has no node port.`);
    return (await this.addresses()).map((host) => ({ host, port }));
  }

  /** Writes the route only when it differs from what the router has: a release changes nothing there. */
  private async syncRoute(req: Pick<DeployRequest, 'app' | 'hostnames' | 'maintenance'>, to: Upstream[] | NamedUpstream | null,
    canary: CanaryRoute | null = null): Promise<void> {
    const { app, hostnames } = req;
    const extra = { ...(req.maintenance ? { maintenance: req.maintenance } : {}), ...(canary && to !== null ? { canary } : {}) };
    const wanted: AppRoute = to === null ? { app, hostnames, upstreams: [], ...extra }
      : Array.isArray(to) ? { app, hostnames, upstreams: to, balancesConnections: true, ...extra }
      : { app, hostnames, upstreams: [], named: to, ...extra };
    const current = (await this.opts.router.listRoutes()).find((r) => r.app === app);
    if (current && sameRoute(current, wanted)) return;
    await this.opts.router.setRoute(wanted);
  }

  private addresses(): Promise<string[]> {
    this.nodeAddresses ??= (async () => {
      if (this.opts.nodeAddresses?.length) return this.opts.nodeAddresses;
      const nodes = await this.cluster.core.listNode();
      const internal = nodes.items.flatMap((n) => n.status?.addresses?.filter((a) => a.type === 'InternalIP').map((a) => a.address) ?? []);
      return [...(isLoopback(this.cluster.apiHost) ? ['127.0.0.1'] : []), ...internal];
    })().catch((err) => { this.nodeAddresses = null; throw err; });
    return this.nodeAddresses;
  }

  // --- cluster plumbing ------------------------------------------------------------------------------------

  private async listDeployments(app: string): Promise<V1Deployment[]> {
    return (await this.cluster.apps.listNamespacedDeployment({ namespace: this.ns, labelSelector: selectorOf(this.opts.owner, app) })).items;
  }

  private async listPods(app?: string): Promise<V1Pod[]> {
    await this.ensureNamespace();
    const selector = selectorOf(this.opts.owner, app, { [LABEL.managed]: '1' });
    return (await this.cluster.core.listNamespacedPod({ namespace: this.ns, labelSelector: selector })).items;
  }
}

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

function sameRoute(a: AppRoute, b: AppRoute): boolean {
  const hosts = (r: AppRoute) => [...r.hostnames].map((h) => h.toLowerCase()).sort().join(',');
  const ups = (r: AppRoute) => r.upstreams.map((u) => `${u.host}:${u.port}`).sort().join(',');
  const named = (r: AppRoute) => (r.named ? `${r.named.name}:${r.named.port}@${r.named.resolver}` : '');
  // A split names the canary's version only in its sticky cookie; a canary without upstreams is no split.
  const canary = ({ canary: c }: AppRoute) => (c?.upstreams.length ? JSON.stringify([
    c.sticky ? c.version : 0, c.weight, c.header ?? null, c.cookie ?? null, Boolean(c.sticky), ups({ upstreams: c.upstreams } as AppRoute),
  ]) : '');
  return hosts(a) === hosts(b) && ups(a) === ups(b) && named(a) === named(b) && Boolean(a.balancesConnections) === Boolean(b.balancesConnections)
    && a.maintenance?.body === b.maintenance?.body && a.maintenance?.contentType === b.maintenance?.contentType && canary(a) === canary(b);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
