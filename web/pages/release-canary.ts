// A release's canary on the app page's Releases list: its state, weight and steps, the gray rule, both sides'
// requests, 5xx rate and p95 from the last analysis (the list reloads every few seconds while it runs, see
// app-sections.ts), the thresholds with the warm-up, and Promote / Abort while it runs.
import type { CanaryView, CanaryTrackView } from '../../src/wire/canary.ts';
import { h } from '../dom.ts';

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function title(c: CanaryView): string {
  if (c.state !== 'running') return `Canary ${c.state}`;
  const steps = c.steps.length ? `, steps ${c.steps.join(' → ')} % every ${c.everySec} s` : ', promoted by hand';
  return `Canary at ${c.weight} %${steps}`;
}

function grayRule(c: CanaryView): string | null {
  const parts = [c.header && `header ${c.header}`, c.cookie && `cookie ${c.cookie}`].filter(Boolean);
  const rule = parts.length ? `Always to the canary: ${parts.join(', ')}` : '';
  return [rule, c.sticky ? 'sticky clients (cookie berth_canary)' : ''].filter(Boolean).join('; ') || null;
}

function comparison(c: CanaryView): HTMLElement {
  const cmp = c.comparison;
  const start = cmp ? Date.parse(cmp.windowStart) : NaN;
  if (!cmp || start > Date.now()) {
    const until = cmp ? ` until ${new Date(start).toLocaleTimeString()}` : '';
    return h('p', { class: 'hint', 'data-comparison': 'none' }, c.state === 'running' ? `Warming up${until}: requests of the first ${c.thresholds.warmupSec} s are not compared.` : 'No requests were analysed.');
  }
  const row = (name: 'stable' | 'canary', t: CanaryTrackView) => h('tr', { 'data-track': name },
    h('th', { scope: 'row' }, name), h('td', { class: 'requests' }, String(t.requests)), h('td', { class: 'rate' }, pct(t.errorRate)),
    h('td', { class: 'p95' }, t.p95Ms === null ? '—' : `${Math.round(t.p95Ms)} ms`));
  return h('table', { class: 'canary-comparison', 'aria-label': 'canary comparison', 'data-comparison': 'live' },
    h('thead', {}, h('tr', {}, ...['Track', 'Requests', '5xx', 'p95'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, row('stable', cmp.stable), row('canary', cmp.canary)));
}

export function canaryDetail(c: CanaryView, act: (what: 'promote' | 'abort', button: HTMLButtonElement) => void): HTMLElement {
  const buttons = c.state === 'running' ? (['promote', 'abort'] as const).map((what) => {
    const button = h('button', { type: 'button', class: 'small', 'aria-label': `${what} the canary` }, what === 'promote' ? 'Promote' : 'Abort') as HTMLButtonElement;
    button.addEventListener('click', () => act(what, button));
    return button;
  }) : [];
  const gray = grayRule(c);
  const t = c.thresholds;
  return h('div', { class: 'canary', 'data-canary-state': c.state, 'data-weight': c.weight },
    h('div', { class: 'canary-head' }, h('strong', {}, title(c)), ' ', ...buttons),
    gray ? h('div', { class: 'hint gray-rule' }, gray) : null,
    comparison(c),
    c.state === 'running'
      ? h('div', { class: 'hint thresholds' }, `Aborts when 5xx is ${pct(t.max5xxDelta)} worse or p95 ${t.maxP95Ratio}x slower, after ${t.minRequests} canary requests; warm-up ${t.warmupSec} s.`)
      : null);
}
