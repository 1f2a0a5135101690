// Translates an InstanceSpec into the engine's container create options.
import type Docker from 'dockerode';
import type { InstanceSpec } from '../types.ts';
import { containerName, labelsFromSpec } from './labels.ts';
import type { NetworkPlacement } from './berth-network.ts';

const MB = 1024 * 1024;

/** With a placement the container joins Berth's network at that address instead of the default bridge. */
export function createOptions(spec: InstanceSpec, owner: string, publishIp = '127.0.0.1', placement: NetworkPlacement | null = null): Docker.ContainerCreateOptions {
  const options: Docker.ContainerCreateOptions = {
    name: containerName(spec),
    Image: spec.image,
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    Labels: labelsFromSpec(spec, owner, placement?.ip ?? null),
    HostConfig: hostConfig(spec, publishIp),
  };
  if (placement) {
    options.HostConfig!.NetworkMode = placement.network;
    options.NetworkingConfig = { EndpointsConfig: { [placement.network]: { IPAMConfig: { IPv4Address: placement.ip } } } };
  }
  if (spec.command !== null) options.Cmd = spec.command;
  const port = publishedPort(spec);
  if (port) options.ExposedPorts = { [port.key]: {} };
  return options;
}

function hostConfig(spec: InstanceSpec, publishIp: string): Docker.HostConfig {
  const config: Docker.HostConfig = {
    // An init process forwards SIGTERM: node (and many runtimes) as PID 1 ignore it and would only die by SIGKILL.
    Init: true,
    RestartPolicy: { Name: 'unless-stopped' },
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
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
