// Which schedulers this installation has: Docker always (the local engine), and the
// Kubernetes (k3s) scheduler when a kubeconfig is given (BERTH_KUBECONFIG) or a k3s server was registered.
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import type { Router } from '../router/types.ts';
import type { Runtime } from '../runtime/types.ts';
import type { AppsStore } from '../state/apps-store.ts';
import { Converger, type ConvergeSettings } from '../releases/converge.ts';
import { PortAllocator } from '../releases/ports.ts';
import { DockerScheduler } from './docker/index.ts';
import type { RouteSetting } from './kubernetes/pod-addresses.ts';
import type { AddressBook } from '../router/dnsmasq/address-book.ts';
import { RegistryClient, splitReference } from '../registry/index.ts';
import { Schedulers } from './schedulers.ts';
import { SCHEDULER_NAMES, type Scheduler, type SchedulerName } from './types.ts';
import type { KubernetesScheduler } from './kubernetes/index.ts';

export interface SchedulerSettings extends ConvergeSettings {
  portRange: [number, number];
  dataDir: string;
}

/** The kubeconfig the k3s scheduler uses: BERTH_KUBECONFIG, else the one `hosts:add --role k3s-server` saved. */
export function kubeconfigPath(dataDir: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.BERTH_KUBECONFIG) return env.BERTH_KUBECONFIG;
  const saved = path.join(dataDir, 'k3s', 'kubeconfig');
  return fs.existsSync(saved) ? saved : null;
}

/** BERTH_DEFAULT_SCHEDULER, else k3s once a cluster is there (Dokku's scheduler-selected), else docker. */
export function defaultSchedulerName(hasCluster: boolean, env: NodeJS.ProcessEnv = process.env): SchedulerName {
  const wanted = env.BERTH_DEFAULT_SCHEDULER;
  if (wanted) {
    if (!SCHEDULER_NAMES.includes(wanted as SchedulerName)) {
      throw new Error(`BERTH_DEFAULT_SCHEDULER must be one of ${SCHEDULER_NAMES.join(', ')}, not ${JSON.stringify(wanted)}`);
    }
    return wanted as SchedulerName;
  }
  return hasCluster ? 'k3s' : 'docker';
}

export function createSchedulers(opts: {
  runtime: Runtime; router: Router; apps: AppsStore; settings: SchedulerSettings;
  /** The cluster's scheduler, when the installation has one (src/scheduler/kubernetes). */
  cluster?: Scheduler | null;
}): Schedulers {
  const converger = new Converger(opts.runtime, opts.router, new PortAllocator(opts.settings.portRange), opts.settings);
  const available: Scheduler[] = [new DockerScheduler({ runtime: opts.runtime, converger })];
  if (opts.cluster) available.push(opts.cluster);
  const defaultName = defaultSchedulerName(Boolean(opts.cluster));
  return new Schedulers({ available, schedulerOf: (app) => opts.apps.find(app)?.scheduler, defaultName: () => defaultName });
}

/** How Berth reaches the installation's cluster: what the k3s scheduler and the add-ons on it share. */
export interface ClusterAccess {
  kubeconfig: string;
  /** One namespace per installation (BERTH_K8S_NAMESPACE, default berth-<installation id>). */
  namespace: string;
  /** The registry as the nodes reach it (BERTH_REGISTRY_ADVERTISE). */
  registry: string;
  /** Tags a local image as `target` (at the nodes' registry address) and pushes it through Berth's own address. */
  pushImage: (localImage: string, target: string) => Promise<void>;
}

/** The cluster's access when the installation has one (a kubeconfig); null otherwise. */
export function clusterAccess(opts: {
  dataDir: string; owner: string; dockerSocket: string; registry: string; registryAdvertise: string; env?: NodeJS.ProcessEnv;
}): ClusterAccess | null {
  const env = opts.env ?? process.env;
  const kubeconfig = kubeconfigPath(opts.dataDir, env);
  if (!kubeconfig) return null;
  const docker = new Docker({ socketPath: opts.dockerSocket });
  const registry = new RegistryClient({ socketPath: opts.dockerSocket, registry: opts.registry });
  return {
    kubeconfig, namespace: env.BERTH_K8S_NAMESPACE || `berth-${opts.owner}`, registry: opts.registryAdvertise,
    // Berth pushes to its registry at the address it reaches; the nodes pull the same repository at theirs.
    pushImage: async (localImage, target) => {
      const { repository, tag } = splitReference(target);
      const local = `${opts.registry}/${repository.slice(repository.indexOf('/') + 1)}`;
      await docker.getImage(localImage).tag({ repo: local, tag });
      await registry.push(`${local}:${tag}`, () => {});
    },
  };
}

/**
 * The Kubernetes (k3s) scheduler when the installation has a cluster; null otherwise. Its objects live in one
 * namespace per installation, and pods pull release images from Berth's registry as the nodes reach it.
 */
export async function createClusterScheduler(opts: {
  dataDir: string; router: Router; owner: string; dockerSocket: string; registry: string; registryAdvertise: string;
  drainSec: number; stopTimeoutSec: number; log: (line: string) => void; env?: NodeJS.ProcessEnv;
  /** The app DNS: with it, apps can be routed straight to their pods (BERTH_K8S_ROUTE). */
  addressBook?: AddressBook | null;
}): Promise<KubernetesScheduler | null> {
  const env = opts.env ?? process.env;
  const access = clusterAccess(opts);
  if (!access) return null;
  // Loaded only for a cluster: the Kubernetes client is some 10 MB of idle memory a Docker-only server never uses.
  const [{ KubernetesScheduler }, { ROUTE_SETTINGS }, { nodeSelectionOf }] = await Promise.all([
    import('./kubernetes/index.ts'), import('./kubernetes/pod-addresses.ts'), import('./kubernetes/node-selection.ts'),
  ]);
  const route = (env.BERTH_K8S_ROUTE || 'auto') as RouteSetting;
  if (!ROUTE_SETTINGS.includes(route)) throw new Error(`BERTH_K8S_ROUTE must be one of ${ROUTE_SETTINGS.join(', ')}, not ${JSON.stringify(env.BERTH_K8S_ROUTE)}`);
  const nodeAddresses = env.BERTH_K8S_NODE_ADDRESSES?.split(',').map((a) => a.trim()).filter(Boolean);
  const selection = nodeSelectionOf(env);
  return new KubernetesScheduler({
    kubeconfigPath: access.kubeconfig, namespace: access.namespace, router: opts.router,
    registry: access.registry, nodeAddresses: nodeAddresses?.length ? nodeAddresses : undefined,
    drainSec: opts.drainSec, stopTimeoutSec: opts.stopTimeoutSec, owner: opts.owner, log: opts.log, dockerSocket: opts.dockerSocket,
    addressBook: opts.addressBook, route, pushImage: access.pushImage, selection,
  });
}
