// The ServiceRuntime that Addons and the backup engine use: the local Docker engine's executor, the cluster's
// when the installation has one (an add-on of a k3s app runs there), each add-on routed to its own; and the watch
// that reports a lost node holding add-on data to the alert engine.
import type { LocalEngine } from '../runtime/docker/local-engine.ts';
import type { Hardening } from '../runtime/docker/container-config.ts';
import type { AddonsStore } from '../state/addons-store.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { ClusterAccess } from '../scheduler/wiring.ts';
import { DockerServices } from './docker-services.ts';
import type { KubernetesServices } from './kubernetes/services.ts';
import { watchAddonNodes } from './kubernetes/node-watch.ts';
import { ServiceRuntimes } from './runtimes.ts';

export interface ServiceRuntimesWiring {
  engine: LocalEngine;
  owner: string;
  hardening: Hardening;
  apps: AppsStore;
  store: AddonsStore;
  /** The installation's cluster (scheduler/wiring.ts clusterAccess); add-ons of k3s apps run there. */
  cluster?: ClusterAccess | null;
  /** Where a lost node holding add-on data is reported (the alert engine's host_down). */
  hosts?: { hostDown(name: string): void; hostUp(name: string): void };
  log: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** The cluster's executor: data under BERTH_K8S_ADDON_DIR on the node, which is BERTH_K8S_ADDON_NODE or the first Ready one. */
export async function clusterServices(access: ClusterAccess, owner: string, log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<KubernetesServices> {
  // Loaded only for a cluster, as the k3s scheduler is: a Docker-only server never holds the Kubernetes client.
  const { KubernetesServices } = await import('./kubernetes/services.ts');
  return new KubernetesServices({
    kubeconfigPath: access.kubeconfig, namespace: access.namespace, owner, registry: access.registry, pushImage: access.pushImage,
    dataDir: env.BERTH_K8S_ADDON_DIR || '/var/lib/berth-addons', node: env.BERTH_K8S_ADDON_NODE || undefined, log,
  });
}

export async function createServiceRuntimes(w: ServiceRuntimesWiring): Promise<ServiceRuntimes> {
  const docker = new DockerServices({ docker: w.engine.docker, runtime: w.engine.runtime, owner: w.owner, hardening: w.hardening });
  const k3s = w.cluster ? await clusterServices(w.cluster, w.owner, w.log, w.env) : null;
  const hosts = w.hosts;
  if (k3s && hosts) watchAddonNodes({ lostNodes: () => k3s.lostNodes(), hostDown: (n) => hosts.hostDown(n), hostUp: (n) => hosts.hostUp(n), log: w.log });
  return new ServiceRuntimes({ docker, ...(k3s ? { k3s } : {}) }, {
    schedulerOfApp: (app) => w.apps.find(app)?.scheduler,
    schedulerOfAddon: (name) => w.store.find(name)?.scheduler,
  });
}
