// Pods as Berth's Instances. A pod has no Heroku-style number, so each process type's pods are numbered
// by age (oldest first, name as tie-break; terminating pods last): web.1 stays web.1 while it lives. A canary's
// pods are numbered apart, web.1 and on of the canary's release, as the Docker scheduler's canary instances are.
import type { V1Pod } from '@kubernetes/client-node';
import type { Instance, InstanceState } from '../../runtime/types.ts';
import { ANNOTATION, CONTAINER, LABEL, processOfLabels } from './manifests.ts';

export function instancesFromPods(pods: V1Pod[]): Instance[] {
  const groups = new Map<string, V1Pod[]>();
  for (const pod of pods) {
    const labels = pod.metadata?.labels ?? {};
    const key = `${labels[LABEL.app]}/${labels[LABEL.process] ?? `canary ${labels[LABEL.canary]}`}`;
    groups.set(key, [...(groups.get(key) ?? []), pod]);
  }
  const instances: Instance[] = [];
  for (const group of groups.values()) {
    group.sort(byAge).forEach((pod, i) => instances.push(instanceOf(pod, i + 1)));
  }
  return instances;
}

/** Live pods first (terminating ones are on their way out and must not hold web.1), then by age. */
function byAge(a: V1Pod, b: V1Pod): number {
  const da = a.metadata?.deletionTimestamp ? 1 : 0;
  const db = b.metadata?.deletionTimestamp ? 1 : 0;
  if (da !== db) return da - db;
  const ta = timeOf(a.metadata?.creationTimestamp);
  const tb = timeOf(b.metadata?.creationTimestamp);
  if (ta !== tb) return ta - tb;
  return (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
}

function instanceOf(pod: V1Pod, index: number): Instance {
  const labels = pod.metadata?.labels ?? {};
  const container = pod.spec?.containers.find((c) => c.name === CONTAINER);
  const status = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  const limits = container?.resources?.limits ?? {};
  return {
    id: pod.metadata?.name ?? '',
    name: pod.metadata?.name ?? '',
    app: labels[LABEL.app] ?? '',
    release: Number(labels[LABEL.release]) || 0,
    process: processOfLabels(labels),
    index,
    generation: Number(pod.metadata?.annotations?.[ANNOTATION.generation]) || 0,
    image: container?.image ?? '',
    host: pod.status?.hostIP ?? '',
    hostName: pod.spec?.nodeName,
    hostPort: null,
    privateAddress: null,
    memoryMB: limits.memory ? memoryMB(String(limits.memory)) : null,
    cpus: limits.cpu ? cpus(String(limits.cpu)) : null,
    state: podState(pod),
    startedAt: isoOrNull(status?.state?.running?.startedAt),
    restartCount: status?.restartCount ?? 0,
  };
}

export function podState(pod: V1Pod): InstanceState {
  if (pod.metadata?.deletionTimestamp) return 'removing';
  const status = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  if (status?.state?.running) return 'running';
  if (status?.state?.waiting?.reason === 'CrashLoopBackOff') return 'restarting';
  if (status?.state?.terminated) return pod.status?.phase === 'Failed' ? 'dead' : 'exited';
  if (pod.status?.phase === 'Succeeded') return 'exited';
  if (pod.status?.phase === 'Failed') return 'dead';
  return 'created';
}

const timeOf = (t: Date | string | undefined) => (t ? new Date(t).getTime() : 0);

function isoOrNull(t: Date | string | undefined): string | null {
  return t ? new Date(t).toISOString() : null;
}

/** Kubernetes quantities as Berth's whole MB (Mi as written by manifests.ts; other suffixes converted). */
export function memoryMB(q: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) return null;
  const bytes = Number(m[1]) * ({ Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ''] ?? 1);
  return Math.round(bytes / 2 ** 20);
}

export function cpus(q: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(q);
  if (!m) return null;
  return m[2] ? Number(m[1]) / 1000 : Number(m[1]);
}
