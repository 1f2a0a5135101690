// Early admission: while a web rollout runs and the app is routed to its pods (pod-addresses.ts), Berth checks
// each new pod's health itself, as the Docker scheduler checks a new container, and gives it traffic as soon
// as it answers, instead of waiting for the kubelet's once-a-second readiness probe and the endpoints behind
// it. The pods are followed by a watch, so a new pod is probed the moment the kubelet reports it running with
// its IP. Only a head start: the rollout itself still goes by the kubelet's probes.
import type { V1Pod } from '@kubernetes/client-node';
import type { Cluster } from './client.ts';
import { CONTAINER } from './manifests.ts';
import { listWatch } from './list-watch.ts';
import { forgetNeighbor } from './neighbor.ts';
import { probeOnce } from '../../releases/health.ts';

/** How often a new pod that does not answer yet is asked again. */
const PROBE_EVERY_MS = 50;
const PROBE_TIMEOUT_MS = 500;
const RETRY_MS = 1000;

export interface EarlyAdmission {
  /** Resolves once the pods already there are known: they are the old ones, so the rollout may start. */
  listed: Promise<void>;
  /** Stops watching and probing; resolves when nothing more will be admitted. Safe to call twice. */
  stop(): Promise<void>;
}

export interface EarlyAdmissionOptions {
  cluster: Cluster;
  namespace: string;
  /** The label selector of the app's web pods. */
  selector: string;
  port: number;
  healthPath: string;
  /** Gives the pod at this address traffic. */
  admit: (address: string) => Promise<unknown>;
  log: (line: string) => void;
}

/**
 * The address to probe of a pod the rollout started (not one of `old`, the pods there before it): once the
 * kubelet reports its container running and its IPv4 address (the app DNS answers A records), unless it is
 * already going away. Null otherwise.
 */
export function newPodAddress(pod: V1Pod, old: Set<string>): string | null {
  if (old.has(pod.metadata?.uid ?? '') || pod.metadata?.deletionTimestamp) return null;
  const ip = pod.status?.podIP;
  const running = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.running;
  return ip && !ip.includes(':') && running ? ip : null;
}

/** Starts following the app's web pods; call before the Deployment changes and wait for `listed`. */
export function admitNewPods(opts: EarlyAdmissionOptions): EarlyAdmission {
  const { cluster, namespace, selector } = opts;
  const abort = new AbortController();
  let old: Set<string> | null = null;
  let markListed!: () => void;
  const listed = new Promise<void>((resolve) => { markListed = resolve; });
  const probes = new Map<string, Promise<void>>();

  const admitWhenHealthy = async (ip: string): Promise<void> => {
    const url = `http://${ip}:${opts.port}${opts.healthPath}`;
    // The address may be a deleted pod's, whose MAC this machine still holds (neighbor.ts).
    await forgetNeighbor(ip, opts.log);
    while (!abort.signal.aborted) {
      if (await probeOnce(url, PROBE_TIMEOUT_MS) === null) {
        if (!abort.signal.aborted) await opts.admit(ip).catch((err) => opts.log(`k3s: early admission of ${ip} failed: ${(err as Error).message}`));
        return;
      }
      await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
    }
  };

  const watching = listWatch<V1Pod>({
    config: cluster.config, path: `/api/v1/namespaces/${namespace}/pods`, labelSelector: selector, signal: abort.signal, retryMs: RETRY_MS,
    list: async () => {
      try {
        const list = await cluster.core.listNamespacedPod({ namespace, labelSelector: selector });
        old ??= new Set(list.items.map((pod) => pod.metadata?.uid ?? ''));
        return list;
      } catch (err) {
        // Without the old pods every pod would look new: no head start this time.
        if (!old) {
          opts.log(`k3s: early admission is off for this rollout: ${(err as Error).message}`);
          abort.abort();
        }
        throw err;
      } finally {
        markListed();
      }
    },
    onObject: (pod, gone) => {
      const ip = gone || !old ? null : newPodAddress(pod, old);
      if (!ip || probes.has(ip) || abort.signal.aborted) return;
      probes.set(ip, admitWhenHealthy(ip));
    },
    onError: (err) => opts.log(`k3s: early admission: watching the pods failed (${err.message}); again in ${RETRY_MS / 1000} s`),
  });

  return {
    listed,
    stop: async () => {
      abort.abort();
      await watching;
      await Promise.all(probes.values());
    },
  };
}
