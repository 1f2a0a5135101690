// What Berth does about a node it judges lost (node-view.ts isLost: not Ready, or its lease not renewed for
// LEASE_STALE_MS), decided without the cluster: the node gets Berth's taint berth.lost:NoSchedule, so no new pod
// lands on a machine that does not answer, and this installation's app pods there are replaced at once (the
// executor deletes them; drain-plan.ts evictionPlan picks them: add-ons stay with their data, one-offs are left).
// The cluster alone would wait for its node-monitor grace period (40 s) and then the pods' tolerations
// (manifests.ts LOST_NODE_TOLERATION_SEC): a minute and more before a replacement even starts. A node that answers
// again loses the taint. Nothing is done while no node answers at all: there is nowhere to move to.
import type { V1Node, V1Taint } from '@kubernetes/client-node';

export const LOST_TAINT = { key: 'berth.lost', value: 'true', effect: 'NoSchedule' } as const;

const isLostTaint = (t: V1Taint) => t.key === LOST_TAINT.key && t.effect === LOST_TAINT.effect;

export const hasLostTaint = (node: V1Node): boolean => (node.spec?.taints ?? []).some(isLostTaint);

export interface FencePlan {
  /** Lost nodes to taint. */
  fence: string[];
  /** Nodes that answer again and still carry the taint. */
  release: string[];
  /** Lost nodes whose app pods are replaced elsewhere. */
  replace: string[];
}

/** `lost`: the names node-view.ts judged lost, among `nodes` (every Node of the cluster). */
export function fencePlan(nodes: V1Node[], lost: ReadonlySet<string>): FencePlan {
  const named = nodes.map((node) => ({ node, name: node.metadata?.name ?? '' })).filter((n) => n.name);
  const answering = named.some((n) => !lost.has(n.name));
  const lostNodes = answering ? named.filter((n) => lost.has(n.name)) : [];
  return {
    fence: lostNodes.filter((n) => !hasLostTaint(n.node)).map((n) => n.name).sort(),
    release: named.filter((n) => !lost.has(n.name) && hasLostTaint(n.node)).map((n) => n.name).sort(),
    replace: lostNodes.map((n) => n.name).sort(),
  };
}

/** The node's taints with (or without) Berth's: every other taint is kept as it is. */
export function taintsWith(node: V1Node, fenced: boolean): V1Taint[] {
  const others = (node.spec?.taints ?? []).filter((t) => !isLostTaint(t));
  return fenced ? [...others, { ...LOST_TAINT }] : others;
}
