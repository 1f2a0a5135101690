// How a Kubernetes Node reads in `berth hosts`: role, readiness (and since when), cordon, capacity and what its pods
// request. Pure: the executor (nodes-service.ts) lists Nodes, Leases and pods and hands them here.
import type { V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import type { NodeReadiness, NodeView } from '../../wire/hosts.ts';

/** A kubelet renews its Lease every 10 s; one not renewed for this long is not answering, whatever the Node still says. */
export const LEASE_STALE_MS = 20_000;
const CONTROL_PLANE_LABELS = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'];

/** A resource quantity ("250m", "1", "512Mi", "1Gi", "1000k") as a plain number (cores, bytes). */
export function quantity(text: string | undefined): number | null {
  if (!text) return null;
  const m = /^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/.exec(text.trim());
  if (!m) return null;
  const factor: Record<string, number> = {
    '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  };
  return Number(m[1]) * factor[m[2] ?? ''];
}

export const isFinished = (pod: V1Pod): boolean => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/**
 * Ready, NotReady or Unknown, and since when. A Node whose Ready condition is True but whose kubelet stopped renewing
 * its Lease is Unknown from the last renewal: the controller would say so only after its 40 s grace period.
 */
export function readinessOf(node: V1Node, lease: V1Lease | null, now: number, staleMs = LEASE_STALE_MS): { readiness: NodeReadiness; since: string | null; reason: string | null } {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const since = ready?.lastTransitionTime ? new Date(ready.lastTransitionTime).toISOString() : null;
  const renewed = lease?.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : null;
  if (ready?.status === 'True') {
    if (renewed !== null && now - renewed > staleMs) {
      return { readiness: 'Unknown', since: new Date(renewed).toISOString(), reason: `the kubelet has not renewed its lease for ${Math.round((now - renewed) / 1000)} s` };
    }
    return { readiness: 'Ready', since, reason: null };
  }
  if (ready?.status === 'False') return { readiness: 'NotReady', since, reason: ready.message || ready.reason || null };
  const created = node.metadata?.creationTimestamp ? new Date(node.metadata.creationTimestamp).toISOString() : null;
  return { readiness: 'Unknown', since: since ?? created, reason: ready?.message || (ready ? null : 'no kubelet has reported for this node') };
}

export const isLost = (node: V1Node, lease: V1Lease | null, now: number): boolean => readinessOf(node, lease, now).readiness !== 'Ready';

export const internalIp = (node: V1Node): string | null =>
  node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? null;

function requested(pods: V1Pod[], resource: 'cpu' | 'memory'): number {
  return pods.reduce((sum, pod) => sum + (pod.spec?.containers ?? []).reduce((s, c) => s + (quantity(c.resources?.requests?.[resource]) ?? 0), 0), 0);
}

export interface NodeViewInput {
  node: V1Node;
  lease: V1Lease | null;
  /** Every pod bound to this node (any namespace). */
  pods: V1Pod[];
  owner: string;
  host: NodeView['host'];
  now: number;
}

export function nodeView({ node, lease, pods, owner, host, now }: NodeViewInput): NodeView {
  const labels = node.metadata?.labels ?? {};
  const live = pods.filter((p) => !isFinished(p));
  const { readiness, since, reason } = readinessOf(node, lease, now);
  const cpu = quantity(node.status?.allocatable?.cpu);
  const memory = quantity(node.status?.allocatable?.memory);
  return {
    name: node.metadata!.name!,
    role: CONTROL_PLANE_LABELS.some((l) => l in labels) ? 'control-plane' : 'agent',
    readiness, readinessSince: since, reason,
    schedulable: !node.spec?.unschedulable,
    address: internalIp(node),
    kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? null,
    cpu: { allocatable: cpu === null ? null : round(cpu, 3), requested: round(requested(live, 'cpu'), 3) },
    memoryMB: { allocatable: memory === null ? null : Math.floor(memory / 2 ** 20), requested: Math.round(requested(live, 'memory') / 2 ** 20) },
    pods: live.length,
    berthPods: live.filter((p) => p.metadata?.labels?.['berth.owner'] === owner).length,
    host,
  };
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
