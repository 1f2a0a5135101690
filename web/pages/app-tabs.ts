// What each tab of the app page shows. A tab is built when it is opened and dropped when another one is:
// its streams and timers stop with its signal, so only the tab in view reads the live log or metrics.
import type { App } from '../api.ts';
import { h } from '../dom.ts';
import type { AppTab } from './app-route.ts';
import { configSection, domainsSection, formationSection, releasesSection } from './app-sections.ts';
import { buildsSection, liveLogSection } from './app-logs.ts';
import { logSearchSection } from './app-log-search.ts';
import { metricsSection } from './app-metrics.ts';
import { alertsSection } from './app-alerts.ts';
import { appInfoSection, latestActivitySection } from './app-summary.ts';
import { addonsSection } from './app-addons.ts';
import { autoscaleSection } from './app-autoscale.ts';

export interface TabContext {
  path: string;                  // /apps/NAME
  name: string;
  query: URLSearchParams;        // the tab's own settings from the address
  signal: AbortSignal;           // aborted when the tab is left
  app(): App;
  reloadApp(): Promise<void>;
  onFiring(count: number): void; // the header's alert badge
}

/** refresh() loads the tab and runs again, coalesced, on every live event of the app. */
export interface TabView { el: HTMLElement; refresh(): Promise<void> }

const grid = (...sections: { el: HTMLElement }[]) => h('div', { class: 'grid' }, sections.map((s) => s.el));
const all = (...sections: { refresh(): Promise<void> }[]) => async () => { await Promise.all(sections.map((s) => s.refresh())); };

export const TAB_VIEWS: Record<AppTab, (t: TabContext) => TabView> = {
  overview: (t) => {
    const formation = formationSection(t.path, t.reloadApp);
    const activity = latestActivitySection(t.path, t.name);
    const autoscale = autoscaleSection(t.path, t.name);
    return { el: h('div', {}, grid(formation, activity), autoscale.el), refresh: all(formation, activity, autoscale) };
  },
  resources: (t) => {
    const addons = addonsSection(t.path, t.name, t.reloadApp, t.signal);
    return { el: addons.el, refresh: addons.refresh };
  },
  activity: (t) => {
    const releases = releasesSection(t.path, t.reloadApp, t.signal);
    const builds = buildsSection(t.path, t.signal);
    return { el: h('div', {}, releases.el, builds.el), refresh: all(releases, builds) };
  },
  logs: (t) => {
    const live = liveLogSection(t.path, t.signal);
    const search = logSearchSection(t.path, t.signal);
    return { el: h('div', {}, live.el, search.el), refresh: async () => {} };
  },
  metrics: (t) => {
    const metrics = metricsSection(t.path, t.name, t.query, t.signal);
    const alerts = alertsSection(t.path, t.signal, t.onFiring);
    return { el: h('div', {}, metrics.el, alerts.el), refresh: all(metrics, alerts) };
  },
  settings: (t) => {
    const info = appInfoSection(t.app);
    const config = configSection(t.path, t.reloadApp);
    const domains = domainsSection(t.path);
    return { el: h('div', {}, info.el, grid(config, domains)), refresh: all(info, config, domains) };
  },
};
