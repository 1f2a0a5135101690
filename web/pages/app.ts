// One app: status, releases with rollback, config, formation, domains, builds with their live log,
// the live log of every instance, metrics, alerts and a search of the stored logs. Live events refresh
// the parts that changed.
import { api, type App } from '../api.ts';
import { ago, badge, h, replace } from '../dom.ts';
import type { PageContext } from '../main.ts';
import { pushHelp } from './apps.ts';
import { configSection, domainsSection, formationSection, releasesSection } from './app-sections.ts';
import { buildsSection, liveLogSection } from './app-logs.ts';
import { logSearchSection } from './app-log-search.ts';
import { metricsSection } from './app-metrics.ts';
import { alertsSection } from './app-alerts.ts';

export interface Section { el: HTMLElement; refresh(): Promise<void> }

export async function appPage(ctx: PageContext, name: string): Promise<void> {
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

  const reload = async () => { app = await api<App>('GET', path); renderHead(); };
  const sections = {
    formation: formationSection(path, reload),
    releases: releasesSection(path, reload),
    config: configSection(path, reload),
    domains: domainsSection(path),
    builds: buildsSection(path, ctx.signal),
  };
  const log = liveLogSection(path, ctx.signal);
  const alerts = alertsSection(path, ctx.signal, (count) => { if (count !== firing) { firing = count; renderHead(); } });
  replace(ctx.main, h('p', {}, h('a', { href: '#/' }, '← Apps')), head,
    h('div', { class: 'grid' }, sections.formation.el, sections.releases.el, sections.config.el, sections.domains.el, sections.builds.el),
    log.el,
    h('div', { class: 'grid' }, metricsSection(path, ctx.signal).el, alerts.el),
    logSearchSection(path, ctx.signal).el);
  await Promise.all([...Object.values(sections).map((s) => s.refresh()), alerts.refresh().catch(() => {})]);

  // Bursts of events (a deploy sends several) become one refresh.
  let timer: ReturnType<typeof setTimeout> | null = null;
  ctx.events.on((type, data) => {
    if ((type === 'app' && data.name === name) || (type === 'instance' && data.app === name)) {
      if (type === 'app') { app = { ...app, ...pick(data) }; renderHead(); }
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        if (ctx.signal.aborted) return;
        void Promise.all([reload(), sections.formation.refresh(), sections.releases.refresh(), sections.builds.refresh()]).catch(() => {});
      }, 250);
    }
    if (type === 'app-deleted' && data.name === name) location.hash = '#/';
  }, ctx.signal);
}

function pick(data: Partial<App>): Partial<App> {
  const { status, currentRelease, instances, lastDeployAt } = data;
  return { status, currentRelease, instances, lastDeployAt };
}
