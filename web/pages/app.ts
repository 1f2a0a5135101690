// One app: a header (status, release, URL, firing alerts) over tabs a Heroku user knows: Overview,
// Resources (add-ons), Activity, Logs, Metrics and Settings (app-tabs.ts), each at an address of its own (#/apps/NAME/metrics)
// so a link, a reload and back/forward all land on the same tab. Switching tabs keeps the header and
// builds only the tab shown. Live events refresh the header and the tab in view.
import { api, type App } from '../api.ts';
import { ago, badge, h, replace } from '../dom.ts';
import type { PageContext } from '../main.ts';
import { pushHelp } from './apps.ts';
import { APP_TABS, appTabHref, tabLabel, type AppRoute } from './app-route.ts';
import { TAB_VIEWS, type TabView } from './app-tabs.ts';

export interface Section { el: HTMLElement; refresh(): Promise<void> }

/** The shown app page: main.ts hands it the next route of the same app instead of building a new page. */
export interface AppPage { name: string; show(route: AppRoute): void }

const FIRING_POLL_MS = 10_000;

export async function appPage(ctx: PageContext, route: AppRoute): Promise<AppPage> {
  const name = route.app;
  const path = `/apps/${encodeURIComponent(name)}`;
  let app = await api<App>('GET', path);
  const head = h('div', { class: 'app-head' });
  let firing = 0;
  const renderHead = () => replace(head,
    h('h1', {}, app.name, ' ', badge(app.status),
      firing ? h('span', { class: 'badge badge-firing', 'data-alerts': 'firing' }, `${firing} alert${firing === 1 ? '' : 's'} firing`) : null),
    h('p', { class: 'meta' },
      h('span', { class: 'current-release' }, app.currentRelease ? `v${app.currentRelease}` : 'no release yet'), ' · ',
      `${app.instances} running`, ' · ', h('span', { class: 'scheduler', title: 'what runs it' }, `on ${app.scheduler}`), ' · ', h('a', { href: app.url, rel: 'noreferrer', target: '_blank' }, app.url), ' · ',
      `deployed ${ago(app.lastDeployAt)}`, ' · ', h('a', { href: `#/audit?app=${encodeURIComponent(app.name)}` }, 'Audit trail')),
    app.currentRelease === null ? pushHelp(app) : null);
  renderHead();
  const onFiring = (count: number) => { if (count !== firing) { firing = count; renderHead(); } };
  const reloadApp = async () => { app = await api<App>('GET', path); renderHead(); };

  const links = APP_TABS.map((t) => h('a', { href: appTabHref(name, t.id), 'data-tab': t.id }, t.label));
  const tabs = h('nav', { class: 'tabs', 'aria-label': `${name} sections` }, links);
  const panel = h('div', { class: 'tab-panel', id: 'tab-panel' });
  replace(ctx.main, h('p', { class: 'back' }, h('a', { href: '#/' }, '← Apps')), head, tabs, panel);

  let tabAbort = new AbortController();
  ctx.signal.addEventListener('abort', () => tabAbort.abort(), { once: true });
  let view: TabView | null = null;
  const show = (next: AppRoute) => {
    tabAbort.abort();
    tabAbort = new AbortController();
    const signal = tabAbort.signal;
    for (const link of links) link.toggleAttribute('aria-current', false);
    links.find((l) => l.dataset.tab === next.tab)?.setAttribute('aria-current', 'page');
    document.title = `${name} · ${tabLabel(next.tab)} · Berth`;
    const shown = TAB_VIEWS[next.tab]({ path, name, query: next.query, signal, app: () => app, reloadApp, onFiring });
    view = shown;
    panel.dataset.tab = next.tab;
    replace(panel, shown.el);
    shown.refresh().catch((err: Error) => {
      if (!signal.aborted) panel.prepend(h('p', { class: 'notice error', role: 'alert' }, err.message));
    });
  };
  show(route);

  // The header's alert badge counts firing rules whichever tab is shown (the Metrics tab lists them).
  const countFiring = () => api<{ state: string }[]>('GET', `${path}/alerts`)
    .then((rules) => { if (!ctx.signal.aborted) onFiring(rules.filter((r) => r.state === 'firing').length); }, () => {});
  void countFiring();
  const poll = setInterval(() => void countFiring(), FIRING_POLL_MS);
  ctx.signal.addEventListener('abort', () => clearInterval(poll), { once: true });

  // Bursts of events (a deploy sends several) become one refresh.
  let timer: ReturnType<typeof setTimeout> | null = null;
  ctx.events.on((type, data) => {
    if ((type === 'app' && data.name === name) || (type === 'instance' && data.app === name)) {
      if (type === 'app') { app = { ...app, ...pick(data) }; renderHead(); }
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        if (ctx.signal.aborted) return;
        void Promise.all([reloadApp(), view?.refresh()]).catch(() => {});
      }, 250);
    }
    if (type === 'app-deleted' && data.name === name) location.hash = '#/';
  }, ctx.signal);
  return { name, show };
}

function pick(data: Partial<App>): Partial<App> {
  const { status, currentRelease, instances, lastDeployAt } = data;
  return { status, currentRelease, instances, lastDeployAt };
}
