// A data service's container (addons:create), hardened like an app's instances: no capability at all (the
// images run as the service's own user, on a volume that user owns), no privilege gain, bounded processes
// and memory. It is labelled berth.addon, never berth.managed: the converger, reconcile and `ps` never see it.
// It joins only its app's network, at the address Berth picked there, and publishes no port on the host.
import type Docker from 'dockerode';
import { LABEL } from './labels.ts';
import { type Hardening, DEFAULT_HARDENING } from './container-config.ts';
import type { NetworkPlacement } from './berth-network.ts';

const MB = 1024 * 1024;

export const ADDON_LABEL = { addon: 'berth.addon', kind: 'berth.addon-kind', app: 'berth.addon-app' } as const;

export interface ServiceSpec {
  /** The add-on's name: its container is berth-addon-<name>, its volume berth-addon-<owner>-<name>. */
  name: string;
  kind: string;
  /** The app that created it (its network is the first the service joins). */
  app: string;
  image: string;
  env: Record<string, string>;
  memoryMB: number;
}

export const serviceContainerName = (name: string): string => `berth-addon-${name}`;
export const serviceVolumeName = (owner: string, name: string): string => `berth-addon-${owner}-${name}`;

export function serviceOptions(spec: ServiceSpec, owner: string, placement: NetworkPlacement,
  hardening: Hardening = DEFAULT_HARDENING): Docker.ContainerCreateOptions {
  return {
    name: serviceContainerName(spec.name),
    Image: spec.image,
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    Labels: { [LABEL.owner]: owner, [ADDON_LABEL.addon]: spec.name, [ADDON_LABEL.kind]: spec.kind, [ADDON_LABEL.app]: spec.app },
    HostConfig: {
      Init: true,
      RestartPolicy: { Name: 'unless-stopped' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      Memory: Math.round(spec.memoryMB * MB),
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      PidsLimit: hardening.pidsLimit,
      Mounts: [{ Type: 'volume', Source: serviceVolumeName(owner, spec.name), Target: '/data' }],
      NetworkMode: placement.network,
      PublishAllPorts: false,
    },
    NetworkingConfig: { EndpointsConfig: { [placement.network]: { IPAMConfig: { IPv4Address: placement.ip } } } },
  };
}

/** An add-on's container is never an app's instance, whatever other labels it carries. */
export function isAddonContainer(labels: Record<string, string> | undefined): boolean {
  return labels?.[ADDON_LABEL.addon] !== undefined;
}
