// Instance counters from each node's kubelet summary (`/stats/summary` through the API server's node proxy):
// no metrics-server needed. CPU time, working set and network bytes are cumulative, as the collector expects.
import type { InstanceStats, Instance } from '../../runtime/types.ts';
import type { Cluster } from './client.ts';
import { CONTAINER } from './manifests.ts';

interface Summary {
  pods?: {
    podRef: { name: string; namespace: string };
    containers?: { name: string; cpu?: { time?: string; usageCoreNanoSeconds?: number }; memory?: { time?: string; workingSetBytes?: number } }[];
    network?: { rxBytes?: number; txBytes?: number };
  }[];
}

export async function readStats(cluster: Cluster, namespace: string, instances: Instance[]): Promise<InstanceStats[]> {
  const running = new Map(instances.filter((i) => i.state === 'running').map((i) => [i.id, i]));
  if (running.size === 0) return [];
  const nodes = [...new Set([...running.values()].map((i) => i.hostName).filter((n): n is string => Boolean(n)))];
  const summaries = await Promise.all(nodes.map((name) => cluster.core.connectGetNodeProxyWithPath({ name, path: 'stats/summary' })
    .then((raw) => (typeof raw === 'string' ? JSON.parse(raw) : raw) as Summary)));
  return summaries.flatMap((summary) => statsFromSummary(summary, namespace, running));
}

export function statsFromSummary(summary: Summary, namespace: string, running: Map<string, Instance>): InstanceStats[] {
  const stats: InstanceStats[] = [];
  for (const pod of summary.pods ?? []) {
    const instance = pod.podRef.namespace === namespace ? running.get(pod.podRef.name) : undefined;
    const container = pod.containers?.find((c) => c.name === CONTAINER);
    if (!instance || !container?.cpu) continue;
    const at = Date.parse(container.cpu.time ?? '');
    stats.push({
      id: instance.id, app: instance.app, process: instance.process, index: instance.index,
      at: Number.isNaN(at) ? Date.now() : at,
      cpuNs: container.cpu.usageCoreNanoSeconds ?? 0,
      memoryBytes: container.memory?.workingSetBytes ?? 0,
      memoryLimitBytes: instance.memoryMB !== null ? instance.memoryMB * 1024 * 1024 : null,
      rxBytes: pod.network?.rxBytes ?? 0,
      txBytes: pod.network?.txBytes ?? 0,
      // The summary's container stats have no block I/O counters.
      blockReadBytes: 0,
      blockWriteBytes: 0,
    });
  }
  return stats;
}
