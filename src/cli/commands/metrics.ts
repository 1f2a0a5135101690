// metrics: a summary of an app's resource use and traffic over a recent span.
import { appPath } from '../client.ts';
import { UsageError, printedJson, stringFlag, type Command, type CommandContext } from '../command.ts';
import { table } from '../format.ts';
import type { InstanceSeriesPoint as Point, MetricsAnswer as Answer } from '../../wire/types.ts';

const MB = 1024 * 1024;

async function showMetrics(ctx: CommandContext): Promise<void> {
  const since = stringFlag(ctx, 'since') ?? '1h';
  if (!/^(\d+(ms|s|m|h|d))+$/.test(since)) throw new UsageError(`--since must be a duration like 15m, 1h or 7d (got "${since}")`);
  const answer = await ctx.api().get<Answer>(appPath(ctx.app, `/metrics?since=${encodeURIComponent(since)}`));
  if (printedJson(ctx, answer)) return;
  ctx.io.out(`${ctx.app}, last ${since} (${answer.step} s points)`);
  const byProcess = new Map<string, { instances: Set<string>; points: Point[] }>();
  for (const series of answer.instances) {
    const entry = byProcess.get(series.process) ?? { instances: new Set<string>(), points: [] };
    entry.instances.add(series.instance);
    entry.points.push(...series.points);
    byProcess.set(series.process, entry);
  }
  if (byProcess.size === 0) ctx.io.out('No instance metrics in this span.');
  else {
    const rows = [...byProcess].map(([process, { instances, points }]) => {
      const cpus = points.map((p) => p.cpu).filter((v) => v !== null);
      const cpuMaxes = points.map((p) => p.cpuMax).filter((v) => v !== null);
      const limit = points.map((p) => p.memoryLimit).find((v) => v !== null) ?? null;
      return [
        process, String(instances.size),
        cpus.length ? `${avg(cpus).toFixed(1)}%` : '-', cpuMaxes.length ? `${Math.max(...cpuMaxes).toFixed(1)}%` : '-',
        `${(avg(points.map((p) => p.memory)) / MB).toFixed(1)} MB`, `${(Math.max(...points.map((p) => p.memoryMax)) / MB).toFixed(1)} MB`,
        limit === null ? '-' : `${(limit / MB).toFixed(0)} MB`,
      ];
    });
    table(['PROCESS', 'INSTANCES', 'CPU AVG', 'CPU MAX', 'MEM AVG', 'MEM MAX', 'MEM LIMIT'], rows).forEach((line) => ctx.io.out(line));
  }
  const t = answer.requestTotals;
  if (t.count === 0) return ctx.io.out('No requests in this span.');
  const pct = (n: number) => `${((n / t.count) * 100).toFixed(1)}%`;
  const ms = (v: number | null) => (v === null ? '-' : `${v} ms`);
  ctx.io.out(`Requests: ${t.count} (${t.rate.toFixed(2)}/s)  2xx ${pct(t.s2xx)}  3xx ${pct(t.s3xx)}  4xx ${pct(t.s4xx)}  5xx ${pct(t.s5xx)}`);
  ctx.io.out(`Latency:  p50 ${ms(t.p50)}  p95 ${ms(t.p95)}  p99 ${ms(t.p99)}`);
}

const avg = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

export const metricsCommands: Command[] = [
  {
    name: 'metrics', usage: 'APP [--since 1h]', summary: 'cpu, memory, requests and latency of an app (per process)', app: true,
    options: { since: { type: 'string' } }, run: showMetrics,
  },
];
