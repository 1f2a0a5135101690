// The local Docker engine: the Docker scheduler's runtime and its client (add-ons create their service
// containers through it; the hosts list reads its load). One per server, made at start.
import Docker from 'dockerode';
import { DockerRuntime } from './index.ts';
import type { Hardening } from './container-config.ts';

export interface LocalEngine { docker: Docker; runtime: DockerRuntime }

export function createLocalEngine(opts: {
  socketPath: string; owner: string;
  /** Range of the app networks (BERTH_ROUTE_VIA=container-ip). */
  networkSubnet?: string;
  /** Limits of the containers (BERTH_PIDS_LIMIT, BERTH_ONEOFF_MEMORY_MB). */
  hardening?: Partial<Hardening>;
  /** The image of the network holders a push's containers join (BERTH_STACK_GENERIC; unset: none). */
  holderImage?: string;
  holderIdleMs?: number;
  log?: (line: string) => void;
}): LocalEngine {
  const docker = new Docker({ socketPath: opts.socketPath });
  return { docker, runtime: new DockerRuntime({ ...opts, docker }) };
}
