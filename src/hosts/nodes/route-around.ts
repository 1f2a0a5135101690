// The moment a node is lost, every node-port route stops naming its address, without waiting for the cluster
// to reschedule its pods: until then Caddy would keep trying the dead upstreams whenever its passive health
// check lets them back in.
import type { Router, Upstream } from '../../router/types.ts';

export interface RouteAroundResult {
  /** Apps whose route no longer names the dead host. */
  rerouted: string[];
  /** Apps served only by the dead host: their upstreams stay, since an empty route answers 503 at once. */
  kept: string[];
}

/** Re-sets, for each app with an upstream at `address`, its route without those upstreams. */
export async function routeAroundHost(router: Router, address: string): Promise<RouteAroundResult> {
  const result: RouteAroundResult = { rerouted: [], kept: [] };
  const onDeadHost = (u: Upstream) => u.host === address;
  for (const route of await router.listRoutes()) {
    if (!route.upstreams.some(onDeadHost)) continue;
    const surviving = route.upstreams.filter((u) => !onDeadHost(u));
    if (!surviving.length) {
      result.kept.push(route.app);
      continue;
    }
    await router.setRoute({ ...route, upstreams: surviving });
    result.rerouted.push(route.app);
  }
  return result;
}
