// A release's canary on the app page's Releases list: its state and weight, both sides' requests, 5xx rate and p95
// from the last analysis, and Promote / Abort while it runs.
import type { CanaryView, CanaryTrackView } from '../../src/wire/canary.ts';
import { h } from '../dom.ts';

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const side = (name: string, t: CanaryTrackView) =>
  h('div', { class: 'hint mono' }, `${name}: ${t.requests} requests, 5xx ${pct(t.errorRate)}, p95 ${t.p95Ms === null ? '—' : `${Math.round(t.p95Ms)} ms`}`);

export function canaryDetail(c: CanaryView, act: (what: 'promote' | 'abort', button: HTMLButtonElement) => void): HTMLElement {
  const gray = [c.header && `header ${c.header}`, c.cookie && `cookie ${c.cookie}`].filter(Boolean).join(', ');
  const title = c.state === 'running'
    ? `Canary at ${c.weight} %${gray ? ` + ${gray}` : ''}${c.steps.length ? ` (steps ${c.steps.join(', ')} every ${c.everySec} s)` : ''}`
    : `Canary ${c.state}`;
  const buttons = c.state === 'running' ? (['promote', 'abort'] as const).map((what) => {
    const button = h('button', { type: 'button', class: 'small', 'aria-label': `${what} the canary` }, what === 'promote' ? 'Promote' : 'Abort') as HTMLButtonElement;
    button.addEventListener('click', () => act(what, button));
    return button;
  }) : [];
  return h('div', { class: 'canary' }, h('div', {}, title, ' ', ...buttons),
    ...(c.comparison ? [side('stable', c.comparison.stable), side('canary', c.comparison.canary)] : [h('div', { class: 'hint' }, 'no requests analysed yet')]));
}
