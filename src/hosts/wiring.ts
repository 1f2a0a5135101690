// How the server gets its hosts: the local Docker engine (runtime/docker/local-engine.ts) runs the Docker
// scheduler's apps (one machine); more machines join the installation's k3s cluster (hosts:add, nodes/), whose
// scheduler is src/scheduler/kubernetes. Docker hosts registered by an older Berth are retired: listed, removable.
import type { Db } from '../state/db.ts';
import { HostsStore } from '../state/hosts-store.ts';
import type { LocalEngine } from '../runtime/docker/local-engine.ts';
import { HostsService, retiredHostNotice } from './service.ts';
import type { HostHooks } from './nodes/node-monitor.ts';
import { kubeletSettingsOf, type KubeletSettingsRead } from './kubelet/settings.ts';

export interface HostSettings {
  /** Berth's registry as the nodes reach it (BERTH_REGISTRY_ADVERTISE); default: BERTH_REGISTRY. */
  registryAdvertise: string;
  /** A k3s binary on this machine for air-gapped k3s installs (K3S_BINARY). */
  k3sBinary?: string;
  /** The kubelet role's settings (BERTH_KUBELET_*): checked here, at start. */
  kubelet: KubeletSettingsRead;
}

export function hostSettings(registry: string, env: NodeJS.ProcessEnv = process.env): HostSettings {
  return { registryAdvertise: env.BERTH_REGISTRY_ADVERTISE || registry, k3sBinary: env.K3S_BINARY || undefined, kubelet: kubeletSettingsOf(env) };
}

export interface Hosts {
  service: HostsService;
  /** Set by whoever wants to hear about lost nodes (alerts); called once per transition. */
  hooks: HostHooks;
}

/** The hosts service; each Docker host left from before is named in the log once, with how to finish the move. */
export function createHosts(opts: {
  db: Db; engine: LocalEngine; dataDir: string; owner: string; settings: HostSettings; log: (line: string) => void;
}): Hosts {
  const store = new HostsStore(opts.db);
  const service = new HostsService({
    store, engine: opts.engine, dataDir: opts.dataDir, owner: opts.owner,
    registryAdvertise: opts.settings.registryAdvertise, k3sBinary: opts.settings.k3sBinary, kubelet: opts.settings.kubelet, log: opts.log,
  });
  for (const row of store.list().filter((r) => r.role === 'docker')) opts.log(retiredHostNotice(row.name, row.address));
  return { service, hooks: { onHostDown: () => {}, onHostUp: () => {} } };
}
