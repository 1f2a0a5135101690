// The app page's editable parts: releases (rollback), config vars (masked), formation (scale, restart), domains.
import { api, type Formation, type Instance, type Release } from '../api.ts';
import { ago, badge, h, notice, replace } from '../dom.ts';
import type { Section } from './app.ts';
import { canaryDetail } from './release-canary.ts';

export function section(title: string, id: string): { el: HTMLElement; body: HTMLElement; msg: ReturnType<typeof notice> } {
  const body = h('div');
  const msg = notice();
  const el = h('section', { class: 'card', id, 'aria-labelledby': `${id}-title` }, h('h2', { id: `${id}-title` }, title), body, msg.el);
  return { el, body, msg };
}

/** Runs a change, shows its error (if any) under the section, then refreshes. */
export async function act(msg: ReturnType<typeof notice>, button: HTMLButtonElement | null, work: () => Promise<unknown>, after: () => Promise<void>): Promise<void> {
  msg.clear();
  if (button) button.disabled = true;
  try { await work(); await after(); } catch (err) { msg.error((err as Error).message); } finally { if (button) button.disabled = false; }
}

/** While a canary runs, the list reloads this often (its comparison is analysed every second), until the tab is left. */
const CANARY_POLL_MS = 2000;

export function releasesSection(path: string, reloadApp: () => Promise<void>, signal?: AbortSignal): Section {
  const s = section('Releases', 'releases');
  let poll: ReturnType<typeof setTimeout> | null = null;
  signal?.addEventListener('abort', () => { if (poll) clearTimeout(poll); }, { once: true });
  const refresh = async () => {
    const releases = await api<Release[]>('GET', `${path}/releases`);
    if (poll) clearTimeout(poll);
    poll = releases.some((r) => r.canary?.state === 'running') && !signal?.aborted
      ? setTimeout(() => void refresh().catch(() => {}), CANARY_POLL_MS) : null;
    const rows = releases.map((r) => {
      const { added, removed, changed } = r.configChanges;
      const diff = [...added.map((k) => `+${k}`), ...removed.map((k) => `-${k}`), ...changed.map((k) => `~${k}`)].join(' ') || '—';
      const rollback = h('button', { type: 'button', class: 'small', 'aria-label': `Roll back to v${r.version}` }, 'Roll back');
      rollback.addEventListener('click', () => void act(s.msg, rollback, () => api('POST', `${path}/rollback`, { version: r.version }), async () => { await refresh(); await reloadApp(); }));
      return h('tr', { 'data-version': r.version, class: r.current ? 'current' : undefined },
        h('td', {}, `v${r.version}`, r.current ? h('span', { class: 'tag' }, ' current') : null),
        h('td', {}, badge(r.status)),
        h('td', {}, r.description, r.image ? h('div', { class: 'hint mono' }, r.image) : null,
          r.canary ? canaryDetail(r.canary, (what, button) => void act(s.msg, button, () => api('POST', `${path}/canary/${what}`, {}), async () => { await refresh(); await reloadApp(); })) : null,
          r.failureReason ? h('div', { class: 'notice error' }, r.failureReason) : null),
        h('td', { class: 'mono', title: 'config keys added (+), removed (-) or given a new value (~) against the release before' }, diff),
        h('td', {}, r.createdBy ?? '—', h('div', { class: 'hint', title: r.createdAt }, ago(r.createdAt))),
        h('td', {}, !r.current && r.status === 'succeeded' ? rollback : null));
    });
    replace(s.body, rows.length
      ? h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ...['Release', 'Status', 'What', 'Config', 'Who / when', ''].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows)))
      : h('p', { class: 'hint' }, 'No releases yet.'));
  };
  return { el: s.el, refresh };
}

