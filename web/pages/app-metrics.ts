// The last hour of an app's metrics (GET /apps/:app/metrics?since=1h): requests with their status classes
// and percentiles, and CPU and memory per instance, each with a small SVG sparkline. Refreshed every 10 s,
// the collector's own interval.
import { api } from '../api.ts';
import { h, replace } from '../dom.ts';

const REFRESH_MS = 10_000;
const SVG = 'http://www.w3.org/2000/svg';

interface InstancePoint { t: number; cpu: number | null; cpuMax: number | null; memory: number; memoryMax: number; memoryLimit: number | null }
interface RequestTotals { count: number; rate: number; s2xx: number; s3xx: number; s4xx: number; s5xx: number; p50: number | null; p95: number | null; p99: number | null }
interface Metrics {
  instances: { instance: string; points: InstancePoint[] }[];
  requests: (RequestTotals & { t: number })[];
  requestTotals: RequestTotals;
}

/** A polyline over the series' own range; nulls are skipped. Decorative next to the numbers it sums up. */
export function sparkline(values: (number | null)[], label: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 100 24');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const known = values.filter((v): v is number => v !== null);
  if (known.length < 2) return svg;
  const max = Math.max(...known);
  const min = Math.min(0, ...known);
  const span = max - min || 1;
  const step = 100 / (values.length - 1);
  const points = values.flatMap((v, i) => (v === null ? [] : [`${(i * step).toFixed(1)},${(22 - ((v - min) / span) * 20).toFixed(1)}`]));
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', points.join(' '));
  svg.append(line);
  return svg;
}

const ms = (v: number | null) => (v === null ? '—' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);
const pct = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v.toFixed(1)} %`);
function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return v >= 1073741824 ? `${(v / 1073741824).toFixed(2)} GiB` : `${(v / 1048576).toFixed(1)} MiB`;
}
const maxOf = (values: (number | null)[]) => values.reduce<number | null>((m, v) => (v === null ? m : m === null ? v : Math.max(m, v)), null);

function requestsView(m: Metrics): HTMLElement {
  const t = m.requestTotals;
  const stat = (name: string, value: string, key: string) => h('div', { class: 'stat', 'data-metric': key }, h('dt', {}, name), h('dd', {}, value));
  return h('div', { class: 'requests' },
    h('h3', {}, 'Requests ', sparkline(m.requests.map((p) => p.rate), 'requests per second over the hour')),
    h('dl', { class: 'stats' },
      stat('Requests', String(t.count), 'count'), stat('Per second', t.rate.toFixed(2), 'rate'),
      stat('2xx', String(t.s2xx), 's2xx'), stat('4xx', String(t.s4xx), 's4xx'), stat('5xx', String(t.s5xx), 's5xx'),
      stat('p50', ms(t.p50), 'p50'), stat('p95', ms(t.p95), 'p95'), stat('p99', ms(t.p99), 'p99')));
}

function instancesView(m: Metrics): HTMLElement {
  if (!m.instances.length) return h('p', { class: 'hint' }, 'No instance readings in the last hour.');
  const rows = m.instances.map(({ instance, points }) => {
    const latest = [...points].reverse().find((p) => p.cpu !== null) ?? points[points.length - 1];
    const limit = latest?.memoryLimit;
    return h('tr', { 'data-instance': instance },
      h('th', { scope: 'row', class: 'mono' }, instance),
      h('td', { class: 'cpu' }, h('span', { class: 'now' }, pct(latest?.cpu)),
        h('div', { class: 'hint max' }, `max ${pct(maxOf(points.map((p) => p.cpuMax)))}`),
        sparkline(points.map((p) => p.cpu), `${instance} CPU over the hour`)),
      h('td', { class: 'memory' }, h('span', { class: 'now' }, bytes(latest?.memory)), limit ? h('span', { class: 'hint' }, ` of ${bytes(limit)}`) : null,
        h('div', { class: 'hint max' }, `max ${bytes(maxOf(points.map((p) => p.memoryMax)))}`),
        sparkline(points.map((p) => p.memory), `${instance} memory over the hour`)));
  });
  return h('div', { class: 'scroll' }, h('table', { class: 'instance-metrics' },
    h('thead', {}, h('tr', {}, ...['Instance', 'CPU (% of a core)', 'Memory'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows)));
}

export function metricsSection(path: string, signal: AbortSignal): { el: HTMLElement } {
  const body = h('div', {}, h('p', { class: 'hint' }, 'Loading…'));
  const state = h('p', { class: 'hint', role: 'status' });
  const load = async () => {
    try {
      const m = await api<Metrics>('GET', `${path}/metrics?since=1h`);
      if (signal.aborted) return;
      replace(body, requestsView(m), h('h3', {}, 'Instances'), instancesView(m));
      state.textContent = `Last hour; updated ${new Date().toLocaleTimeString()}, every 10 s.`;
    } catch (err) { state.textContent = `Could not load metrics: ${(err as Error).message}`; }
  };
  void load();
  const timer = setInterval(() => void load(), REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  const el = h('section', { class: 'card', id: 'metrics', 'aria-labelledby': 'metrics-title' },
    h('h2', { id: 'metrics-title' }, 'Metrics'), body, state);
  return { el };
}
