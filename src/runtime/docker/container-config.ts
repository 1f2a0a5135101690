// Translates an InstanceSpec (or a one-off) into the engine's container create options, hardened alike.
import type Docker from 'dockerode';
import type { AttachedRunSpec, InstanceSpec, OneOffSpec } from '../types.ts';
import { containerName, LABEL, labelsFromSpec } from './labels.ts';
import type { NetworkPlacement } from './berth-network.ts';

const MB = 1024 * 1024;

/** Limits every container Berth starts gets; members' code is untrusted, so none runs with Docker's defaults. */
export interface Hardening {
  /** Most processes and threads in one container: a fork bomb stops there instead of taking the host. */
  pidsLimit: number;
  /** Memory of release-phase and one-off containers, which have no formation size of their own. */
  oneOffMemoryMB: number;
}

export const DEFAULT_HARDENING: Hardening = { pidsLimit: 512, oneOffMemoryMB: 512 };

/**
 * What is left of Docker's default capabilities: enough for images that start as root and switch to a user
 * (nginx, postgres: CHOWN, DAC_OVERRIDE, FOWNER, SETUID, SETGID), bind a port below 1024 and signal their
 * own workers. Gone are NET_RAW (raw sockets: ARP and packet spoofing on the bridge), MKNOD, SYS_CHROOT,
 * SETFCAP, SETPCAP, FSETID and AUDIT_WRITE, none of which an app's runtime needs.
 */
export const KEPT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'NET_BIND_SERVICE', 'KILL'];

/** With a placement the container joins its app's network at that address instead of the default bridge. */
export function createOptions(spec: InstanceSpec, owner: string, publishIp = '127.0.0.1', placement: NetworkPlacement | null = null,
  hardening: Hardening = DEFAULT_HARDENING): Docker.ContainerCreateOptions {
  const options: Docker.ContainerCreateOptions = {
    name: containerName(spec),
    Image: spec.image,
    Env: envList(spec.env),
    Labels: labelsFromSpec(spec, owner, placement?.ip ?? null),
    HostConfig: hostConfig(spec, publishIp, hardening),
  };
  joinNetwork(options, placement);
  if (spec.command !== null) options.Cmd = spec.command;
  const port = publishedPort(spec);
  if (port) options.ExposedPorts = { [port.key]: {} };
  return options;
}

/** A release-phase (or later `berth run`) container: its own label, not berth.managed, so it is never taken for an instance. */
export function oneOffOptions(spec: OneOffSpec, owner: string, placement: NetworkPlacement | null = null,
  hardening: Hardening = DEFAULT_HARDENING): Docker.ContainerCreateOptions {
  const labels: Record<string, string> = { [LABEL.oneOff]: '1', [LABEL.owner]: owner, [LABEL.app]: spec.app, [LABEL.release]: String(spec.release) };
  if (placement) labels[LABEL.ip] = placement.ip;
  const options: Docker.ContainerCreateOptions = {
    name: `berth-${spec.app}-v${spec.release}-oneoff-${Date.now().toString(36)}`,
    Image: spec.image,
    Cmd: spec.command,
    Env: envList(spec.env),
    Labels: labels,
    HostConfig: { Init: true, Memory: Math.round((spec.memoryMB ?? hardening.oneOffMemoryMB) * MB), ...confinement(hardening) },
  };
  joinNetwork(options, placement);
  return options;
}

/** `berth run`'s container: a one-off with stdin (and a TTY when asked), labelled run.N so it can be listed and stopped. */
export function attachedRunOptions(spec: AttachedRunSpec, index: number, owner: string, placement: NetworkPlacement | null = null,
  hardening: Hardening = DEFAULT_HARDENING): Docker.ContainerCreateOptions {
  const options = oneOffOptions({ ...spec, env: { ...spec.env, DYNO: `run.${index}`, BERTH_PROCESS: 'run' } }, owner, placement, hardening);
  return {
    ...options,
    name: `berth-${spec.app}-v${spec.release}-run-${index}-${Date.now().toString(36)}`,
    Labels: { ...options.Labels, [LABEL.process]: 'run', [LABEL.index]: String(index) },
    // Docker 20.10 sizes a TTY only once it runs: a command reading its size at once would see 0 0.
    Cmd: spec.tty ? ['/bin/sh', '-c', 'stty rows "$1" cols "$2" 2>/dev/null; shift 2; exec "$@"', 'berth-run', String(spec.rows), String(spec.cols), ...spec.command] : spec.command,
    Tty: spec.tty, OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
  };
}

