// How the server gets its nodes: with a cluster (scheduler/wiring.ts clusterAccess), `berth hosts` lists its nodes,
// hosts:drain/undrain/remove act on them, and a NodeMonitor reports lost nodes as hosts down (alerts) and routes
// around them. Without one, nothing here loads (the Kubernetes client stays out of a Docker-only server).
import type { ClusterAccess } from '../../scheduler/wiring.ts';
import type { Router } from '../../router/types.ts';
import type { HostsService } from '../service.ts';
import { routeAroundHost } from './route-around.ts';
import { NodeMonitor, type HostHooks, type LostNode } from './node-monitor.ts';

/** How often the nodes are read for lost ones: a lost node leaves the routes within LEASE_STALE_MS plus this. */
export const NODE_CHECK_MS = 5_000;

export interface NodesWiring {
  access: ClusterAccess | null;
  owner: string;
  hosts: HostsService;
  /** Told which hosts are down or back (alerts); read at each call, so it may be set after wiring. */
  hooks: HostHooks;
  router: Router;
  /** The k3s scheduler: takes a lost node's pods out of the app DNS (pod routing). */
  scheduler: { routeAroundNodes(names: string[]): Promise<void> } | null;
  intervalMs?: number;
  log: (line: string) => void;
}

export async function createNodes(w: NodesWiring): Promise<NodeMonitor | null> {
  if (!w.access) return null;
  const { NodesService } = await import('./nodes-service.ts');
  const nodes = new NodesService({
    kubeconfigPath: w.access.kubeconfig, namespace: w.access.namespace, owner: w.owner,
    hostOf: (node, address) => w.hosts.hostOfNode(node, address), log: w.log,
  });
  w.hosts.useNodes(nodes);
  return new NodeMonitor({
    lostNodes: () => nodes.lostNodes(),
    onHostDown: (name) => w.hooks.onHostDown(name),
    onHostUp: (name) => w.hooks.onHostUp(name),
    // Traffic first, then capacity: the lost nodes' instances are replaced on the nodes that answer (lost-plan.ts).
    routeAround: async (lost) => {
      await routeAroundNodes(w, lost);
      for (const line of await nodes.leaveLostNodes(lost.map((n) => n.name))) w.log(line);
    },
    intervalMs: w.intervalMs ?? NODE_CHECK_MS,
    log: w.log,
  });
}

/** Pod routes drop the lost nodes' pods; node-port routes drop their addresses (kept when nothing else is left). */
async function routeAroundNodes(w: NodesWiring, lost: LostNode[]): Promise<void> {
  await w.scheduler?.routeAroundNodes(lost.map((n) => n.name));
  for (const address of lost.map((n) => n.address).filter((a): a is string => Boolean(a))) {
    const { rerouted } = await routeAroundHost(w.router, address);
    if (rerouted.length) w.log(`node at ${address} is lost: routed around it for ${rerouted.join(', ')}`);
  }
}
