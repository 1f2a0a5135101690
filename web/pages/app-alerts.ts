// Alert rules of an app (add, remove) and their recent firing/resolved events. Rules are evaluated every
// 10 s on the server, so the section re-reads them as often and reports how many fire (the header's badge).
import { api } from '../api.ts';
import { ago, badge, h, replace } from '../dom.ts';
import { act, section } from './app-sections.ts';

const REFRESH_MS = 10_000;
const EVENTS_SHOWN = 20;

interface AlertRule { id: number; rule: string; state: 'ok' | 'firing'; stateSince: string | null; webhook: string; format: string }
interface AlertEvent { id: number; ruleId: number | null; expr: string; kind: 'firing' | 'still_firing' | 'resolved' | 'autoscale'; message: string; at: string }

export function alertsSection(path: string, signal: AbortSignal, onFiring: (count: number) => void): { el: HTMLElement; refresh(): Promise<void> } {
  const s = section('Alerts', 'alerts');
  const rules = h('div');
  const events = h('div');
  const rule = h('input', { id: 'alert-rule', name: 'rule', required: true, autocomplete: 'off', placeholder: 'p95 > 500ms for 2m', class: 'grow' });
  const webhook = h('input', { id: 'alert-webhook', name: 'webhook', type: 'url', required: true, autocomplete: 'off', placeholder: 'https://hooks.example.com/…', class: 'grow' });
  const format = h('select', { id: 'alert-format', name: 'format' }, h('option', { value: 'json' }, 'JSON'), h('option', { value: 'slack' }, 'Slack'));

  const refresh = async () => {
    const [list, recent] = await Promise.all([
      api<AlertRule[]>('GET', `${path}/alerts`),
      api<AlertEvent[]>('GET', `${path}/alerts/events?limit=${EVENTS_SHOWN}`),
    ]);
    if (signal.aborted) return;
    onFiring(list.filter((r) => r.state === 'firing').length);
    replace(rules, list.length ? h('div', { class: 'scroll' }, h('table', { class: 'alert-rules' },
      h('thead', {}, h('tr', {}, ...['Rule', 'State', 'Notifies', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, list.map((r) => {
        const remove = h('button', { type: 'button', class: 'small danger', 'aria-label': `Remove alert rule ${r.rule}` }, 'Remove');
        remove.addEventListener('click', () => void act(s.msg, remove, () => api('DELETE', `${path}/alerts/${r.id}`), refresh));
        return h('tr', { 'data-rule': r.id, 'data-state': r.state, class: r.state === 'firing' ? 'firing' : undefined },
          h('td', { class: 'mono' }, r.rule),
          h('td', {}, badge(r.state), h('div', { class: 'hint', title: r.stateSince ?? '' }, r.stateSince ? `since ${ago(r.stateSince)}` : '')),
          h('td', { class: 'mono hint url-cell' }, `${r.format}: ${r.webhook}`),
          h('td', {}, remove));
      }))))
      : h('p', { class: 'hint' }, 'No alert rules.'));
    replace(events, recent.length
      ? h('ul', { class: 'alert-events', 'aria-label': 'Recent alert events' }, recent.map((e) =>
        h('li', { 'data-event': e.id, 'data-kind': e.kind, class: e.kind === 'resolved' || e.kind === 'autoscale' ? undefined : 'firing' },
          badge(e.kind === 'resolved' || e.kind === 'autoscale' ? e.kind : 'firing'), ' ', h('span', { class: 'hint', title: e.at }, ago(e.at)), ' ',
          h('span', { class: 'mono' }, e.expr), h('div', {}, e.message))))
      : h('p', { class: 'hint' }, 'No alert has fired yet.'));
  };

  const form = h('form', {
    class: 'alert-form',
    onsubmit: (event: Event) => {
      event.preventDefault();
      void act(s.msg, form.querySelector('button'),
        () => api('POST', `${path}/alerts`, { rule: rule.value.trim(), webhook: webhook.value.trim(), format: format.value }),
        async () => { rule.value = ''; await refresh(); });
    },
  },
  h('div', { class: 'row wrap' }, h('label', { for: 'alert-rule' }, 'Alert rule'), rule),
  h('div', { class: 'row wrap' }, h('label', { for: 'alert-webhook' }, 'Webhook URL'), webhook),
  h('div', { class: 'row wrap' }, h('label', { for: 'alert-format' }, 'Format'), format, h('button', { type: 'submit' }, 'Add alert')),
  h('p', { class: 'hint' }, 'e.g. cpu > 80% for 5m · memory > 400MB for 5m · p95 > 500ms for 2m · 5xx_rate > 1% for 1m · log "ERROR" >= 10 in 1m · crash_loop'));

  replace(s.body, rules, form, h('h3', {}, 'Recent events'), events);
  const timer = setInterval(() => void refresh().catch(() => {}), REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  return { el: s.el, refresh };
}
