// The audit trail (GET /api/v1/audit), newest first, filtered by app and user, a page at a time:
// "Older" asks for the events before the last one shown. #/audit?app=NAME opens it filtered.
import { api } from '../api.ts';
import { ago, h, notice, replace } from '../dom.ts';
import type { PageContext } from '../main.ts';

const PAGE_SIZE = 50;

interface AuditEvent { id: number; at: string; actor: string; action: string; app: string | null; target: string | null; ip: string | null; status: number | null; detail: string | null }

export async function auditPage(ctx: PageContext, query: URLSearchParams): Promise<void> {
  const app = h('input', { id: 'audit-app', name: 'app', autocomplete: 'off', placeholder: 'any app', value: query.get('app') ?? '' });
  const user = h('input', { id: 'audit-user', name: 'user', autocomplete: 'off', placeholder: 'anyone', value: query.get('user') ?? '' });
  const pageSize = Math.min(1000, Math.max(1, Number(query.get('limit')) || PAGE_SIZE));
  const tbody = h('tbody');
  const msg = notice();
  const older = h('button', { type: 'button', hidden: true }, 'Older');
  let last: number | null = null;

  const row = (e: AuditEvent) => h('tr', { 'data-audit': e.id, class: e.status !== null && e.status >= 400 ? 'refused' : undefined },
    h('td', { title: e.at }, ago(e.at), h('div', { class: 'hint' }, e.at.replace('T', ' ').slice(0, 19))),
    h('td', {}, e.actor),
    h('td', { class: 'mono action' }, e.action),
    h('td', {}, e.app ? h('a', { href: `#/apps/${encodeURIComponent(e.app)}` }, e.app) : '—'),
    h('td', { class: 'mono target' }, e.target ?? ''),
    h('td', {}, e.status === null ? '' : String(e.status)),
    h('td', { class: 'mono' }, e.ip ?? ''),
    h('td', { class: 'detail' }, e.detail ?? ''));

  const load = async (more: boolean) => {
    msg.clear();
    const params = new URLSearchParams({ limit: String(pageSize) });
    if (app.value.trim()) params.set('app', app.value.trim());
    if (user.value.trim()) params.set('user', user.value.trim());
    if (more && last !== null) params.set('before', String(last));
    older.disabled = true;
    try {
      const events = await api<AuditEvent[]>('GET', `/audit?${params}`);
      if (ctx.signal.aborted) return;
      if (!more) replace(tbody);
      tbody.append(...events.map(row));
      last = events.length ? events[events.length - 1].id : last;
      older.hidden = events.length < pageSize;
      if (!more && !events.length) msg.info('No events match.');
    } catch (err) { msg.error((err as Error).message); } finally { older.disabled = false; }
  };
  older.addEventListener('click', () => void load(true));

  const form = h('form', { class: 'row wrap', role: 'search', onsubmit: (event: Event) => { event.preventDefault(); last = null; void load(false); } },
    h('label', { for: 'audit-app' }, 'App'), app, h('label', { for: 'audit-user' }, 'User'), user, h('button', { type: 'submit' }, 'Show'));
  replace(ctx.main, h('h1', {}, 'Audit trail'), form,
    h('div', { class: 'scroll' }, h('table', { class: 'audit' },
      h('caption', { class: 'sr-only' }, 'Audit events, newest first'),
      h('thead', {}, h('tr', {}, ...['When', 'Who', 'What', 'App', 'Target', 'Status', 'From', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody)),
    msg.el, older);
  await load(false);
}
