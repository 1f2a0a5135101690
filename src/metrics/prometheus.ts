// GET /metrics: counters since the server started and the latest instance gauges, in the Prometheus
// text exposition format (version 0.0.4). Counters restart at 0 with the server, as Prometheus expects.
import type { InstancePoint } from './store.ts';

/** Fixed bucket bounds (seconds) for the exported histogram; the store keeps finer ones of its own. */
export const LATENCY_BOUNDS_SEC = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface AppTotals { byClass: Map<string, number>; buckets: number[]; sumSec: number; count: number }

export class PrometheusTotals {
  private readonly apps = new Map<string, AppTotals>();
  private instances: InstancePoint[] = [];

  countRequest(app: string, status: number, durationMs: number): void {
    let t = this.apps.get(app);
    if (!t) this.apps.set(app, t = { byClass: new Map(), buckets: LATENCY_BOUNDS_SEC.map(() => 0), sumSec: 0, count: 0 });
    const cls = CLASSES[Math.floor(status / 100) - 1] ?? 'other';
    t.byClass.set(cls, (t.byClass.get(cls) ?? 0) + 1);
    const sec = durationMs / 1000;
    const i = LATENCY_BOUNDS_SEC.findIndex((bound) => sec <= bound);
    if (i >= 0) t.buckets[i]++;
    t.sumSec += sec;
    t.count++;
  }

  /** A destroyed app's counters go with it: a later app of the same name starts at 0. */
  removeApp(app: string): void {
    this.apps.delete(app);
  }

  renameApp(from: string, to: string): void {
    const totals = this.apps.get(from);
    this.apps.delete(from);
    if (totals) this.apps.set(to, totals);
  }

  setInstances(points: InstancePoint[]): void {
    this.instances = points;
  }

  /** The exposition text; `visible` filters apps (the caller's access). */
  render(visible: (app: string) => boolean = () => true): string {
    const out: string[] = [];
    const apps = [...this.apps].filter(([app]) => visible(app)).sort(([a], [b]) => a.localeCompare(b));
    out.push('# HELP berth_requests_total Requests the router served, by app and status class.', '# TYPE berth_requests_total counter');
    for (const [app, t] of apps) {
      for (const [cls, n] of [...t.byClass].sort()) out.push(`berth_requests_total{app="${esc(app)}",status="${cls}"} ${n}`);
    }
    out.push('# HELP berth_request_duration_seconds Request latency at the router.', '# TYPE berth_request_duration_seconds histogram');
    for (const [app, t] of apps) {
      let cumulative = 0;
      LATENCY_BOUNDS_SEC.forEach((bound, i) => {
        cumulative += t.buckets[i];
        out.push(`berth_request_duration_seconds_bucket{app="${esc(app)}",le="${bound}"} ${cumulative}`);
      });
      out.push(`berth_request_duration_seconds_bucket{app="${esc(app)}",le="+Inf"} ${t.count}`);
      out.push(`berth_request_duration_seconds_sum{app="${esc(app)}"} ${t.sumSec}`);
      out.push(`berth_request_duration_seconds_count{app="${esc(app)}"} ${t.count}`);
    }
    const instances = this.instances.filter((p) => visible(p.app));
    const gauge = (name: string, help: string, value: (p: InstancePoint) => number | null) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
      for (const p of instances) {
        const v = value(p);
        if (v !== null) out.push(`${name}{app="${esc(p.app)}",instance="${esc(p.instance)}"} ${v}`);
      }
    };
    gauge('berth_instance_cpu_percent', 'CPU use over the last 10 s, in % of one core.', (p) => p.cpu);
    gauge('berth_instance_memory_bytes', 'Memory in use (without reclaimable page cache).', (p) => p.memoryBytes);
    gauge('berth_instance_memory_limit_bytes', 'Memory limit, for instances that have one.', (p) => p.memoryLimitBytes);
    return out.join('\n') + '\n';
  }
}

/** Label values escape backslash, double quote and newline. */
function esc(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
