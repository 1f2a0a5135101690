// The Metrics tab's charts (GET /apps/:app/metrics?since=RANGE): requests per second by status class,
// p50/p95/p99 response times, and CPU and memory per instance, each a time series with a line at every
// release, over a range picked above them (kept in the address: #/apps/NAME/metrics?since=6h). Totals of
// the range and the latest reading per instance sit beside them as numbers. The chart code (uPlot) is
// loaded only here.
import { api, type MetricsAnswer, type Release } from '../api.ts';
import { bytes, h, replace } from '../dom.ts';
import { appTabHref } from './app-route.ts';
import {
  RANGES, cpuSeries, latencies, memorySeries, rangeFrom, releaseMarkers, requestRates, type ChartData, type Range,
} from './metrics-series.ts';
import type { ChartSpec, TimeChart } from './metrics-charts.ts';

const ms = (v: number | null) => (v === null ? '—' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);
const pct = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v.toFixed(1)} %`);
const perSecond = (v: number) => (v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));
const maxOf = (values: (number | null)[]) => values.reduce<number | null>((m, v) => (v === null ? m : m === null ? v : Math.max(m, v)), null);

const INSTANCE_COLORS = ['#0b5cad', '#c4320a', '#067647', '#7a2eb4', '#b54708', '#0e7490', '#be185d', '#4d5761'];
const CHARTS: { id: string; spec: ChartSpec; data(m: MetricsAnswer): ChartData }[] = [
  { id: 'requests', data: requestRates, spec: { title: 'Requests per second', floor: 1, format: perSecond, colors: ['#067647', '#0b5cad', '#b54708', '#b42318'] } },
  { id: 'latency', data: latencies, spec: { title: 'Response time', floor: 1, format: (v) => ms(v), colors: ['#6b9bd1', '#0b5cad', '#7a2eb4'] } },
  { id: 'cpu', data: cpuSeries, spec: { title: 'CPU (% of a core)', floor: 1, format: (v) => `${v.toFixed(v < 10 ? 1 : 0)} %`, colors: INSTANCE_COLORS } },
  { id: 'memory', data: memorySeries, spec: { title: 'Memory', floor: 1, format: (v) => (v >= 1024 ? `${(v / 1024).toFixed(1)} GiB` : `${v.toFixed(v < 10 ? 1 : 0)} MiB`), colors: INSTANCE_COLORS } },
];

function totalsView(m: MetricsAnswer): HTMLElement {
  const t = m.requestTotals;
  const stat = (name: string, value: string, key: string) => h('div', { class: 'stat', 'data-metric': key }, h('dt', {}, name), h('dd', {}, value));
  return h('dl', { class: 'stats' },
    stat('Requests', String(t.count), 'count'), stat('Per second', t.rate.toFixed(2), 'rate'),
    stat('2xx', String(t.s2xx), 's2xx'), stat('4xx', String(t.s4xx), 's4xx'), stat('5xx', String(t.s5xx), 's5xx'),
    stat('p50', ms(t.p50), 'p50'), stat('p95', ms(t.p95), 'p95'), stat('p99', ms(t.p99), 'p99'));
}

function instancesView(m: MetricsAnswer): HTMLElement {
  if (!m.instances.length) return h('p', { class: 'hint' }, 'No instance readings in this range.');
  const rows = m.instances.map(({ instance, points }) => {
    const latest = [...points].reverse().find((p) => p.cpu !== null) ?? points[points.length - 1];
    const limit = latest?.memoryLimit;
    return h('tr', { 'data-instance': instance },
      h('th', { scope: 'row', class: 'mono' }, instance),
      h('td', { class: 'cpu' }, h('span', { class: 'now' }, pct(latest?.cpu)),
        h('div', { class: 'hint max' }, `max ${pct(maxOf(points.map((p) => p.cpuMax)))}`)),
      h('td', { class: 'memory' }, h('span', { class: 'now' }, bytes(latest?.memory)), limit ? h('span', { class: 'hint' }, ` of ${bytes(limit)}`) : null,
        h('div', { class: 'hint max' }, `max ${bytes(maxOf(points.map((p) => p.memoryMax)))}`)));
  });
  return h('div', { class: 'scroll' }, h('table', { class: 'instance-metrics' },
    h('thead', {}, h('tr', {}, ...['Instance', 'CPU now (% of a core)', 'Memory now'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows)));
}

/** How often to re-read: every 10 s (the collector's interval) for short ranges, at most every 5 min for long ones. */
const refreshMs = (step: number) => Math.min(Math.max(step, 10), 300) * 1000;

export function metricsSection(path: string, app: string, query: URLSearchParams, signal: AbortSignal): { el: HTMLElement; refresh(): Promise<void> } {
  let range: Range = rangeFrom(query.get('since'));
  const state = h('p', { class: 'hint', id: 'metrics-state', role: 'status' }, 'Loading…');
  const totals = h('div', { class: 'totals' });
  const instances = h('div');
  const picker = h('div', { class: 'range-picker', role: 'group', 'aria-label': 'Time range' });
  const figures = CHARTS.map((c) => {
    const plot = h('div', { class: 'plot', id: `chart-${c.id}` });
    const figure = h('figure', { class: 'chart', 'aria-labelledby': `chart-${c.id}-title` }, h('figcaption', { id: `chart-${c.id}-title` }, c.spec.title), plot);
    return { ...c, figure, plot };
  });
  const el = h('section', { class: 'card', id: 'metrics', 'aria-labelledby': 'metrics-title' },
    h('div', { class: 'row wrap metrics-head' }, h('h2', { id: 'metrics-title' }, 'Metrics'), picker),
    totals, h('div', { class: 'charts' }, figures.map((f) => f.figure)), state,
    h('h3', {}, 'Instances'), instances);

  const chartCode = import('./metrics-charts.ts'); // uPlot: loaded by the Metrics tab only
  let charts: TimeChart[] | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let loading = 0;

  const renderPicker = () => replace(picker, RANGES.map((r) => {
    const button = h('button', { type: 'button', class: 'small', 'aria-pressed': String(r === range), 'data-range': r }, r);
    button.addEventListener('click', () => {
      if (r === range) return;
      range = r;
      // The address keeps the range (a reload or a shared link shows the same), without a history entry per click.
      history.replaceState(history.state, '', appTabHref(app, 'metrics', new URLSearchParams({ since: r })));
      renderPicker();
      void refresh();
    });
    return button;
  }));

  const refresh = async () => {
    const mine = ++loading;
    if (timer) clearTimeout(timer);
    try {
      const [m, releases, code] = await Promise.all([
        api<MetricsAnswer>('GET', `${path}/metrics?since=${range}`), api<Release[]>('GET', `${path}/releases`), chartCode,
      ]);
      if (signal.aborted || mine !== loading) return;
      charts ??= figures.map((f) => code.timeChart(f.plot, f.spec));
      const markers = releaseMarkers(releases, m.from, m.to);
      figures.forEach((f, i) => charts![i].update(f.data(m), markers));
      replace(totals, totalsView(m));
      replace(instances, instancesView(m));
      el.dataset.range = range;
      el.dataset.step = String(m.step);
      state.textContent = `Last ${range} in ${m.step} s steps; updated ${new Date().toLocaleTimeString()}. Drag across a chart to zoom in, double-click to zoom out.`;
      timer = setTimeout(() => void refresh(), refreshMs(m.step));
    } catch (err) {
      if (signal.aborted || mine !== loading) return;
      state.textContent = `Could not load metrics: ${(err as Error).message}`;
      timer = setTimeout(() => void refresh(), refreshMs(10));
    }
  };
  renderPicker();
  signal.addEventListener('abort', () => { if (timer) clearTimeout(timer); charts?.forEach((c) => c.destroy()); }, { once: true });
  return { el, refresh };
}
