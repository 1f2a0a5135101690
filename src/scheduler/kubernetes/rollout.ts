// Judging a Deployment's rollout from what the cluster reports: done, still going (with a one-line summary
// for `git push`), or failed with the reason a user can act on. Pure: the executor (index.ts) polls the
// Deployment, the pods of its new ReplicaSet and their warning events, and asks rolloutVerdict each time.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { CONTAINER } from './manifests.ts';

export type Verdict =
  | { state: 'done' }
  | { state: 'waiting'; summary: string }
  | { state: 'failed'; reason: string };

export interface RolloutSnapshot {
  processType: string;
  deployment: V1Deployment;
  /** Pods of the Deployment's newest ReplicaSet: the ones this rollout started. */
  newPods: V1Pod[];
  /** The newest readiness-probe failure seen per pod name (from Warning events). */
  probeFailures: Map<string, string>;
  healthPath: string;
  /** A new pod running this long without passing its readiness probe fails the rollout. */
  healthTimeoutSec: number;
  now: number;
}

/**
 * Waiting reasons a pod does not recover from by itself within a rollout. CreateContainerConfigError is not one:
 * the kubelet reports it for a Secret it has not synced yet too ("failed to sync secret cache"), and retries.
 */
const STUCK = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'RunContainerError']);

export function rolloutVerdict(s: RolloutSnapshot): Verdict {
  const { deployment: d, processType } = s;
  const wanted = d.spec?.replicas ?? 0;
  const status = d.status ?? {};
  for (const pod of s.newPods) {
    const problem = podProblem(pod, s);
    if (problem) return { state: 'failed', reason: `${processType} pod ${pod.metadata?.name}: ${problem}` };
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return { state: 'failed', reason: `${processType}: ${progressing.message ?? 'the rollout made no progress'}` };
  }
  const observed = (status.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const updated = status.updatedReplicas ?? 0;
  const ready = status.readyReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  const total = status.replicas ?? 0;
  if (observed && updated === wanted && available === wanted && ready === wanted && total === wanted) return { state: 'done' };
  const old = Math.max(0, total - updated);
  return {
    state: 'waiting',
    summary: `${processType}: ${updated}/${wanted} new, ${ready} ready${old ? `, ${old} old still running` : ''}`,
  };
}

function podProblem(pod: V1Pod, s: RolloutSnapshot): string | null {
  const container = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
  if (unschedulable) return `cannot be scheduled: ${unschedulable.message ?? 'no node has room'}`;
  if (!container) return null;
  const waiting = container.state?.waiting;
  const last = container.lastState?.terminated;
  if (container.restartCount > 0 || waiting?.reason === 'CrashLoopBackOff') {
    const exit = last ? ` (exit code ${last.exitCode}${last.reason && last.reason !== 'Error' ? `, ${last.reason}` : ''})` : '';
    return `the process crashed and was restarted ${container.restartCount} time(s)${exit}`;
  }
  if (waiting?.reason && STUCK.has(waiting.reason)) return `${waiting.reason}: ${waiting.message ?? ''}`.trim();
  const terminated = container.state?.terminated;
  if (terminated) return `the process exited (exit code ${terminated.exitCode}${terminated.reason ? `, ${terminated.reason}` : ''})`;
  const startedAt = container.state?.running?.startedAt;
  if (startedAt && !container.ready) {
    const runningSec = (s.now - new Date(startedAt).getTime()) / 1000;
    if (runningSec > s.healthTimeoutSec) {
      const last = s.probeFailures.get(pod.metadata?.name ?? '');
      return `failed its health check: GET ${s.healthPath} did not succeed within ${s.healthTimeoutSec} s${last ? ` (${last})` : ''}`;
    }
  }
  return null;
}

/** The pods the newest ReplicaSet owns carry its pod-template-hash; this picks that hash from the ReplicaSets. */
export function newestTemplateHash(deployment: V1Deployment, replicaSets: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: { uid?: string }[] } }[]): string | null {
  const revision = deployment.metadata?.annotations?.['deployment.kubernetes.io/revision'];
  if (!revision) return null;
  const owned = replicaSets.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === deployment.metadata?.uid));
  const newest = owned.find((rs) => rs.metadata?.annotations?.['deployment.kubernetes.io/revision'] === revision);
  return newest?.metadata?.labels?.['pod-template-hash'] ?? null;
}

/** Why the new pods are not running yet ("CreateContainerConfigError: …"), for a rollout that ran out of time. */
export function waitingReasons(pods: V1Pod[]): string[] {
  return pods.flatMap((pod) => {
    const waiting = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.waiting;
    return waiting?.reason && waiting.reason !== 'ContainerCreating' ? [`${pod.metadata?.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`] : [];
  });
}
