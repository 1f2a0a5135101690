// Hosts: the Docker engines apps run on (GET /api/v1/hosts, admins only), refreshed every few seconds.
import { api, ApiError } from '../api.ts';
import { ago, badge, h, replace } from '../dom.ts';
import type { PageContext } from '../main.ts';

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
  ['Last seen', (x) => ago((x.lastHeartbeatAt ?? x.sampledAt ?? null) as string | null)],
];

export async function hostsPage(ctx: PageContext): Promise<void> {
  const body = h('div');
  replace(ctx.main, h('h1', {}, 'Hosts'), body);
  const load = async () => {
    try {
      // The live load comes nested (`load`, null while a host is down); the columns read it flat.
      const hosts = (await api<Host[]>('GET', '/hosts')).map((x) => ({ ...x, ...((x.load ?? {}) as object) }) as Host);
      replace(body, h('div', { class: 'scroll' }, h('table', { class: 'hosts' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Host'), h('th', { scope: 'col' }, 'Health'), ...COLUMNS.map(([t]) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, hosts.map((x) => h('tr', { 'data-host': x.name },
          h('th', { scope: 'row' }, x.name), h('td', {}, badge(x.status === 'up' ? 'healthy' : x.status)), ...COLUMNS.map(([, f]) => h('td', {}, f(x)))))))));
    } catch (err) {
      const text = err instanceof ApiError && err.status === 403 ? 'Only admins see the hosts.'
        : err instanceof ApiError && err.status === 404 ? 'This server has no hosts API.' : (err as Error).message;
      replace(body, h('p', { class: 'hint' }, text));
    }
  };
  await load();
  const timer = setInterval(() => void load(), 5000);
  ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

function num(value: unknown): string { return typeof value === 'number' ? String(value) : '—'; }

function usage(used: unknown, total: unknown, fallbackTotal?: number): string {
  const gib = (n: number) => `${(n / 1073741824).toFixed(1)} GiB`;
  if (typeof used === 'number' && typeof total === 'number' && total > 0) return `${gib(used)} / ${gib(total)} (${Math.round((used / total) * 100)} %)`;
  if (typeof total === 'number') return gib(total);
  return fallbackTotal ? gib(fallbackTotal) : '—';
}
