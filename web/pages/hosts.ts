// Hosts: the cluster's nodes when there is one (host-nodes.ts), then Berth's own Docker engine and the host records
// (GET /api/v1/hosts, admins only; a Docker host of an older Berth shows as retired), refreshed every few seconds,
// with drain / undrain / remove per node, remove of a retired host, and the "Add a host" form (its output streams in).
import { api, ApiError } from '../api.ts';
import { ago, badge, h, replace } from '../dom.ts';
import type { PageContext } from '../main.ts';
import { hostActions } from './host-actions.ts';
import { addHostForm } from './host-add.ts';
import { loadNodes, nodesTable } from './host-nodes.ts';

type Host = Record<string, unknown> & { name: string; status: string };

const COLUMNS: [string, (host: Host) => string][] = [
  ['Address', (x) => String(x.address ?? '—')],
  ['Role', (x) => String(x.role ?? '—')],
  ['CPUs', (x) => num(x.cpus)],
  ['CPU use', (x) => (typeof x.cpuPercent === 'number' ? `${x.cpuPercent.toFixed(0)} %` : '—')],
  ['Memory', (x) => usage(x.memUsed, x.memTotal, typeof x.memoryMB === 'number' ? x.memoryMB * 1048576 : undefined)],
  ['Disk', (x) => usage(x.diskUsed, x.diskTotal)],
  ['Instances', (x) => num(x.instances)],
  ['Containers', (x) => num(x.containers)],
  ['Sampled', (x) => ago((x.sampledAt ?? null) as string | null)],
];

export async function hostsPage(ctx: PageContext): Promise<void> {
  if (ctx.user.role !== 'admin') {
    replace(ctx.main, h('h1', {}, 'Hosts'), h('p', { class: 'notice', role: 'status' },
      'Only admins see the hosts page: the machines apps run on are managed by an admin.'));
    return;
  }
  const body = h('div');
  let refreshing: Promise<void> | null = null;
  const refresh = () => { refreshing ??= load().finally(() => { refreshing = null; }); };
  const actions = hostActions(ctx, refresh);
  replace(ctx.main, h('h1', {}, 'Hosts'), body, actions.el, addHostForm(ctx, refresh));
  const load = async () => {
    try {
      // The live load comes nested (`load`, null while a host is down); the columns read it flat.
      const [nodes, raw] = await Promise.all([loadNodes(), api<Host[]>('GET', '/hosts')]);
      const hosts = raw.map((x) => ({ ...x, ...((x.load ?? {}) as object) }) as Host);
      if (ctx.signal.aborted) return;
      // The table is rebuilt on every refresh: a keyboard user's focus stays on the same button.
      const focused = (document.activeElement as HTMLElement | null)?.dataset?.focusKey;
      replace(body, nodes ? [nodesTable(nodes, actions), h('h2', {}, 'Hosts')] : null, h('div', { class: 'scroll' }, h('table', { class: 'hosts' },
        h('caption', { class: 'sr-only' }, 'Hosts'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Host'), h('th', { scope: 'col' }, 'Health'), h('th', { scope: 'col' }, 'Actions'),
          ...COLUMNS.map(([t]) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, hosts.map((x) => h('tr', { 'data-host': x.name },
          h('th', { scope: 'row' }, x.name),
          h('td', {}, badge(x.status === 'up' ? 'healthy' : x.status), x.draining === true ? [' ', badge('draining')] : null,
            x.status === 'retired' ? h('div', { class: 'hint' }, 'A Docker host of an older Berth, no longer used: Remove finishes the move.') : null),
          h('td', { class: 'actions' }, actions.buttons({ name: x.name, status: x.status, draining: x.draining === true })),
          ...COLUMNS.map(([, f]) => h('td', {}, f(x)))))))));
      if (focused) body.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
    } catch (err) {
      const text = err instanceof ApiError && err.status === 403 ? 'Only admins see the hosts page.'
        : err instanceof ApiError && err.status === 404 ? 'This server has no hosts API.' : (err as Error).message;
      replace(body, h('p', { class: 'hint' }, text));
    }
  };
  refresh();
  await refreshing;
  const timer = setInterval(refresh, 5000);
  ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

function num(value: unknown): string { return typeof value === 'number' ? String(value) : '—'; }

function usage(used: unknown, total: unknown, fallbackTotal?: number): string {
  const gib = (n: number) => `${(n / 1073741824).toFixed(1)} GiB`;
  if (typeof used === 'number' && typeof total === 'number' && total > 0) return `${gib(used)} / ${gib(total)} (${Math.round((used / total) * 100)} %)`;
  if (typeof total === 'number') return gib(total);
  return fallbackTotal ? gib(fallbackTotal) : '—';
}
