// Resource counters of every running Berth container, read with the engine's one-shot stats.
// `stream=false&one-shot=true` (API 1.41, Docker 20.10) skips the second sample that fills precpu_stats
// (stream=false alone: ~1.4 s per call here); the collector computes rates from its own previous reading.
// Even one-shot waits for the engine's next 1 s stats tick, which serves every waiting container at once:
// so many calls are kept in flight (waiting, not working), and a round of 100 takes about two ticks.
import os from 'node:os';
import type Docker from 'dockerode';
import type { InstanceStats } from '../types.ts';
import { Semaphore } from '../../shared/semaphore.ts';
import { isNotFound, withDeadline } from './errors.ts';
import { identityFromLabels, managedLabelFilter } from './labels.ts';

/** The parts of the engine's stats answer Berth reads (cgroup v1 and v2 differ in memory_stats.stats). */
interface EngineStats {
  read: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
}

export interface StatsReaderOptions {
  owner: string;
  requestMs: number;
  /** Stats calls in flight at once; each mostly waits for the engine's 1 s tick (6 at once: 17 s for 100). */
  concurrency?: number;
}

export class StatsReader {
  private readonly docker: Docker;
  private readonly opts: StatsReaderOptions;
  private readonly inFlight: Semaphore;

  constructor(docker: Docker, opts: StatsReaderOptions) {
    this.docker = docker;
    this.opts = opts;
    this.inFlight = new Semaphore(opts.concurrency ?? 50);
  }

  async readAll(): Promise<InstanceStats[]> {
    const containers = await withDeadline('listing running containers', this.opts.requestMs, (abortSignal) =>
      this.docker.listContainers({ filters: { label: managedLabelFilter(this.opts.owner), status: ['running'] }, abortSignal }));
    const readings = await Promise.all(containers.map((c) => this.inFlight.run(() => this.readOne(c))));
    return readings.filter((r) => r !== null);
  }

  /** null when the container stopped between listing and reading. */
  private async readOne(container: Docker.ContainerInfo): Promise<InstanceStats | null> {
    let raw: EngineStats;
    try {
      raw = await withDeadline(`reading stats of ${container.Id.slice(0, 12)}`, this.opts.requestMs, (abortSignal) =>
        this.docker.getContainer(container.Id).stats({ stream: false, 'one-shot': true, abortSignal } as never) as unknown as Promise<EngineStats>);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    if (!raw.cpu_stats?.cpu_usage) return null; // a container that just stopped answers with empty stats
    return { id: container.Id, ...identityFromLabels(container.Labels), ...countersOf(raw) };
  }
}

export function countersOf(raw: EngineStats): Omit<InstanceStats, 'id' | 'app' | 'process' | 'index'> {
  const memory = raw.memory_stats ?? {};
  const cache = memory.stats?.total_inactive_file ?? memory.stats?.inactive_file ?? 0;
  const limit = memory.limit ?? 0;
  let rxBytes = 0;
  let txBytes = 0;
  for (const net of Object.values(raw.networks ?? {})) {
    rxBytes += net.rx_bytes ?? 0;
    txBytes += net.tx_bytes ?? 0;
  }
  let blockReadBytes = 0;
  let blockWriteBytes = 0;
  for (const entry of raw.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = entry.op.toLowerCase();
    if (op === 'read') blockReadBytes += entry.value;
    else if (op === 'write') blockWriteBytes += entry.value;
  }
  const at = Date.parse(raw.read);
  return {
    at: Number.isNaN(at) ? Date.now() : at,
    cpuNs: raw.cpu_stats?.cpu_usage?.total_usage ?? 0,
    memoryBytes: Math.max(0, (memory.usage ?? 0) - cache),
    // Without a limit the engine reports the host's memory; that is no limit of the instance's own.
    memoryLimitBytes: limit > 0 && limit < os.totalmem() ? limit : null,
    rxBytes, txBytes, blockReadBytes, blockWriteBytes,
  };
}
