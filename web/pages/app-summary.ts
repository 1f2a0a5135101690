// Two read-only cards of the app page: the Overview's latest activity (the newest releases and builds
// together, a running build linking to its live log) and the Settings tab's app information.
import { api, type App, type Build, type Release } from '../api.ts';
import { ago, badge, h, replace } from '../dom.ts';
import type { Section } from './app.ts';
import { section } from './app-sections.ts';
import { appTabHref } from './app-route.ts';

const SHOWN = 6;

export function latestActivitySection(path: string, app: string): Section {
  const s = section('Latest activity', 'latest-activity');
  const all = h('a', { href: appTabHref(app, 'activity') }, 'All activity');
  const refresh = async () => {
    const [releases, builds] = await Promise.all([api<Release[]>('GET', `${path}/releases`), api<Build[]>('GET', `${path}/builds`)]);
    const items = [
      ...releases.slice(0, SHOWN).map((r) => ({ at: r.createdAt, el: h('li', { 'data-release': r.version },
        badge(r.status), ' ', h('strong', {}, `v${r.version}`), r.current ? h('span', { class: 'tag' }, ' current') : null, ' ', r.description,
        h('div', { class: 'hint', title: r.createdAt }, `${r.createdBy ?? '—'} · ${ago(r.createdAt)}`)) })),
      ...builds.slice(0, SHOWN).map((b) => ({ at: b.startedAt, el: h('li', { 'data-build': b.id },
        badge(b.status), ' ', `Build of ${b.commitSha.slice(0, 7)}`,
        b.status === 'building' ? [' · ', h('a', { href: appTabHref(app, 'activity') }, 'Watch the build log')] : null,
        h('div', { class: 'hint', title: b.startedAt }, `${b.pushedBy} · ${ago(b.startedAt)}`)) })),
    ].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, SHOWN);
    replace(s.body, items.length
      ? h('ul', { class: 'activity-list', 'aria-label': 'Latest activity' }, items.map((i) => i.el))
      : h('p', { class: 'hint' }, 'Nothing yet: push to deploy.'),
    h('p', {}, all));
  };
  return { el: s.el, refresh };
}

export function appInfoSection(app: () => App): Section {
  const s = section('App information', 'app-info');
  const refresh = async () => {
    const a = app();
    const row = (name: string, value: Node | string) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', { class: 'url-cell' }, value));
    replace(s.body, h('table', { class: 'app-info' }, h('tbody', {},
      row('Name', a.name),
      row('Web URL', h('a', { href: a.url, rel: 'noreferrer', target: '_blank' }, a.url)),
      row('Git URL', h('code', {}, a.gitUrl)),
      row('Deploys from', h('code', {}, a.deployBranch)),
      row('Runs on', a.scheduler),
      row('Created', h('span', { title: a.createdAt }, ago(a.createdAt))))));
  };
  return { el: s.el, refresh };
}
