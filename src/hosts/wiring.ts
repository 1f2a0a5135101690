// How the server gets its runtime and hosts: one MultiHostRuntime over the local engine (host "local")
// plus every registered host. With no hosts registered it only ever talks to the local engine, exactly
// as a single-machine Berth does.
import Docker from 'dockerode';
import type { Db } from '../state/db.ts';
import { HostsStore } from '../state/hosts-store.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { Deployer } from '../releases/deployer.ts';
import { DockerRuntime } from '../runtime/docker/index.ts';
import type { Hardening } from '../runtime/docker/container-config.ts';
import { MultiHostRuntime } from '../runtime/multi-host/index.ts';
import { engineAuth, type RegistryCredential } from '../registry/credentials.ts';
import { HostsService } from './service.ts';
import { HostMonitor, type HostHooks } from './monitor.ts';
import { routeAroundHost } from './route-around.ts';
import type { Router } from '../router/types.ts';

export interface HostSettings {
  /** Berth's registry as the hosts reach it (BERTH_REGISTRY_ADVERTISE); default: BERTH_REGISTRY. */
  registryAdvertise: string;
  heartbeatMs: number;
  downAfterMs: number;
  /** A k3s binary on this machine for air-gapped k3s installs (K3S_BINARY). */
  k3sBinary?: string;
}

export function hostSettings(registry: string, env: NodeJS.ProcessEnv = process.env): HostSettings {
  const seconds = (key: string, fallback: number) => {
    const n = Number(env[key] ?? fallback);
    if (!(n > 0)) throw new Error(`${key} must be a positive number of seconds`);
    return n * 1000;
  };
  return {
    registryAdvertise: env.BERTH_REGISTRY_ADVERTISE || registry,
    heartbeatMs: seconds('BERTH_HEARTBEAT_SECONDS', 2),
    downAfterMs: seconds('BERTH_HOST_DOWN_SECONDS', 10),
    k3sBinary: env.K3S_BINARY || undefined,
  };
}

export function createRuntime(opts: {
  socketPath: string; owner: string; registry: string; settings: HostSettings; log: (line: string) => void;
  /** Range of the app networks on the local engine (BERTH_ROUTE_VIA=container-ip); remote hosts never get them. */
  networkSubnet?: string;
  /** Limits of the local engine's containers (BERTH_PIDS_LIMIT, BERTH_ONEOFF_MEMORY_MB); remote hosts use the defaults. */
  hardening?: Partial<Hardening>;
  /** Berth's registry credential, which hosts pull with (null: the registry has no auth). */
  registryCredential?: RegistryCredential | null;
}): MultiHostRuntime {
  const docker = new Docker({ socketPath: opts.socketPath });
  const local = new DockerRuntime({ socketPath: opts.socketPath, docker, owner: opts.owner, networkSubnet: opts.networkSubnet, hardening: opts.hardening });
  return new MultiHostRuntime({
    local: { docker, runtime: local }, registry: opts.registry, registryAdvertise: opts.settings.registryAdvertise,
    pullTimeoutMs: 300_000, log: opts.log,
    registryAuth: opts.registryCredential ? engineAuth(opts.registryCredential, opts.settings.registryAdvertise) : undefined,
  });
}

export interface Hosts {
  service: HostsService;
  monitor: HostMonitor;
  /** Set by whoever wants to hear about host failures (alerts); called once per transition. */
  hooks: HostHooks;
}

/** Registered hosts join the runtime now (before reconcile lists instances); heartbeats start with startMonitor. */
export function createHosts(opts: {
  db: Db; runtime: MultiHostRuntime; router: Router; apps: AppsStore; deployer: Deployer; dataDir: string; owner: string;
  settings: HostSettings; log: (line: string) => void;
}): Hosts {
  const store = new HostsStore(opts.db);
  const service = new HostsService({
    store, runtime: opts.runtime, apps: opts.apps, deployer: opts.deployer, dataDir: opts.dataDir, owner: opts.owner,
    registryAdvertise: opts.settings.registryAdvertise, k3sBinary: opts.settings.k3sBinary, log: opts.log,
  });
  service.attachRegistered();
  const hooks: HostHooks = { onHostDown: () => {}, onHostUp: () => {} };
  const monitor = new HostMonitor({
    store, runtime: opts.runtime, intervalMs: opts.settings.heartbeatMs, downAfterMs: opts.settings.downAfterMs, log: opts.log,
    hooks: { onHostDown: (name) => hooks.onHostDown(name), onHostUp: (name) => hooks.onHostUp(name) },
    routeAround: async (name) => {
      const address = opts.runtime.host(name)?.address;
      if (!address) return;
      const { rerouted, kept } = await routeAroundHost(opts.router, address);
      if (rerouted.length) opts.log(`host ${name} is down: routed around it for ${rerouted.join(', ')}`);
      if (kept.length) opts.log(`host ${name} is down: ${kept.join(', ')} kept its route (no instance elsewhere yet)`);
    },
    reconvergeAll: async (reason) => {
      for (const app of opts.apps.list()) {
        await opts.deployer.converge(app.name, (line) => opts.log(`${reason}: ${app.name}: ${line}`))
          .catch((err) => opts.log(`${reason}: ${app.name} could not be converged: ${(err as Error).message}`));
      }
    },
  });
  return { service, monitor, hooks };
}