/**
 * A network holder: a container that only holds a network namespace on the app's network, at the address an
 * instance will have, so that instance starts by joining it (a third of the time of setting one up). It runs
 * `sleep` as nobody, read-only, with nothing to spare; no member's code runs in it.
 */
export function holderOptions(app: string, owner: string, image: string, placement: NetworkPlacement): Docker.ContainerCreateOptions {
  const options: Docker.ContainerCreateOptions = {
    name: `berth-${app}-netns-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
    Image: image,
    Entrypoint: ['sleep'],
    Cmd: ['infinity'],
    User: '65534:65534',
    Labels: { [LABEL.holder]: '1', [LABEL.owner]: owner, [LABEL.app]: app, [LABEL.ip]: placement.ip },
    HostConfig: {
      Init: true,
      RestartPolicy: { Name: 'unless-stopped' },
      Memory: HOLDER_MEMORY_MB * MB,
      ReadonlyRootfs: true,
      LogConfig: { Type: 'none', Config: {} },
      CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], PidsLimit: 8,
    },
  };
  joinNetwork(options, placement);
  return options;
}

/** Its init and `sleep` take about 1 MB; the engine's smallest limit is 6 MB. */
const HOLDER_MEMORY_MB = 16;

/**
 * The same container in a holder's network namespace: it gets the holder's address (labelled, as a placed one's)
 * and publishes no port (the engine refuses that in a shared namespace), so it is reached at that address only.
 */
export function inHolder(options: Docker.ContainerCreateOptions, holder: { id: string; ip: string }, containerPort: number | null): Docker.ContainerCreateOptions {
  const { PortBindings: _published, ...hostConfig } = options.HostConfig ?? {};
  const { [LABEL.port]: _port, ...labels } = options.Labels ?? {};
  const { ExposedPorts: _exposed, NetworkingConfig: _networking, ...rest } = options;
  return {
    ...rest,
    Labels: { ...labels, [LABEL.ip]: holder.ip, [LABEL.joins]: holder.id, ...(containerPort !== null ? { [LABEL.containerPort]: String(containerPort) } : {}) },
    HostConfig: { ...hostConfig, NetworkMode: `container:${holder.id}` },
  };
}

/** The part every container shares: fewer capabilities, no privilege gain through setuid binaries, bounded processes. */
export function confinement(hardening: Hardening): Pick<Docker.HostConfig, 'CapDrop' | 'CapAdd' | 'SecurityOpt' | 'PidsLimit'> {
  return { CapDrop: ['ALL'], CapAdd: [...KEPT_CAPABILITIES], SecurityOpt: ['no-new-privileges'], PidsLimit: hardening.pidsLimit };
}

function joinNetwork(options: Docker.ContainerCreateOptions, placement: NetworkPlacement | null): void {
  if (!placement) return;
  options.HostConfig!.NetworkMode = placement.network;
  options.NetworkingConfig = { EndpointsConfig: { [placement.network]: { IPAMConfig: { IPv4Address: placement.ip } } } };
}

function envList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([key, value]) => `${key}=${value}`);
}

function hostConfig(spec: InstanceSpec, publishIp: string, hardening: Hardening): Docker.HostConfig {
  const config: Docker.HostConfig = {
    // An init process forwards SIGTERM: node (and many runtimes) as PID 1 ignore it and would only die by SIGKILL.
    Init: true,
    RestartPolicy: { Name: 'unless-stopped' },
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    ...confinement(hardening),
  };
  if (spec.memoryMB !== null) config.Memory = Math.round(spec.memoryMB * MB);
  if (spec.cpus !== null) config.NanoCpus = Math.round(spec.cpus * 1e9);
  const port = publishedPort(spec);
  if (port) config.PortBindings = { [port.key]: [{ HostIp: publishIp, HostPort: String(port.hostPort) }] };
  return config;
}

/** Published on loopback locally (the router on this host is the sole way in), on a remote host's own address. */
function publishedPort(spec: InstanceSpec): { key: string; hostPort: number } | null {
  if (spec.containerPort === null || spec.hostPort === null) return null;
  return { key: `${spec.containerPort}/tcp`, hostPort: spec.hostPort };
}