export function configSection(path: string, reloadApp: () => Promise<void>): Section {
  const s = section('Config vars', 'config');
  const key = h('input', { id: 'config-key', name: 'key', required: true, autocomplete: 'off', pattern: '[A-Za-z_][A-Za-z0-9_]*' });
  const value = h('input', { id: 'config-value', name: 'value', autocomplete: 'off' });
  const list = h('div');
  const change = (body: Record<string, string | null>, button: HTMLButtonElement | null) =>
    act(s.msg, button, () => api('PATCH', `${path}/config`, body), async () => { await refresh(); await reloadApp(); });
  const form = h('form', {
    class: 'row wrap',
    onsubmit: (event: Event) => {
      event.preventDefault();
      void change({ [key.value.trim()]: value.value }, form.querySelector('button')).then(() => { if (!s.msg.el.textContent) { key.value = ''; value.value = ''; } });
    },
  }, h('label', { for: 'config-key' }, 'Key'), key, h('label', { for: 'config-value' }, 'Value'), value, h('button', { type: 'submit' }, 'Set'));

  const refresh = async () => {
    const config = await api<Record<string, string>>('GET', `${path}/config`);
    const rows = Object.entries(config).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => {
      const shown = h('span', { class: 'mono value', 'data-masked': 'true' }, '••••••');
      const reveal = h('button', { type: 'button', class: 'small', 'aria-label': `Reveal ${k}`, 'aria-pressed': 'false' }, 'Reveal');
      reveal.addEventListener('click', () => {
        const masked = shown.dataset.masked === 'true';
        shown.textContent = masked ? v : '••••••';
        shown.dataset.masked = String(!masked);
        reveal.textContent = masked ? 'Hide' : 'Reveal';
        reveal.setAttribute('aria-pressed', String(masked));
      });
      const edit = h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${k}` }, 'Edit');
      edit.addEventListener('click', () => { key.value = k; value.value = v; value.focus(); });
      const remove = h('button', { type: 'button', class: 'small danger', 'aria-label': `Remove ${k}` }, 'Remove');
      remove.addEventListener('click', () => void change({ [k]: null }, remove));
      return h('tr', { 'data-key': k }, h('th', { scope: 'row', class: 'mono' }, k), h('td', {}, shown), h('td', { class: 'actions' }, reveal, edit, remove));
    });
    replace(list, rows.length ? h('table', {}, h('tbody', {}, rows)) : h('p', { class: 'hint' }, 'No config vars.'));
  };
  replace(s.body, list, form, h('p', { class: 'hint' }, 'Each change is a new release; instances are replaced without downtime.'));
  return { el: s.el, refresh };
}

export function formationSection(path: string, reloadApp: () => Promise<void>): Section {
  const s = section('Processes', 'formation');
  // Live events refresh this section often. The scale forms are rebuilt only when the process types change, and a
  // refresh never touches an input being edited: replacing it mid-typing lost the selection, so typing "2" over
  // "1" could send 12.
  const forms = h('div', { class: 'scale-forms' });
  const list = h('ul', { class: 'instances', 'aria-label': 'Instances' });
  const restart = h('button', { type: 'button' }, 'Restart all');
  restart.addEventListener('click', () => void act(s.msg, restart, () => api('POST', `${path}/ps/restart`, {}), refresh));
  const inputs = new Map<string, HTMLInputElement>();
  const edited = new Set<string>();
  let shownTypes: string | null = null;

  const scaleForm = (f: Formation): HTMLFormElement => {
    const id = `scale-${f.type}`;
    const input = h('input', { id, type: 'number', min: '0', max: '100', value: String(f.quantity), class: 'narrow' }) as HTMLInputElement;
    input.addEventListener('input', () => edited.add(f.type));
    inputs.set(f.type, input);
    const scale = h('button', { type: 'submit' }, 'Scale');
    return h('form', {
      class: 'row',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const quantity = Number(input.value);
        void act(s.msg, scale, () => api('PATCH', `${path}/formation`, { updates: [{ type: f.type, quantity }] }), async () => {
          if (input.value === String(quantity)) edited.delete(f.type);
          await refresh(); await reloadApp();
        });
      },
    }, h('label', { for: id }, `${f.type} instances`), input, scale,
    f.memoryMB ? h('span', { class: 'hint' }, `${f.memoryMB} MB`) : null);
  };

  const refresh = async () => {
    const [formation, instances] = await Promise.all([api<Formation[]>('GET', `${path}/formation`), api<Instance[]>('GET', `${path}/ps`)]);
    const types = formation.map((f) => `${f.type}:${f.memoryMB ?? ''}`).join(',');
    if (types !== shownTypes) {
      shownTypes = types;
      inputs.clear();
      replace(forms, formation.length ? formation.map(scaleForm) : h('p', { class: 'hint' }, 'No processes until the first release.'));
      replace(s.body, forms, list, formation.length ? restart : null);
    }
    for (const f of formation) {
      const input = inputs.get(f.type);
      if (input && !edited.has(f.type) && document.activeElement !== input) input.value = String(f.quantity);
    }
    replace(list, instances.map((i) => h('li', { 'data-instance': i.name, 'data-state': i.state },
      h('span', { class: 'mono' }, i.name), ' ', badge(i.state), ` v${i.release} · started ${ago(i.startedAt)}`,
      i.restartCount ? ` · ${i.restartCount} restarts` : '', ' ',
      i.state === 'running' ? h('a', { href: `#${path}/terminal/${i.name}`, class: 'terminal-link', 'aria-label': `Open a terminal in ${i.name}` }, 'Terminal') : null)));
  };
  return { el: s.el, refresh };
}

export function domainsSection(path: string): Section {
  const s = section('Domains', 'domains');
  const host = h('input', { id: 'domain-name', name: 'hostname', required: true, autocomplete: 'off', placeholder: 'www.example.com' });
  const list = h('ul');
  const refresh = async () => {
    const domains = await api<{ hostname: string; kind: string }[]>('GET', `${path}/domains`);
    replace(list, domains.map((d) => {
      const remove = h('button', { type: 'button', class: 'small danger', 'aria-label': `Remove ${d.hostname}` }, 'Remove');
      remove.addEventListener('click', () => void act(s.msg, remove, () => api('DELETE', `${path}/domains/${encodeURIComponent(d.hostname)}`), refresh));
      return h('li', {}, h('span', { class: 'mono' }, d.hostname), ' ', h('span', { class: 'hint' }, d.kind), ' ', d.kind === 'custom' ? remove : null);
    }));
  };
  const form = h('form', {
    class: 'row',
    onsubmit: (event: Event) => {
      event.preventDefault();
      void act(s.msg, form.querySelector('button'), () => api('POST', `${path}/domains`, { hostname: host.value.trim() }), async () => { host.value = ''; await refresh(); });
    },
  }, h('label', { for: 'domain-name' }, 'Add domain'), host, h('button', { type: 'submit' }, 'Add'));
  replace(s.body, list, form);
  return { el: s.el, refresh };
}
