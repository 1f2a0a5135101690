// A canary on the Kubernetes scheduler: the canary release's web process as a second Deployment (APP-web-canary)
// behind its own Service, beside the app's untouched web Deployment; Caddy splits the app's requests between the two
// (src/router/caddy/canary-split.ts), as it does for the Docker scheduler's canary containers. The canary's upstreams
// are its ready pods' addresses when Berth's machine is on the pod network, else its Service's node port on every
// node. Its end (abort, promote) changes the route first, then removes the canary's objects after the drain.
// Manifests come from manifests.ts; this file only applies them.
import type { V1Deployment } from '@kubernetes/client-node';
import type { Upstream } from '../../router/types.ts';
import type { DeployRequest, Progress, ReleaseToRun } from '../types.ts';
import type { FormationEntry } from '../../state/schema.ts';
import { BerthError } from '../../shared/errors.ts';
import { probeOnce } from '../../releases/health.ts';
import { DEFAULT_CONTAINER_PORT } from '../../releases/converge.ts';
import { apiMessage, isConflict, unlessMissing, type Cluster } from './client.ts';
import { canaryDeploymentFor, canaryName, canaryServiceFor, sameSpec, selectorOf, withSpecHash, LABEL, type ManifestSettings } from './manifests.ts';
import { readyPodAddresses, type RouteMode } from './pod-addresses.ts';
import { forgetNeighbor } from './neighbor.ts';

/** How long a ready canary may take to answer through its upstreams (kube-proxy's rules for a new node port). */
const ANSWER_SEC = 20;
const POLL_MS = 250;
/** How long a failed canary's pods may take to go (they never served: no drain). */
const GONE_SEC = 30;

export interface CanaryContext {
  cluster: Cluster;
  namespace: string;
  settings: ManifestSettings;
  log: (line: string) => void;
  /** The registry reference pods run for the release (pushed first when needed). */
  image: (app: string, release: ReleaseToRun, progress: Progress) => Promise<string>;
  /** Adds the release's config to the app's config Secret. */
  applySecret: (app: string, release: ReleaseToRun) => Promise<void>;
  applyDeployment: (body: V1Deployment, exists: boolean) => Promise<void>;
  /** Resolves once the Deployments' rollouts are done; throws release_failed when one fails or times out. */
  watch: (rollouts: { type: string; name: string }[], req: DeployRequest, progress: Progress) => Promise<void>;
  routeMode: () => Promise<RouteMode>;
  nodeAddresses: () => Promise<string[]>;
}

export type CanaryRequest = DeployRequest & { canary: NonNullable<DeployRequest['canary']> };

export class CanaryWorkloads {
  private readonly ctx: CanaryContext;
  /** Each app's ended canary while it drains before its objects go (a new canary waits for it: same names). */
  private readonly retiring = new Map<string, Promise<void>>();

  constructor(ctx: CanaryContext) { this.ctx = ctx; }

  /** Resolves once an ended canary of the app is gone (never rejects). */
  settled(app: string): Promise<void> {
    return this.retiring.get(app) ?? Promise.resolve();
  }

  /**
   * Runs the canary's web beside the app's and resolves with its upstreams once its pods are ready and answer. A
   * canary that fails to start is removed at once (its pods never served) and release_failed is thrown; the app's
   * own Deployment and route are not touched here.
   */
  async run(req: CanaryRequest, web: FormationEntry, progress: Progress): Promise<Upstream[]> {
    const { cluster, namespace } = this.ctx;
    const name = canaryName(req.app);
    const release = req.canary.release;
    await this.settled(req.app);
    const image = await this.ctx.image(req.app, release, progress);
    await this.ctx.applySecret(req.app, release);
    const desired = withSpecHash(canaryDeploymentFor(req, web, image, this.ctx.settings));
    const previous = await unlessMissing(() => cluster.apps.readNamespacedDeployment({ name, namespace }));
    try {
      if (!sameSpec(previous, desired)) {
        await this.ctx.applyDeployment(desired, previous !== null);
        progress(`Starting v${release.version} as a canary: ${web.quantity} web pod(s) in ${name}.`);
      }
      await this.ensureService(req.app);
      await this.ctx.watch([{ type: 'canary web', name }], req, progress);
      return await this.answering(req, await this.upstreams(req.app, release));
    } catch (err) {
      const reason = err instanceof BerthError ? err.message : `the canary could not be started: ${apiMessage(err)}`;
      // A canary that ran before (a step, a scale) keeps running: only a new one is taken away.
      if (!previous) {
        progress(`Canary failed: ${reason}`);
        progress('Removing it; the running release keeps serving.');
        await this.remove(req.app, true).catch((removeErr) => this.ctx.log(`k3s: removing the failed canary of ${req.app} failed: ${apiMessage(removeErr)}`));
      }
      throw new BerthError(422, 'release_failed', reason);
    }
  }

