// One-offs (the release phase, `berth run`) as Jobs: one pod, never retried, killed by the Job controller at
// activeDeadlineSeconds. Its output is passed on line by line, its exit code read from the container status,
// and the Job deleted afterwards (with its pod).
import { randomBytes } from 'node:crypto';
import readline from 'node:readline';
import type { V1Pod } from '@kubernetes/client-node';
import type { OneOffRequest } from '../types.ts';
import { apiMessage, type Cluster } from './client.ts';
import { CONTAINER, jobFor, jobName } from './manifests.ts';
import { streamGet } from './stream.ts';
import type { NodeSelection } from './node-selection.ts';

const POLL_MS = 500;
/** Scheduling and pulling the image, before the command's own timeout starts. */
const START_BUDGET_SEC = 120;
// Not CreateContainerConfigError: the kubelet also reports it for a Secret it could not read yet, and retries.
const STUCK = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'RunContainerError']);

export async function runJob(cluster: Cluster, namespace: string, owner: string, req: OneOffRequest, image: string, onLine: (line: string) => void,
  selection?: NodeSelection): Promise<number> {
  const name = jobName(req.app, 'run', `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`);
  await cluster.batch.createNamespacedJob({ namespace, body: jobFor(req, image, name, owner, selection) });
  try {
    const deadline = Date.now() + (START_BUDGET_SEC + req.timeoutSec + 30) * 1000;
    const started = await waitFor(cluster, namespace, name, deadline, (pod) => {
      const status = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
      const reason = status?.state?.waiting?.reason;
      if (reason && STUCK.has(reason)) throw new Error(`the one-off could not start: ${reason}: ${status?.state?.waiting?.message ?? ''}`.trim());
      return Boolean(status?.state?.running || status?.state?.terminated);
    });
    // No pod: the Job ended before its container started (a deadline shorter than the start).
    if (started) await passLines(cluster, namespace, started.metadata!.name!, onLine);
    const finished = started && await waitFor(cluster, namespace, name, deadline, (pod) =>
      Boolean(pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.terminated));
    const job = await cluster.batch.readNamespacedJob({ name, namespace });
    if (job.status?.conditions?.some((c) => c.reason === 'DeadlineExceeded')) onLine(`timed out after ${req.timeoutSec} s; stopped it`);
    const terminated = finished?.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.terminated;
    return terminated?.exitCode ?? 137; // the pod went with the deadline: killed
  } finally {
    await cluster.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }).catch(() => {});
  }
}

/**
 * Polls the Job's pod until `ready` says so. Null when the Job ended without one: the Job controller deletes
 * the pod at the deadline, which can come before the container ever ran.
 */
async function waitFor(cluster: Cluster, namespace: string, job: string, deadline: number, ready: (pod: V1Pod) => boolean): Promise<V1Pod | null> {
  while (Date.now() < deadline) {
    const pods = (await cluster.core.listNamespacedPod({ namespace, labelSelector: `job-name=${job}` })).items;
    const pod = pods[0];
    if (pod) {
      if (ready(pod)) return pod;
    } else {
      const status = (await cluster.batch.readNamespacedJob({ name: job, namespace })).status;
      if (status?.failed || status?.succeeded) return null;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`the one-off ${job} did not finish in time`);
}

async function passLines(cluster: Cluster, namespace: string, pod: string, onLine: (line: string) => void): Promise<void> {
  const abort = new AbortController();
  try {
    const stream = await streamGet(cluster, `/api/v1/namespaces/${namespace}/pods/${pod}/log`, { container: CONTAINER, follow: 'true' }, abort.signal);
    const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
    for await (const line of lines) onLine(line);
  } catch (err) {
    onLine(`(the one-off's output could not be read: ${apiMessage(err)})`);
  } finally {
    abort.abort();
  }
}
