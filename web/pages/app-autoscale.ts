// The Overview's autoscaling card: each autoscaled process type (range, signal, cooldown, count now) with a
// button to turn it off, and the autoscaler's recent decisions with their reasons (GET /apps/:app/autoscale).
// It refreshes with the app's live events, so a scale shows up as it lands.
import { api } from '../api.ts';
import { ago, h, replace } from '../dom.ts';
import { act, section } from './app-sections.ts';
import type { Section } from './app.ts';
import type { AutoscaleAnswer } from '../../src/wire/autoscale.ts';

export function autoscaleSection(path: string, name: string): Section {
  const s = section('Autoscaling', 'autoscale');
  const refresh = async () => {
    const answer = await api<AutoscaleAnswer>('GET', `${path}/autoscale`);
    const rows = answer.settings.map((setting) => {
      const off = h('button', { type: 'button', class: 'small danger', 'aria-label': `Turn autoscaling of ${setting.process} off` }, 'Turn off');
      off.addEventListener('click', () => void act(s.msg, off, () => api('DELETE', `${path}/autoscale/${encodeURIComponent(setting.process)}`), refresh));
      return h('tr', { 'data-process': setting.process },
        h('th', { scope: 'row', class: 'mono' }, setting.process),
        h('td', {}, `${setting.min}–${setting.max}`),
        h('td', {}, setting.targetText),
        h('td', {}, `${setting.cooldownSec}s`),
        h('td', { 'data-current': setting.current ?? '' }, setting.current ?? '—', setting.state ? h('div', { class: 'hint' }, setting.state) : null),
        h('td', { title: setting.lastChangeAt ?? '' }, ago(setting.lastChangeAt)),
        h('td', {}, off));
    });
    const decisions = answer.decisions.map((d) => h('li', { class: d.status !== null && d.status >= 400 ? 'firing' : undefined },
      h('span', { class: 'hint', title: d.at }, ago(d.at)), ' ', d.detail ?? ''));
    replace(s.body,
      rows.length
        ? h('div', { class: 'scroll' }, h('table', { class: 'autoscale' },
          h('thead', {}, h('tr', {}, ...['Process', 'Range', 'Target', 'Cooldown', 'Now', 'Last change', ''].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, rows)))
        : h('p', { class: 'hint' }, `Not autoscaled. Turn it on with: berth ps:autoscale ${name} web --max 8 --rps 50`),
      decisions.length ? h('h3', {}, 'Recent decisions') : null,
      decisions.length ? h('ul', { class: 'autoscale-decisions', 'aria-label': 'Recent autoscaling decisions' }, decisions) : null);
  };
  return { el: s.el, refresh };
}
