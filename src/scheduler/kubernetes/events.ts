// Instance changes as RuntimeEvents, from a watch on the installation's pods: a container (re)started, died
// (with its exit code; OOM kills too), or its pod went away. The pods already there when watching starts are
// listed first and produce no events, like Docker's event stream.
import { Watch, type V1Pod } from '@kubernetes/client-node';
import type { RuntimeEvent } from '../../runtime/types.ts';
import type { Cluster } from './client.ts';
import { CONTAINER, LABEL, processOfLabels } from './manifests.ts';
import { instancesFromPods } from './instances.ts';

/** What was last seen of a pod's container, to tell what changed. */
interface Seen { startedAt: string | null; finishedAt: string | null; restarts: number }

export function seenOf(pod: V1Pod): Seen {
  const status = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  const running = status?.state?.running?.startedAt;
  const finished = status?.state?.terminated?.finishedAt ?? status?.lastState?.terminated?.finishedAt;
  return { startedAt: running ? new Date(running).toISOString() : null, finishedAt: finished ? new Date(finished).toISOString() : null, restarts: status?.restartCount ?? 0 };
}

/** The events between two sightings of a pod's container (before null: first sighting after the list). */
export function changesOf(before: Seen | null, pod: V1Pod): Omit<RuntimeEvent, 'app' | 'process' | 'index' | 'container'>[] {
  const now = seenOf(pod);
  const status = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  const events: Omit<RuntimeEvent, 'app' | 'process' | 'index' | 'container'>[] = [];
  if (now.finishedAt && now.finishedAt !== before?.finishedAt) {
    const terminated = status?.state?.terminated ?? status?.lastState?.terminated;
    if (terminated?.reason === 'OOMKilled') events.push({ time: now.finishedAt, action: 'oom', exitCode: null });
    events.push({ time: now.finishedAt, action: 'die', exitCode: terminated?.exitCode ?? null });
  }
  if (now.startedAt && now.startedAt !== before?.startedAt) events.push({ time: now.startedAt, action: 'start', exitCode: null });
  return events;
}

export async function* podEvents(cluster: Cluster, namespace: string, selector: string, signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
  const queue: RuntimeEvent[] = [];
  let wake: (() => void) | null = null;
  const push = (e: RuntimeEvent) => { queue.push(e); wake?.(); wake = null; };
  const pods = new Map<string, V1Pod>();
  const seen = new Map<string, Seen>();

  const identity = (pod: V1Pod) => {
    const name = pod.metadata?.name ?? '';
    const instance = instancesFromPods([...pods.values()]).find((i) => i.id === name);
    return { app: pod.metadata?.labels?.[LABEL.app] ?? '', process: processOfLabels(pod.metadata?.labels ?? {}), index: instance?.index ?? 0, container: name };
  };
  const onChange = (phase: string, pod: V1Pod) => {
    const name = pod.metadata?.name ?? '';
    if (phase === 'DELETED') {
      const id = identity(pod);
      pods.delete(name);
      seen.delete(name);
      push({ time: new Date().toISOString(), ...id, action: 'destroy', exitCode: null });
      return;
    }
    if (phase !== 'ADDED' && phase !== 'MODIFIED') return;
    pods.set(name, pod);
    const changes = changesOf(seen.get(name) ?? null, pod);
    seen.set(name, seenOf(pod));
    for (const change of changes) push({ ...change, ...identity(pod) });
  };

  const watch = new Watch(cluster.config);
  const watching = { request: null as AbortController | null };
  const stop = () => { watching.request?.abort(); wake?.(); wake = null; };
  signal.addEventListener('abort', stop, { once: true });
  try {
    while (!signal.aborted) {
      // (Re)list, then watch from that version: a broken watch is resumed without inventing events.
      const list = await cluster.core.listNamespacedPod({ namespace, labelSelector: selector });
      pods.clear();
      for (const pod of list.items) {
        pods.set(pod.metadata?.name ?? '', pod);
        if (!seen.has(pod.metadata?.name ?? '')) seen.set(pod.metadata?.name ?? '', seenOf(pod));
      }
      const ended = new Promise<void>((resolve) => {
        void watch.watch(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: selector, resourceVersion: list.metadata?.resourceVersion },
          (phase, obj) => onChange(phase, obj as V1Pod), () => { resolve(); wake?.(); wake = null; })
          .then((controller) => { watching.request = controller; if (signal.aborted) controller.abort(); }, () => resolve());
      });
      let done = false;
      void ended.then(() => { done = true; });
      while (!signal.aborted && !done) {
        const event = queue.shift();
        if (event) yield event;
        else await new Promise<void>((resolve) => { wake = resolve; void ended.then(resolve); });
      }
      while (queue.length && !signal.aborted) yield queue.shift()!;
      if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    signal.removeEventListener('abort', stop);
    watching.request?.abort();
  }
}
