// The Resources tab's add-ons: the app's data services and outside services (kind, name, status, memory, which
// apps use it as which var), create one, attach an existing one (or an outside URL), detach, destroy after its
// name is typed, connection info masked until revealed, and each service's backups (app-backups.ts).
import { api, type Addon, type AddonChange, type AddonInfo } from '../api.ts';
import { badge, h, replace } from '../dom.ts';
import type { Section } from './app.ts';
import { act, section } from './app-sections.ts';
import { backupsPanel, type BackupsPanel } from './app-backups.ts';
import { typedConfirm } from './typed-confirm.ts';

const KINDS = ['postgres', 'redis', 'mysql'] as const;

/** How soon the list is read again while a service is starting (its health check has not passed yet). */
const STARTING_POLL_MS = 2_000;

export function addonsSection(path: string, app: string, reloadApp: () => Promise<void>, signal: AbortSignal): Section {
  const s = section('Add-ons', 'addons');
  const list = h('div');
  // Opened panels outlive the refreshes live events cause: a revealed URL or a backups list stays open.
  const infos = new Map<string, HTMLElement>();
  const backups = new Map<string, BackupsPanel>();
  const changed = async () => { await refresh(); await reloadApp(); };
  const release = (c: AddonChange) => (c.release === null ? ' (set for the first deploy)' : ` (release v${c.release})`);

  const infoPanel = (a: Addon): HTMLElement => {
    const panel = h('div', { class: 'addon-info', 'data-info-of': a.name });
    const show = async (reveal: boolean) => {
      const info = await api<AddonInfo>('GET', `${path}/addons/${encodeURIComponent(a.name)}${reveal ? '?reveal=true' : ''}`);
      const toggle = h('button', { type: 'button', class: 'small', 'aria-label': `${reveal ? 'Hide' : 'Reveal'} the URL of ${a.name}`, 'aria-pressed': String(reveal) }, reveal ? 'Hide' : 'Reveal');
      toggle.addEventListener('click', () => void show(!reveal).catch((err: Error) => s.msg.error(err.message)));
      replace(panel, h('span', { class: 'mono' }, info.var), ' = ', h('span', { class: 'mono url-cell', 'data-revealed': String(reveal) }, info.url), ' ', toggle);
      if (reveal) queueMicrotask(() => toggle.focus());
    };
    void show(false).catch((err: Error) => s.msg.error(err.message));
    return panel;
  };

  const toggleInfo = (a: Addon) => {
    if (infos.has(a.name)) infos.delete(a.name); else infos.set(a.name, infoPanel(a));
    void refresh();
  };
  const toggleBackups = (a: Addon) => {
    if (backups.has(a.name)) backups.delete(a.name);
    else { const panel = backupsPanel(a); backups.set(a.name, panel); void panel.refresh().catch((err: Error) => s.msg.error(err.message)); }
    void refresh();
  };

  const destroy = (a: Addon, button: HTMLButtonElement) => typedConfirm({
    title: `Destroy ${a.name}?`,
    text: `The ${a.kind} service and all its data go, and ${[...new Set(a.attachedAs.map((x) => `${x.as} on ${x.app}`))].join(', ') || 'its var'} is unset. Its backups go too unless kept.`,
    expected: a.name,
    action: `Destroy ${a.name}`,
    choice: 'Keep its backups',
    returnFocus: button,
    onConfirm: (keepBackups) => void act(s.msg, button, () => api('DELETE', `${path}/addons/${encodeURIComponent(a.name)}`, { confirm: a.name, keepBackups }),
      async () => { infos.delete(a.name); backups.delete(a.name); s.msg.info(`${a.name} destroyed.`); await changed(); }),
  });

  const row = (a: Addon): HTMLElement[] => {
    const owned = a.app === app;
    const info = h('button', { type: 'button', class: 'small', 'aria-label': `Info of ${a.name}`, 'aria-expanded': String(infos.has(a.name)) }, 'Info');
    info.addEventListener('click', () => toggleInfo(a));
    const backupsButton = h('button', { type: 'button', class: 'small', 'aria-label': `Backups of ${a.name}`, 'aria-expanded': String(backups.has(a.name)) }, 'Backups');
    backupsButton.addEventListener('click', () => toggleBackups(a));
    const detach = h('button', { type: 'button', class: 'small danger', 'aria-label': `Detach ${a.name}` }, 'Detach');
    detach.addEventListener('click', () => void act(s.msg, detach, () => api<AddonChange>('DELETE', `${path}/addons/${encodeURIComponent(a.name)}/attachment`)
      .then((c) => s.msg.info(`${c.var} unset${release(c)}.`)), changed));
    const destroyButton = h('button', { type: 'button', class: 'small danger', 'aria-label': `Destroy ${a.name}` }, 'Destroy');
    destroyButton.addEventListener('click', () => destroy(a, destroyButton));
    const rows = [h('tr', { 'data-addon': a.name, 'data-status': a.status },
      h('td', {}, a.kind),
      h('th', { scope: 'row', class: 'mono' }, a.name, a.app && !owned ? h('div', { class: 'hint' }, `from ${a.app}`) : null),
      h('td', {}, badge(a.status)),
      h('td', {}, a.memoryMB === null ? '—' : `${a.memoryMB} MB`),
      h('td', { class: 'mono' }, a.attachedAs.map((x) => h('div', {}, x.app === app ? x.as : `${x.as} on ${x.app}`))),
      h('td', { class: 'actions' }, info, ' ', a.app ? backupsButton : null, ' ', owned ? destroyButton : detach))];
    const open = [infos.get(a.name), backups.get(a.name)?.el].filter((el): el is HTMLElement => Boolean(el));
    for (const el of open) rows.push(h('tr', { class: 'addon-detail' }, h('td', { colspan: 6 }, el)));
    return rows;
  };

  let again: ReturnType<typeof setTimeout> | null = null;
  signal.addEventListener('abort', () => { if (again) clearTimeout(again); }, { once: true });
  const refresh = async () => {
    const addons = await api<Addon[]>('GET', `${path}/addons`);
    if (again) clearTimeout(again);
    again = addons.some((a) => a.status === 'starting') && !signal.aborted
      ? setTimeout(() => void refresh().catch(() => {}), STARTING_POLL_MS) : null;
    const names = new Set(addons.map((a) => a.name));
    for (const gone of [...infos.keys(), ...backups.keys()].filter((n) => !names.has(n))) { infos.delete(gone); backups.delete(gone); }
    await Promise.all([...backups.values()].map((p) => p.refresh()));
    replace(list, addons.length
      ? h('div', { class: 'scroll' }, h('table', { 'aria-label': 'Add-ons' },
        h('thead', {}, h('tr', {}, ...['Kind', 'Name', 'Status', 'Memory', 'Attached as', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, addons.flatMap(row))))
      : h('p', { class: 'hint' }, 'No add-ons: create a database below.'));
  };

  const kind = h('select', { id: 'addon-kind', name: 'kind' }, KINDS.map((k) => h('option', { value: k }, k)));
  const name = h('input', { id: 'addon-name', name: 'name', autocomplete: 'off', placeholder: `${app}-postgres`, pattern: '[a-z][a-z0-9\\-]{1,39}' });
  kind.addEventListener('change', () => { name.placeholder = `${app}-${kind.value}`; });
  const size = h('input', { id: 'addon-size', name: 'size', autocomplete: 'off', placeholder: '512M', class: 'narrow' });
  const create = h('form', {
    class: 'row wrap',
    onsubmit: (event: Event) => {
      event.preventDefault();
      const body = { kind: kind.value, ...(name.value.trim() ? { name: name.value.trim() } : {}), ...(size.value.trim() ? { size: size.value.trim() } : {}) };
      void act(s.msg, create.querySelector('button'), async () => {
        s.msg.info(`Creating a ${body.kind} add-on: Berth waits until it accepts connections…`);
        const c = await api<AddonChange>('POST', `${path}/addons`, body);
        s.msg.info(`${c.addon.name} is up: ${c.var} set${release(c)}.`);
        name.value = ''; size.value = '';
      }, changed);
    },
  }, h('label', { for: 'addon-kind' }, 'Kind'), kind, h('label', { for: 'addon-name' }, 'Name'), name,
  h('label', { for: 'addon-size' }, 'Memory'), size, h('button', { type: 'submit' }, 'Create add-on'));

  const target = h('input', { id: 'addon-attach', name: 'attach', required: true, autocomplete: 'off', placeholder: 'add-on name, or postgres://…', class: 'grow' });
  const as = h('input', { id: 'addon-as', name: 'as', autocomplete: 'off', placeholder: 'DATABASE_URL', pattern: '[A-Za-z_][A-Za-z0-9_]*' });
  const attach = h('form', {
    class: 'row wrap',
    onsubmit: (event: Event) => {
      event.preventDefault();
      const value = target.value.trim();
      const body = { ...(value.includes('://') ? { url: value } : { name: value }), ...(as.value.trim() ? { as: as.value.trim() } : {}) };
      void act(s.msg, attach.querySelector('button'), () => api<AddonChange>('POST', `${path}/addons/attach`, body)
        .then((c) => { s.msg.info(`${c.var} set${release(c)}.`); target.value = ''; as.value = ''; }), changed);
    },
  }, h('label', { for: 'addon-attach' }, 'Attach'), target, h('label', { for: 'addon-as' }, 'as'), as, h('button', { type: 'submit' }, 'Attach'));

  replace(s.body, list, h('h3', {}, 'Create an add-on'), create, h('h3', {}, 'Attach an add-on of another app or an outside service'), attach,
    h('p', { class: 'hint' }, 'Each change of a var is a new release; instances are replaced without downtime. Services are reachable only from the apps they are attached to.'));
  return { el: s.el, refresh };
}
