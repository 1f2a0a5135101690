// A host's usage as the hosts page shows it: CPU % (from two /proc/stat samples), memory, and the disk
// holding Docker's data (or the root filesystem). Sampled on
// request at most every SAMPLE_MS per host, so an idle Berth does no work for it, and the same small shell
// probe runs locally or over SSH.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const SAMPLE_MS = 5_000;
const run = promisify(execFile);

/** One shell line, the same on every Debian/Ubuntu host: cpu counters, memory, disk of /var/lib/docker. */
export const PROBE = "head -n1 /proc/stat; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo; nproc; " +
  "df -PB1 /var/lib/docker 2>/dev/null | tail -n1 || df -PB1 / | tail -n1";

export interface HostUsage {
  cpus: number | null;
  cpuPercent: number | null;    // of all cores, since the previous sample; null on the first one
  memTotal: number | null;      // bytes
  memUsed: number | null;
  diskTotal: number | null;     // bytes, the filesystem holding Docker's data
  diskUsed: number | null;
  sampledAt: string;
}

interface CpuCounters { busy: number; total: number }

export function parseProbe(output: string): { cpu: CpuCounters | null; load: Omit<HostUsage, 'cpuPercent' | 'sampledAt'> } {
  const lines = output.split('\n');
  const cpuLine = lines.find((l) => l.startsWith('cpu '));
  let cpu: CpuCounters | null = null;
  if (cpuLine) {
    const n = cpuLine.trim().split(/\s+/).slice(1).map(Number);
    const idle = (n[3] ?? 0) + (n[4] ?? 0); // idle + iowait
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
    cpu = { busy: total - idle, total };
  }
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(output);
    return m ? Number(m[1]) * 1024 : null;
  };
  const memTotal = kb('MemTotal');
  const memAvailable = kb('MemAvailable');
  const nproc = lines.find((l) => /^\d+$/.test(l.trim()));
  const df = lines.find((l) => /^\S+\s+\d+\s+\d+\s+\d+\s+\d+%/.test(l.trim()));
  const dfFields = df?.trim().split(/\s+/);
  return {
    cpu,
    load: {
      cpus: nproc ? Number(nproc) : null,
      memTotal, memUsed: memTotal !== null && memAvailable !== null ? memTotal - memAvailable : null,
      diskTotal: dfFields ? Number(dfFields[1]) : null, diskUsed: dfFields ? Number(dfFields[2]) : null,
    },
  };
}

export type ProbeRunner = (script: string) => Promise<string>;

export const localProbe: ProbeRunner = async (script) => (await run('sh', ['-c', script], { timeout: 5_000 })).stdout;

export class HostUsageSampler {
  private readonly last = new Map<string, { at: number; cpu: CpuCounters | null; load: HostUsage }>();

  /** The host's load, re-sampled when the cached one is older than SAMPLE_MS; null when the probe fails. */
  async sample(host: string, probe: ProbeRunner): Promise<HostUsage | null> {
    const previous = this.last.get(host);
    if (previous && Date.now() - previous.at < SAMPLE_MS) return previous.load;
    let output: string;
    try { output = await probe(PROBE); } catch { return previous?.load ?? null; }
    const { cpu, load } = parseProbe(output);
    let cpuPercent: number | null = null;
    if (cpu && previous?.cpu && cpu.total > previous.cpu.total) {
      cpuPercent = Math.round(((cpu.busy - previous.cpu.busy) / (cpu.total - previous.cpu.total)) * 1000) / 10;
    }
    const result = { ...load, cpuPercent: cpuPercent ?? previous?.load.cpuPercent ?? null, sampledAt: new Date().toISOString() };
    this.last.set(host, { at: Date.now(), cpu, load: result });
    return result;
  }
}
