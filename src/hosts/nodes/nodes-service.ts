// The cluster's nodes as Berth's hosts: listing them, draining one (cordon, then the Eviction API, which honours
// the web processes' PodDisruptionBudgets, until every evicted instance runs and is ready elsewhere), undrain, and
// deleting a Node object. The decisions are node-view.ts and drain-plan.ts; this file only talks to the cluster.
import * as k8s from '@kubernetes/client-node';
import type { V1Deployment, V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import { apiMessage, connect, isNotFound, unlessMissing, type Cluster } from '../../scheduler/kubernetes/client.ts';
import { LABEL, deploymentName, selectorOf } from '../../scheduler/kubernetes/manifests.ts';
import { BerthError } from '../../shared/errors.ts';
import type { NodeDrainResult, NodeView } from '../../wire/hosts.ts';
import { internalIp, isLost, nodeView } from './node-view.ts';
import { describeDrain, drainStatus, evictionPlan } from './drain-plan.ts';
import { LOST_TAINT, fencePlan, taintsWith } from './lost-plan.ts';

/** Node names are DNS subdomains: checked before one reaches a field selector or a URL. */
const NODE_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const LEASE_NAMESPACE = 'kube-node-lease';
const POLL_MS = 1000;
const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
/** How long a drain waits, by default, for the evicted instances to be ready elsewhere. */
export const DRAIN_TIMEOUT_MS = 180_000;

export interface NodesOptions {
  kubeconfigPath: string;
  namespace: string;
  owner: string;
  /** Berth's host record of a machine, by node name or address (hosts:add). */
  hostOf: (node: string, address: string | null) => NodeView['host'];
  log: (line: string) => void;
}

export class NodesService {
  private readonly opts: NodesOptions;
  private readonly cluster: Cluster;
  private readonly leases: k8s.CoordinationV1Api;

  constructor(opts: NodesOptions) {
    this.opts = opts;
    this.cluster = connect(opts.kubeconfigPath);
    this.leases = this.cluster.config.makeApiClient(k8s.CoordinationV1Api);
  }

  async list(): Promise<NodeView[]> {
    const [nodes, leases, pods] = await Promise.all([
      this.cluster.core.listNode(), this.listLeases(), this.cluster.core.listPodForAllNamespaces({}),
    ]);
    const now = Date.now();
    return nodes.items.map((node) => {
      const name = node.metadata!.name!;
      return nodeView({
        node, lease: leases.get(name) ?? null, pods: pods.items.filter((p) => p.spec?.nodeName === name), owner: this.opts.owner,
        host: this.opts.hostOf(name, internalIp(node)), now,
      });
    }).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The nodes whose kubelet does not answer (not Ready, or its lease not renewed), with their InternalIPs. */
  async lostNodes(): Promise<{ name: string; address: string | null }[]> {
    const [nodes, leases] = await Promise.all([this.cluster.core.listNode(), this.listLeases()]);
    const now = Date.now();
    return nodes.items.filter((n) => isLost(n, leases.get(n.metadata!.name!) ?? null, now))
      .map((n) => ({ name: n.metadata!.name!, address: internalIp(n) }));
  }

  /**
   * Lost nodes keep none of this installation's app instances (lost-plan.ts): each is tainted berth.lost:NoSchedule
   * and Berth's app pods there are deleted, so their Deployments start replacements on the nodes that answer now,
   * not after the cluster's grace period and tolerations. A node that answers again loses the taint. Called with
   * every check's lost nodes; returns what it did, for the log.
   */
  async leaveLostNodes(lost: string[]): Promise<string[]> {
    const nodes = (await this.cluster.core.listNode()).items;
    const byName = new Map(nodes.map((n) => [n.metadata!.name!, n]));
    const plan = fencePlan(nodes, new Set(lost));
    const lines: string[] = [];
    // Each step on its own: one the cluster refuses (a node changed meanwhile) is tried again at the next check.
    const attempt = async (what: string, step: () => Promise<string | null>) => {
      try {
        const line = await step();
        if (line) lines.push(line);
      } catch (err) {
        lines.push(`nodes: ${what} failed (again at the next check): ${apiMessage(err)}`);
      }
    };
    for (const name of plan.fence) {
      await attempt(`tainting ${name}`, async () => {
        await this.setTaints(byName.get(name)!, true);
        return `node ${name} is lost: tainted ${LOST_TAINT.key}:${LOST_TAINT.effect}, no new pod lands there`;
      });
    }
    for (const name of plan.release) {
      await attempt(`untainting ${name}`, async () => {
        await this.setTaints(byName.get(name)!, false);
        return `node ${name} answers again: ${LOST_TAINT.key} removed`;
      });
    }
    for (const name of plan.replace) {
      await attempt(`replacing the instances on ${name}`, async () => {
        const pods = evictionPlan(await this.podsOn(name), this.opts.owner).evict;
        for (const pod of pods) await unlessMissing(() => this.cluster.core.deleteNamespacedPod({ name: pod.name, namespace: pod.namespace }));
        return pods.length ? `node ${name} is lost: ${pods.map((p) => p.name).join(', ')} replaced on the nodes that answer` : null;
      });
    }
    return lines;
  }

  /** Adds or removes Berth's lost-node taint; the node's resourceVersion makes a concurrent change fail (next check retries). */
  private async setTaints(node: V1Node, fenced: boolean): Promise<void> {
    await this.cluster.core.patchNode({
      name: node.metadata!.name!, body: { metadata: { resourceVersion: node.metadata?.resourceVersion }, spec: { taints: taintsWith(node, fenced) } },
    }, MERGE_PATCH);
  }

  /** The node, or null when the cluster has none of that name. */
  async find(name: string): Promise<V1Node | null> {
    if (!NODE_NAME.test(name)) return null;
    return unlessMissing(() => this.cluster.core.readNode({ name }));
  }

  /**
   * Cordons the node and evicts this installation's app instances from it (web pods one per app at a time, as their
   * disruption budgets allow), then waits until each of them runs and is ready elsewhere, or `timeoutMs` passes: the
   * answer then says what the cluster could not place.
   */
  async drain(name: string, progress: (line: string) => void = () => {}, timeoutMs = DRAIN_TIMEOUT_MS): Promise<NodeDrainResult> {
    const log: string[] = [];
    const say = (line: string) => { log.push(line); progress(line); };
    await this.requireNode(name);
    await this.setUnschedulable(name, true);
    say(`${name} is cordoned: it takes no new pods.`);
    const plan = evictionPlan(await this.podsOn(name), this.opts.owner);
    for (const left of plan.left) say(`${left.name} stays: ${left.reason}.`);
    const deployments = [...new Set(plan.evict.map((p) => deploymentName(p.app, p.process)))];
    const deadline = Date.now() + timeoutMs;
    let pending = plan.evict;
    let evicted = 0;
    let last = '';
    while (true) {
      const blocked: typeof pending = [];
      for (const pod of pending) {
        const answer = await this.evict(pod.name, pod.namespace);
        if (answer === 'blocked') blocked.push(pod);
        else {
          evicted++;
          say(`Evicted ${pod.name} (${pod.app} ${pod.process}).`);
        }
      }
      pending = blocked;
      const status = await this.drainStatus(name, deployments);
      for (const pod of status.forceDelete) {
        await unlessMissing(() => this.cluster.core.deleteNamespacedPod({ name: pod, namespace: this.opts.namespace, gracePeriodSeconds: 0 }));
      }
      const line = pending.length ? `${pending.length} waiting for their disruption budget; ${describeDrain(status)}` : describeDrain(status);
      if (line !== last) { say(line); last = line; }
      if (!pending.length && status.done) return { name, evicted, unplaced: [], done: true, log };
      if (Date.now() > deadline) {
        say(`Stopped waiting after ${Math.round(timeoutMs / 1000)} s: ${line}. ${name} stays cordoned (hosts:undrain ${name} takes it back).`);
        return { name, evicted, unplaced: status.unplaced, done: false, log };
      }
      await sleep(POLL_MS);
    }
  }

  async undrain(name: string): Promise<void> {
    await this.requireNode(name);
    await this.setUnschedulable(name, false);
  }

  /** Deletes the Node object (after a drain): the cluster forgets the machine and removes what was bound to it. */
  async deleteNode(name: string): Promise<void> {
    await unlessMissing(() => this.cluster.core.deleteNode({ name }));
  }

  /** Every Node's pod ranges (spec.podCIDRs, else spec.podCIDR), by name: what kubelet nodes' ranges must avoid. */
  async podCidrs(): Promise<Map<string, string[]>> {
    const nodes = (await this.cluster.core.listNode()).items;
    return new Map(nodes.map((n) => [n.metadata!.name!, n.spec?.podCIDRs?.length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : []]));
  }

  /** Records a kubelet node's pod range on its Node (allowed once: the API server refuses a change). */
  async setPodCidr(name: string, cidr: string): Promise<void> {
    if (!NODE_NAME.test(name)) throw new Error(`node name ${JSON.stringify(name)} is not a DNS subdomain`);
    try {
      await this.cluster.core.patchNode({ name, body: { spec: { podCIDR: cidr, podCIDRs: [cidr] } } }, MERGE_PATCH);
    } catch (err) {
      throw new Error(`the cluster refused ${name}'s pod range ${cidr}: ${apiMessage(err)}`);
    }
  }

  private async requireNode(name: string): Promise<V1Node> {
    const node = await this.find(name);
    if (!node) throw new BerthError(404, 'host_not_found', `No host or node named "${name}" (berth hosts lists them).`);
    return node;
  }

  private async setUnschedulable(name: string, unschedulable: boolean): Promise<void> {
    try {
      await this.cluster.core.patchNode({ name, body: { spec: { unschedulable } } }, MERGE_PATCH);
    } catch (err) {
      throw new BerthError(502, 'cluster_error', `The cluster refused to ${unschedulable ? 'cordon' : 'uncordon'} ${name}: ${apiMessage(err)}`);
    }
  }

  /** 'evicted' (or already gone), or 'blocked' while a disruption budget allows no more (HTTP 429). */
  private async evict(name: string, namespace: string): Promise<'evicted' | 'blocked'> {
    try {
      await this.cluster.core.createNamespacedPodEviction({ name, namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } } });
      return 'evicted';
    } catch (err) {
      if (isNotFound(err)) return 'evicted';
      if (err instanceof k8s.ApiException && err.code === 429) return 'blocked';
      throw new BerthError(502, 'cluster_error', `The cluster refused to evict ${name}: ${apiMessage(err)}`);
    }
  }

  private async drainStatus(node: string, deploymentNames: string[]) {
    const namespace = this.opts.namespace;
    const [pods, deployments, nodeObject, leases] = await Promise.all([
      this.cluster.core.listNamespacedPod({ namespace, labelSelector: selectorOf(this.opts.owner, undefined, { [LABEL.managed]: '1' }) }),
      Promise.all(deploymentNames.map((d) => unlessMissing(() => this.cluster.apps.readNamespacedDeployment({ name: d, namespace })))),
      this.cluster.core.readNode({ name: node }),
      this.listLeases(),
    ]);
    const lost = isLost(nodeObject, leases.get(node) ?? null, Date.now());
    return drainStatus(node, pods.items, deployments.filter((d): d is V1Deployment => d !== null), lost);
  }

  /** This installation's pods bound to the node (in its namespace: Berth makes pods nowhere else). */
  private async podsOn(node: string): Promise<V1Pod[]> {
    return (await this.cluster.core.listNamespacedPod({
      namespace: this.opts.namespace, fieldSelector: `spec.nodeName=${node}`, labelSelector: selectorOf(this.opts.owner),
    })).items;
  }

  private async listLeases(): Promise<Map<string, V1Lease>> {
    const list = await this.leases.listNamespacedLease({ namespace: LEASE_NAMESPACE }).catch(() => ({ items: [] as V1Lease[] }));
    return new Map(list.items.map((l) => [l.metadata!.name!, l]));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