  /**
   * The canary ended (the route no longer has it): after the drain its Deployment and Service go. In the background
   * when the deploy returns before its drain; a new canary of the app waits for it.
   */
  async retire(app: string, background: boolean): Promise<void> {
    const done = (async () => {
      if (this.ctx.settings.drainSec > 0) await sleep(this.ctx.settings.drainSec * 1000);
      await this.remove(app, false);
    })().catch((err) => this.ctx.log(`k3s: removing the ended canary of ${app} failed: ${apiMessage(err)}`))
      .finally(() => { if (this.retiring.get(app) === done) this.retiring.delete(app); });
    this.retiring.set(app, done);
    if (!background) await done;
  }

  /** Deletes the canary's Deployment and Service; `now`: its pods too, without a grace period, and waits until they are gone. */
  private async remove(app: string, now: boolean): Promise<void> {
    const { cluster, namespace } = this.ctx;
    const name = canaryName(app);
    await unlessMissing(() => cluster.apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: 'Background' }));
    await unlessMissing(() => cluster.core.deleteNamespacedService({ name, namespace }));
    if (!now) return;
    const labelSelector = this.selector(app);
    const deadline = Date.now() + GONE_SEC * 1000;
    while (Date.now() < deadline) {
      const pods = (await cluster.core.listNamespacedPod({ namespace, labelSelector })).items;
      if (pods.length === 0) return;
      for (const pod of pods.filter((p) => p.metadata?.deletionGracePeriodSeconds !== 0)) {
        await unlessMissing(() => cluster.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace, gracePeriodSeconds: 0 }));
      }
      await sleep(POLL_MS);
    }
  }

  private selector(app: string): string {
    return selectorOf(this.ctx.settings.owner, app, { [LABEL.canary]: 'web' });
  }

  private async ensureService(app: string): Promise<void> {
    try {
      await this.ctx.cluster.core.createNamespacedService({ namespace: this.ctx.namespace, body: canaryServiceFor(app, this.ctx.settings.owner) });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  /** Its ready pods (on the pod network), else its Service's node port on every node. */
  private async upstreams(app: string, release: ReleaseToRun): Promise<Upstream[]> {
    const { cluster, namespace } = this.ctx;
    if (await this.ctx.routeMode() === 'pods') {
      const pods = (await cluster.core.listNamespacedPod({ namespace, labelSelector: this.selector(app) })).items;
      const port = release.containerPort ?? DEFAULT_CONTAINER_PORT;
      const addresses = readyPodAddresses(pods);
      // A new pod's address may be a deleted pod's, whose MAC this machine still holds (neighbor.ts).
      for (const address of addresses) await forgetNeighbor(address, this.ctx.log);
      return addresses.map((host) => ({ host, port }));
    }
    const service = await cluster.core.readNamespacedService({ name: canaryName(app), namespace });
    const port = service.spec?.ports?.[0]?.nodePort;
    if (!port) throw new BerthError(500, 'internal', `The canary Service of ${app} has no node port.`);
    return (await this.ctx.nodeAddresses()).map((host) => ({ host, port }));
  }

  /** Each upstream answers the health check from this machine (a node port kube-proxy has yet to sync, say). */
  private async answering(req: CanaryRequest, upstreams: Upstream[]): Promise<Upstream[]> {
    const deadline = Date.now() + ANSWER_SEC * 1000;
    for (const { host, port } of upstreams) {
      let problem = await probeOnce(`http://${host}:${port}${req.health.path}`, 2000);
      while (problem !== null && Date.now() < deadline) {
        await sleep(POLL_MS);
        problem = await probeOnce(`http://${host}:${port}${req.health.path}`, 2000);
      }
      if (problem !== null) throw new BerthError(422, 'release_failed', `the canary is ready but ${host}:${port} does not answer GET ${req.health.path} (${problem})`);
    }
    return upstreams;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
