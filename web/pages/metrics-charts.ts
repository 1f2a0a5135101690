// Time-series charts for the Metrics tab, drawn by uPlot (a chunk of its own: only the Metrics tab loads it).
// Each chart follows its box's width, shares the cursor with the others, zooms by dragging (a double
// click zooms back out) and marks each release with a labelled vertical line.
import uPlot from 'uplot';
import { h, replace } from '../dom.ts';
import { knownValues, type ChartData, type ReleaseMarker } from './metrics-series.ts';

/** `floor` is the least top of the y axis, so a quiet app's chart reads 0–1 % rather than ticks of 0.001. */
export interface ChartSpec { title: string; format(value: number): string; colors: string[]; floor: number }
export interface TimeChart { update(data: ChartData, markers: ReleaseMarker[]): void; destroy(): void }

const HEIGHT = 190;
const SYNC_KEY = 'berth-metrics';
const AXIS = { stroke: '#5b6470', grid: { stroke: '#e8ecf0', width: 1 }, ticks: { stroke: '#d8dde3', width: 1 } };
const LABEL_ROWS = 3;
const LABEL_GAP_PX = 30;
const LABEL_ROW_PX = 15;

/** A value with no neighbour is no line: such lone readings (a short-lived instance, one busy step) show as dots. */
function lonePoints(u: uPlot, seriesIdx: number): number[] {
  const values = u.data[seriesIdx];
  const lone: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== null && values[i] !== undefined && (values[i - 1] ?? null) === null && (values[i + 1] ?? null) === null) lone.push(i);
  }
  return lone;
}

/** Without a cursor over the chart its legend shows each series' latest reading instead of dashes. */
function legendShowsLatest(u: uPlot): void {
  if (u.cursor.idx !== null && u.cursor.idx !== undefined) return;
  const idxs = u.data.map((values) => {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return i;
    return null;
  });
  idxs[0] = Math.max(-1, ...idxs.slice(1).map((i) => i ?? -1));
  if (idxs[0] < 0) return;
  u.setLegend({ idxs }, false);
}

/** A chart in `host` (whose width it follows); update() gives it data, as often as it comes. */
export function timeChart(host: HTMLElement, spec: ChartSpec): TimeChart {
  let plot: uPlot | null = null;
  let labels = '';
  let markers: ReleaseMarker[] = [];
  const markerLayer = h('div', { class: 'release-markers' });
  const width = () => Math.max(200, host.clientWidth);

  const placeMarkers = (u: uPlot) => {
    const { min, max } = u.scales.x;
    const rowEnds: number[] = [];
    replace(markerLayer, markers.filter((m) => min !== undefined && max !== undefined && m.t >= min && m.t <= max).map((m) => {
      const x = u.valToPos(m.t, 'x');
      const label = h('span', { class: 'label' }, `v${m.version}`);
      // Releases close together get their labels on rows below each other instead of on top of each other.
      let row = rowEnds.findIndex((end) => x - end >= LABEL_GAP_PX);
      if (row === -1) row = rowEnds.length < LABEL_ROWS ? rowEnds.length : LABEL_ROWS - 1;
      rowEnds[row] = x;
      label.style.top = `${row * LABEL_ROW_PX}px`;
      const line = h('div', { class: `release-marker${m.failed ? ' failed' : ''}`, 'data-version': m.version, 'data-t': m.t, title: m.title }, label);
      line.style.left = `${x.toFixed(1)}px`;
      return line;
    }));
  };

  const create = (data: ChartData) => {
    plot?.destroy();
    const opts: uPlot.Options = {
      width: width(), height: HEIGHT,
      cursor: { sync: { key: SYNC_KEY } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(spec.floor, (max ?? 0) * 1.1)] } },
      series: [{}, ...data.series.map((s, i) => {
        const color = spec.colors[i % spec.colors.length];
        return {
          label: s.label, stroke: color, width: 1.5,
          points: { show: true, size: 5, fill: color, filter: lonePoints },
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : spec.format(v)),
        };
      })],
      axes: [{ ...AXIS }, { ...AXIS, size: 70, values: (_u, splits) => splits.map((v) => spec.format(v)) }],
      hooks: { draw: [placeMarkers], ready: [legendShowsLatest], setLegend: [legendShowsLatest] },
    };
    plot = new uPlot(opts, aligned(data), host);
    plot.over.append(markerLayer);
    labels = data.series.map((s) => s.label).join('\n');
  };

  // Phones turn, windows resize: the chart keeps its box's width.
  const resize = new ResizeObserver(() => { if (plot && Math.abs(plot.width - width()) > 1) plot.setSize({ width: width(), height: HEIGHT }); });
  resize.observe(host);

  return {
    update(data, nextMarkers) {
      markers = nextMarkers;
      host.dataset.values = String(knownValues(data));
      host.dataset.series = String(data.series.length);
      if (!plot || labels !== data.series.map((s) => s.label).join('\n')) return create(data);
      // A zoomed-in view stays where the person put it; otherwise the new range shows whole.
      const { min, max } = plot.scales.x;
      const first = plot.data[0][0];
      const last = plot.data[0][plot.data[0].length - 1];
      const zoomed = min !== undefined && max !== undefined && (min > first || max < last);
      plot.setData(aligned(data), !zoomed);
    },
    destroy() { resize.disconnect(); plot?.destroy(); plot = null; },
  };
}

function aligned(data: ChartData): uPlot.AlignedData {
  return [data.x, ...data.series.map((s) => s.values)] as uPlot.AlignedData;
}
