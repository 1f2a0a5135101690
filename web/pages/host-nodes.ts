// The cluster's nodes on the hosts page (GET /api/v1/hosts/nodes): readiness and since when, cordon, requested and
// allocatable CPU and memory, pods, the host record; drain / undrain / remove through the same actions as a host.
import { api, ApiError } from '../api.ts';
import { ago, badge, h } from '../dom.ts';
import type { HostActions } from './host-actions.ts';
import type { NodeList, NodeView } from '../../src/wire/hosts.ts';

const COLUMNS: [string, (n: NodeView) => string][] = [
  ['Role', (n) => n.role],
  ['Address', (n) => n.address ?? '—'],
  ['CPU (requested / allocatable)', (n) => `${n.cpu.requested} / ${n.cpu.allocatable ?? '—'}`],
  ['Memory (requested / allocatable)', (n) => `${n.memoryMB.requested} / ${n.memoryMB.allocatable ?? '—'} MiB`],
  ['Pods (Berth\'s)', (n) => `${n.pods} (${n.berthPods})`],
  ['Host record', (n) => (n.host ? `${n.host.name} (${n.host.role})` : '—')],
  ['Kubelet', (n) => n.kubeletVersion ?? '—'],
];

/** The nodes, or null when the installation has no cluster. */
export async function loadNodes(): Promise<NodeView[] | null> {
  try {
    return (await api<NodeList>('GET', '/hosts/nodes')).nodes;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

export function nodesTable(nodes: NodeView[], actions: HostActions): HTMLElement {
  return h('section', { class: 'nodes' },
    h('h2', {}, 'Kubernetes nodes'),
    h('div', { class: 'scroll' }, h('table', { class: 'hosts nodes' },
      h('caption', { class: 'sr-only' }, 'Kubernetes nodes'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Node'), h('th', { scope: 'col' }, 'Readiness'), h('th', { scope: 'col' }, 'Actions'),
        ...COLUMNS.map(([t]) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, nodes.map((n) => h('tr', { 'data-node': n.name },
        h('th', { scope: 'row' }, n.name),
        h('td', { title: n.reason ?? '' }, badge(n.readiness === 'Ready' ? 'healthy' : n.readiness.toLowerCase()), ` since ${ago(n.readinessSince)}`,
          n.schedulable ? null : [' ', badge('cordoned')], n.reason ? h('div', { class: 'hint' }, n.reason) : null),
        // A lost node can be drained too: its pods are evicted and started elsewhere.
        h('td', { class: 'actions' }, actions.buttons({ name: n.name, status: 'up', draining: !n.schedulable })),
        ...COLUMNS.map(([, f]) => h('td', {}, f(n)))))))));
}
