// Container labels are the only place Berth keeps per-instance facts on the engine,
// so an Instance can be rebuilt from `docker inspect` alone (after a Berth restart, too).
import type Docker from 'dockerode';
import type { Instance, InstanceSpec, InstanceState } from '../types.ts';

export const LABEL = {
  managed: 'berth.managed',
  owner: 'berth.owner',       // the Berth installation: two of them may share one engine
  app: 'berth.app',
  release: 'berth.release',
  process: 'berth.process',
  index: 'berth.index',
  generation: 'berth.generation',
  port: 'berth.port',        // the host port (what the router needs), not the container port
  memory: 'berth.memory',    // MB
  cpus: 'berth.cpus',
  ip: 'berth.ip',            // the address Berth assigned on the app's network (local instances; none before that existed)
  containerPort: 'berth.container-port', // the port the app listens on, reached at berth.ip
  oneOff: 'berth.oneoff',    // a release-phase or one-off container, never an instance
  holder: 'berth.netholder', // a network holder (src/runtime/docker/holders.ts), never an instance
  joins: 'berth.netns',      // the holder whose network namespace an instance or one-off shares (its id)
} as const;

/** Filter value selecting this installation's containers, optionally of one app, for listContainers. */
export function managedLabelFilter(owner: string, app?: string): string[] {
  const filter = [`${LABEL.managed}=1`, `${LABEL.owner}=${owner}`];
  if (app !== undefined) filter.push(`${LABEL.app}=${app}`);
  return filter;
}

export function containerName(spec: Pick<InstanceSpec, 'app' | 'release' | 'process' | 'index' | 'generation'>): string {
  return `berth-${spec.app}-v${spec.release}-${spec.process}-${spec.index}-g${spec.generation}`;
}

export function labelsFromSpec(spec: InstanceSpec, owner: string, ip: string | null = null): Record<string, string> {
  const labels: Record<string, string> = {
    [LABEL.managed]: '1',
    [LABEL.owner]: owner,
    [LABEL.app]: spec.app,
    [LABEL.release]: String(spec.release),
    [LABEL.process]: spec.process,
    [LABEL.index]: String(spec.index),
    [LABEL.generation]: String(spec.generation),
  };
  if (spec.hostPort !== null) labels[LABEL.port] = String(spec.hostPort);
  if (spec.memoryMB !== null) labels[LABEL.memory] = String(spec.memoryMB);
  if (spec.cpus !== null) labels[LABEL.cpus] = String(spec.cpus);
  if (ip !== null) labels[LABEL.ip] = ip;
  if (ip !== null && spec.containerPort !== null) labels[LABEL.containerPort] = String(spec.containerPort);
  return labels;
}

/** What the log stream needs to tag each line. */
export interface InstanceIdentity { app: string; process: string; index: number }

export function identityFromLabels(labels: Record<string, string> | undefined): InstanceIdentity {
  const l = labels ?? {};
  return { app: l[LABEL.app] ?? '', process: l[LABEL.process] ?? '', index: intLabel(l[LABEL.index]) ?? 0 };
}

export function instanceFromInspect(info: Docker.ContainerInspectInfo, host: string): Instance {
  const labels = info.Config.Labels ?? {};
  const privateAddress = privateAddressOf(labels);
  // An instance in a holder's namespace publishes no port (the engine refuses that there): it is reached at its address.
  const joined = labels[LABEL.joins] !== undefined && privateAddress !== null;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    ...identityFromLabels(labels),
    release: intLabel(labels[LABEL.release]) ?? 0,
    generation: intLabel(labels[LABEL.generation]) ?? 0,
    image: info.Config.Image,
    host: joined ? privateAddress.host : host,
    hostPort: joined ? privateAddress.port : intLabel(labels[LABEL.port]),
    ...(privateAddress ? { privateAddress } : {}),
    memoryMB: numberLabel(labels[LABEL.memory]),
    cpus: numberLabel(labels[LABEL.cpus]),
    state: info.State.Status as InstanceState,
    startedAt: isoOrNull(info.State.StartedAt),
    restartCount: info.RestartCount,
  };
}

function privateAddressOf(labels: Record<string, string>): { host: string; port: number } | null {
  const port = intLabel(labels[LABEL.containerPort]);
  return labels[LABEL.ip] && port !== null ? { host: labels[LABEL.ip], port } : null;
}

/** A listed container's name, without the engine's leading slash (its id if it has none). */
export function listedName(c: Pick<Docker.ContainerInfo, 'Names' | 'Id'>): string {
  return (c.Names[0] ?? c.Id).replace(/^\//, '');
}

/** The berth.ip label of a listed container, if it has one. */
export function assignedIp(labels: Record<string, string> | undefined): string | null {
  return labels?.[LABEL.ip] || null;
}

function intLabel(value: string | undefined): number | null {
  const n = numberLabel(value);
  return n !== null && Number.isInteger(n) ? n : null;
}

function numberLabel(value: string | undefined): number | null {
  if (value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** Docker reports never-started containers with the zero time 0001-01-01T00:00:00Z. */
function isoOrNull(dockerTime: string | undefined): string | null {
  if (!dockerTime || dockerTime.startsWith('0001-')) return null;
  const ms = Date.parse(dockerTime);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
