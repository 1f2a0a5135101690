// Apps list: every app the user may see, updated live; create an app and get the push commands.
import { api, type App } from '../api.ts';
import { ago, badge, h, notice, replace } from '../dom.ts';
import type { PageContext } from '../main.ts';

export async function appsPage(ctx: PageContext): Promise<void> {
  const rows = new Map<string, HTMLTableRowElement>();
  const tbody = h('tbody');
  const apps = await api<App[]>('GET', '/apps');
  // A review app sits under its parent, indented, saying which branch of which app it was made from.
  const nameCell = (app: App) => app.reviewOf
    ? h('td', { class: 'name' }, h('a', { href: `#/apps/${encodeURIComponent(app.name)}` }, app.name),
      h('span', { class: 'review-of' }, `review of ${app.reviewOf.app}, branch ${app.reviewOf.branch}`))
    : h('td', { class: 'name' }, h('a', { href: `#/apps/${encodeURIComponent(app.name)}` }, app.name));
  const row = (app: App) => h('tr', { 'data-app': app.name, ...(app.reviewOf ? { class: 'review', 'data-review-of': app.reviewOf.app } : {}) },
    nameCell(app),
    h('td', { class: 'status' }, badge(app.status)),
    h('td', { class: 'release' }, app.currentRelease ? `v${app.currentRelease}` : '—'),
    h('td', { class: 'instances' }, String(app.instances)),
    h('td', { class: 'scheduler' }, app.scheduler),
    h('td', { class: 'url' }, h('a', { href: app.url, rel: 'noreferrer', target: '_blank' }, app.url.replace(/^https?:\/\//, '').replace(/\/$/, ''))),
    h('td', { class: 'deployed', title: app.lastDeployAt ?? '' }, ago(app.lastDeployAt)));
  const add = (app: App) => {
    if (rows.has(app.name)) return;
    const tr = row(app);
    rows.set(app.name, tr);
    const parent = app.reviewOf && rows.get(app.reviewOf.app);
    if (parent) parent.after(tr); else tbody.append(tr);
    empty.textContent = '';
  };
  const empty = h('p', { class: 'hint' }, apps.length ? '' : 'No apps yet: create one below.');
  for (const app of apps.filter((a) => !a.reviewOf)) add(app);
  for (const app of apps.filter((a) => a.reviewOf).reverse()) add(app); // each goes right under its parent: in name order
  const table = h('table', { class: 'apps' },
    h('caption', { class: 'sr-only' }, 'Apps'),
    h('thead', {}, h('tr', {}, ...['Name', 'Status', 'Release', 'Instances', 'Scheduler', 'URL', 'Last deploy'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  replace(ctx.main, h('h1', {}, 'Apps'), h('div', { class: 'scroll' }, table), empty, createForm(ctx, add));
  performance.mark('apps-list-rendered');

  ctx.events.on((type, data) => {
    const tr = rows.get(data.name);
    if (type === 'app-deleted' && tr) { tr.remove(); rows.delete(data.name); return; }
    if (type !== 'app') return;
    if (!tr) { void api<App>('GET', `/apps/${encodeURIComponent(data.name)}`).then(add, () => {}); return; }
    replace(tr.querySelector('.status')!, badge(data.status));
    tr.querySelector('.release')!.textContent = data.currentRelease ? `v${data.currentRelease}` : '—';
    tr.querySelector('.instances')!.textContent = String(data.instances);
    tr.querySelector('.deployed')!.textContent = ago(data.lastDeployAt);
  }, ctx.signal);
}

function createForm(ctx: PageContext, onCreated: (app: App) => void): HTMLElement {
  const name = h('input', { id: 'new-app', name: 'name', required: true, pattern: '[a-z][a-z0-9-]{1,29}', autocomplete: 'off', placeholder: 'my-app' });
  const msg = notice();
  const result = h('div', { class: 'created' });
  const form = h('form', {
    class: 'card',
    onsubmit: async (event: Event) => {
      event.preventDefault();
      msg.clear();
      try {
        const app = await api<App>('POST', '/apps', { name: name.value.trim() });
        name.value = '';
        onCreated(app);
        replace(result, pushHelp(app));
        if (!ctx.signal.aborted) msg.info(`Created ${app.name}.`);
      } catch (err) { msg.error((err as Error).message); }
    },
  },
  h('h2', {}, 'Create an app'),
  h('label', { for: 'new-app' }, 'App name'),
  h('div', { class: 'row' }, name, h('button', { type: 'submit' }, 'Create app')),
  h('p', { class: 'hint' }, 'Lowercase letters, digits and dashes; 2–30 characters.'),
  msg.el, result);
  return form;
}

export function pushHelp(app: App): HTMLElement {
  const commands = [
    `git remote add paas ${app.gitUrl}`,
    `git push paas ${app.deployBranch}`,
  ].join('\n');
  return h('div', { class: 'push-help' },
    h('p', {}, h('a', { href: `#/apps/${app.name}` }, app.name), ' is ready. Its git remote: ', h('code', {}, app.gitUrl)),
    h('p', {}, 'Push from your project (git asks for a password: give your API token, or run ', h('code', {}, `berth git:remote ${app.name}`), ' once after berth login):'),
    h('pre', { class: 'commands', 'aria-label': 'Push commands' }, commands),
    h('p', {}, 'Or deploy an image: ', h('code', {}, `berth deploy ${app.name} --image REF`)));
}
