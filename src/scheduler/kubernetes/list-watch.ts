// Keeping up with a set of cluster objects: list them, then watch from the list's resourceVersion; when the
// watch ends (the API server closes watches after a while) or breaks, list again. The app DNS follows the web
// Services' endpoints this way (pod-addresses.ts), and early admission a rollout's pods (admission.ts).
import { Watch, type KubeConfig } from '@kubernetes/client-node';

export interface ListWatchOptions<T> {
  config: KubeConfig;
  /** The collection's API path, e.g. /api/v1/namespaces/NS/pods. */
  path: string;
  labelSelector: string;
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  /** Each listed object, then each change; gone when it was deleted. */
  onObject: (obj: T, gone: boolean) => void;
  /** A failed list or watch, retried after retryMs. */
  onError: (err: Error) => void;
  signal: AbortSignal;
  retryMs: number;
}

/** Runs until the signal aborts. */
export async function listWatch<T>(opts: ListWatchOptions<T>): Promise<void> {
  const { signal } = opts;
  const watch = new Watch(opts.config);
  let request: AbortController | null = null;
  let ended: (() => void) | null = null;
  const onAbort = () => { request?.abort(); ended?.(); };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    while (!signal.aborted) {
      try {
        const list = await opts.list();
        if (signal.aborted) return;
        for (const item of list.items) opts.onObject(item, false);
        await new Promise<void>((resolve) => {
          ended = resolve;
          void watch.watch(opts.path, { labelSelector: opts.labelSelector, resourceVersion: list.metadata?.resourceVersion },
            (phase, obj) => { if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') opts.onObject(obj as T, phase === 'DELETED'); },
            () => resolve())
            .then((controller) => { request = controller; if (signal.aborted) controller.abort(); }, () => resolve());
        });
      } catch (err) {
        if (!signal.aborted) opts.onError(err as Error);
      }
      if (!signal.aborted) await new Promise((r) => setTimeout(r, opts.retryMs));
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
