// The Berth web console: a hash-routed single page (#/, #/apps/NAME, #/apps/NAME/metrics and the app's
// other tabs, #/apps/NAME/terminal/web.1, #/hosts, #/audit, #/admin). Each page is a function that renders into <main> and may
// listen to live events; the app page stays up while its tabs change.
import './style.css';
import '@xterm/xterm/css/xterm.css';
import 'uplot/dist/uPlot.min.css';
import { api, ApiError, setCsrf, whenSignedOut, type User } from './api.ts';
import { h, replace } from './dom.ts';
import { signInPage } from './pages/sign-in.ts';
import { appsPage } from './pages/apps.ts';
import { appPage, type AppPage } from './pages/app.ts';
import { parseAppRoute } from './pages/app-route.ts';
import { hostsPage } from './pages/hosts.ts';
import { auditPage } from './pages/audit.ts';
import { adminPage } from './pages/admin.ts';
import { liveEvents, type LiveEvents } from './live.ts';

export interface PageContext { user: User; main: HTMLElement; events: LiveEvents; signal: AbortSignal }
export type Page = (ctx: PageContext) => void | Promise<void>;

const root = document.getElementById('app')!;
let user: User | null = null;
let events: LiveEvents | null = null;
let pageAbort = new AbortController();
let shownApp: AppPage | null = null;

async function boot(): Promise<void> {
  whenSignedOut(() => { if (user) signedOut(); });
  try {
    const session = await api<{ user: User; csrfToken: string }>('GET', '/session');
    signedIn(session.user, session.csrfToken);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) console.error(err);
    signedOut();
  }
}

function signedIn(who: User, csrf: string): void {
  user = who;
  setCsrf(csrf);
  events = liveEvents();
  window.addEventListener('hashchange', route);
  route();
}

function signedOut(): void {
  user = null;
  events?.close();
  events = null;
  shownApp = null;
  pageAbort.abort();
  window.removeEventListener('hashchange', route);
  replace(root, signInPage((who, csrf) => { history.replaceState(null, '', '#/'); signedIn(who, csrf); }));
}

async function signOut(): Promise<void> {
  await api('DELETE', '/session').catch(() => {});
  signedOut();
}

function route(): void {
  if (!user || !events) return;
  const hash = decodeURIComponent(location.hash.replace(/^#/, '')) || '/';
  const app = parseAppRoute(hash);
  // Another tab of the app in view: the page switches tabs and keeps its header and live subscription.
  if (app && shownApp?.name === app.app) { shownApp.show(app); return; }
  shownApp = null;
  document.title = 'Berth';
  pageAbort.abort();
  pageAbort = new AbortController();
  const main = h('main', { id: 'main', tabindex: '-1' });
  const nav = h('nav', { 'aria-label': 'Main' },
    h('a', { href: '#/', class: 'brand' }, 'Berth'),
    h('a', { href: '#/', 'aria-current': hash === '/' ? 'page' : undefined }, 'Apps'),
    h('a', { href: '#/hosts', 'aria-current': hash === '/hosts' ? 'page' : undefined }, 'Hosts'),
    h('a', { href: '#/audit', 'aria-current': hash.startsWith('/audit') ? 'page' : undefined }, 'Audit'),
    user.role === 'admin' ? h('a', { href: '#/admin', 'aria-current': hash === '/admin' ? 'page' : undefined }, 'Admin') : null,
    h('span', { class: 'spacer' }),
    h('span', { class: 'who' }, `${user.name} (${user.role})`),
    h('button', { type: 'button', onclick: () => void signOut() }, 'Sign out'));
  replace(root, h('header', {}, nav), main);
  const ctx: PageContext = { user, main, events, signal: pageAbort.signal };
  const terminal = /^\/apps\/([^/]+)\/terminal\/([^/]+)$/.exec(hash);
  const audit = /^\/audit(?:\?(.*))?$/.exec(hash);
  const show = async () => {
    if (terminal) {
      const { terminalPage } = await import('./pages/terminal.ts'); // xterm.js loads only here
      await terminalPage(ctx, terminal[1], terminal[2]);
    } else if (app) {
      const page = await appPage(ctx, app);
      if (!ctx.signal.aborted) shownApp = page;
    } else if (hash === '/hosts') await hostsPage(ctx);
    else if (hash === '/admin') await adminPage(ctx);
    else if (audit) await auditPage(ctx, new URLSearchParams(audit[1] ?? ''));
    else await appsPage(ctx);
  };
  show().catch((err: Error) => { if (!pageAbort.signal.aborted) replace(main, h('p', { class: 'notice error', role: 'alert' }, err.message)); });
}

void boot();
