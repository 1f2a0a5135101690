// What a node drain does, decided without the cluster: which of this installation's pods to evict and in which
// order, which to leave (add-ons stay with their data, one-offs finish), and when the drain is over (nothing of
// Berth's left on the node and every Deployment that lost a pod ready again elsewhere). nodes-service.ts applies it.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { LABEL } from '../../scheduler/kubernetes/manifests.ts';
import { isFinished } from './node-view.ts';

export interface EvictionPlan {
  /** Pod names, in order: each app's web pods interleaved across apps (one per app at a time), then the other types. */
  evict: { name: string; namespace: string; app: string; process: string }[];
  /** Pods left where they are, with why. */
  left: { name: string; reason: string }[];
}

const isTerminating = (pod: V1Pod) => Boolean(pod.metadata?.deletionTimestamp);

/** The drain's evictions among the pods bound to the node (any namespace; only this installation's are touched). */
export function evictionPlan(pods: V1Pod[], owner: string): EvictionPlan {
  const plan: EvictionPlan = { evict: [], left: [] };
  const byTurn: { turn: number; web: boolean; app: string; name: string; namespace: string; process: string }[] = [];
  const seen = new Map<string, number>();
  const ours = pods.filter((p) => p.metadata?.labels?.[LABEL.owner] === owner && !isFinished(p))
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const pod of ours) {
    const labels = pod.metadata!.labels!;
    const name = pod.metadata!.name!;
    if (labels[LABEL.managed] !== '1') {
      plan.left.push({ name, reason: labels[LABEL.oneoff] === '1' ? 'a one-off: it runs to its end' : 'an add-on: it stays with its data on this node' });
      continue;
    }
    if (isTerminating(pod)) continue;
    const app = labels[LABEL.app] ?? '';
    const process = labels[LABEL.process] ?? '';
    const key = `${app}/${process}`;
    const turn = seen.get(key) ?? 0;
    seen.set(key, turn + 1);
    byTurn.push({ turn, web: process === 'web', app, name, namespace: pod.metadata!.namespace ?? '', process });
  }
  byTurn.sort((a, b) => Number(b.web) - Number(a.web) || a.turn - b.turn || a.app.localeCompare(b.app) || a.name.localeCompare(b.name));
  plan.evict = byTurn.map(({ name, namespace, app, process }) => ({ name, namespace, app, process }));
  return plan;
}

export interface DrainStatus {
  done: boolean;
  /** This installation's app pods still on the node (terminating ones included). */
  onNode: string[];
  /** Deployments (by name) whose ready pods are fewer than wanted. */
  notReady: string[];
  /** Pods the scheduler could not place on any node. */
  unplaced: string[];
  /** Pods to delete at once: they were evicted from a node no kubelet answers for, which never confirms their end. */
  forceDelete: string[];
}

const unschedulable = (pod: V1Pod) =>
  pod.status?.phase === 'Pending' && (pod.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');

/**
 * Where the drain stands. `pods` are this installation's app pods (every node), `deployments` the ones that had pods
 * on the node; `nodeLost` says the node's kubelet does not answer.
 */
export function drainStatus(node: string, pods: V1Pod[], deployments: V1Deployment[], nodeLost: boolean): DrainStatus {
  const live = pods.filter((p) => !isFinished(p) && p.metadata?.labels?.[LABEL.managed] === '1');
  const onNodePods = live.filter((p) => p.spec?.nodeName === node);
  const forceDelete = nodeLost ? onNodePods.filter(isTerminating).map((p) => p.metadata!.name!) : [];
  const onNode = onNodePods.map((p) => p.metadata!.name!).filter((n) => !forceDelete.includes(n));
  const notReady = deployments.filter((d) => (d.status?.readyReplicas ?? 0) < (d.spec?.replicas ?? 0)).map((d) => d.metadata!.name!);
  const unplaced = live.filter(unschedulable).map((p) => p.metadata!.name!);
  return { done: onNode.length === 0 && forceDelete.length === 0 && notReady.length === 0, onNode, notReady, unplaced, forceDelete };
}

/** One progress line for a status, so the executor only prints when it changed. */
export function describeDrain(status: DrainStatus): string {
  if (status.done) return 'every instance runs elsewhere and is ready';
  const parts: string[] = [];
  if (status.onNode.length) parts.push(`${status.onNode.length} still on the node (${status.onNode.join(', ')})`);
  if (status.forceDelete.length) parts.push(`${status.forceDelete.length} left behind by the lost node`);
  if (status.notReady.length) parts.push(`waiting for ${status.notReady.join(', ')} to be ready elsewhere`);
  if (status.unplaced.length) parts.push(`no node can take ${status.unplaced.join(', ')}`);
  return parts.join('; ');
}
