// The `kubelet` role's server settings (hosts:add --role kubelet joins a host to Berth's cluster as a plain node):
// what every such node shares, given once to the Berth server, never by a request. Read and checked here, once at
// start: a value that is set but malformed stops the start with the setting named; settings that are not set only
// matter when a kubelet node is added (then hosts:add answers 422 naming them, see missingKubeletSettings).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { checkCidr, checkHttpUrl, isDnsName, isImageRef, isTaint } from '../../../installer/kubelet/config.ts';
import { parseNodeSelector } from '../../scheduler/kubernetes/node-selection.ts';

export interface KubeletSettings {
  /** kube-hyperkube (kubelet and kube-proxy in one binary) on this machine, copied to each node. */
  hyperkubeBinary: string;
  /** The pause image as a docker-archive tarball on this machine, and the reference it holds. */
  pauseImage: string;
  pauseImageRef: string;
  /** The cluster CA on this machine: each node's certificates are signed with it here; the key never leaves. */
  caCert: string;
  caKey: string;
  /** The API server as the nodes reach it, and the name its certificate holds when that address is not one. */
  apiServer: string;
  apiServerName?: string;
  /** Every node's pods: each node gets a /24 of it unless hosts:add names one (--pod-cidr). */
  clusterCidr: string;
  /** Labels and taints every kubelet node registers with. */
  labels: Record<string, string>;
  taints: string[];
}

/** Each setting: its variable, whether a kubelet node needs it, and what it means (for the 422 message). */
export const KUBELET_SETTINGS = {
  hyperkubeBinary: { env: 'BERTH_KUBELET_BINARY', required: true, what: 'the kube-hyperkube binary (kubelet, kube-proxy) copied to each node' },
  pauseImage: { env: 'BERTH_KUBELET_PAUSE_IMAGE', required: true, what: 'the pause image tarball (docker-archive) imported on each node' },
  pauseImageRef: { env: 'BERTH_KUBELET_PAUSE_IMAGE_REF', required: true, what: 'the reference the pause image tarball holds, e.g. k8s.gcr.io/pause:3.6' },
  caCert: { env: 'BERTH_KUBELET_CA_CERT', required: true, what: 'the cluster CA certificate (PEM) that signs the nodes\' certificates' },
  caKey: { env: 'BERTH_KUBELET_CA_KEY', required: true, what: 'the cluster CA\'s private key (PEM), read on this machine only' },
  apiServer: { env: 'BERTH_KUBELET_API_SERVER', required: true, what: 'the API server as the nodes reach it, https://HOST:PORT' },
  apiServerName: { env: 'BERTH_KUBELET_API_SERVER_NAME', required: false, what: 'a name in the API server\'s certificate, when BERTH_KUBELET_API_SERVER\'s host is not one' },
  clusterCidr: { env: 'BERTH_KUBELET_CLUSTER_CIDR', required: true, what: 'the IPv4 range of every node\'s pods, e.g. 10.42.0.0/16' },
  labels: { env: 'BERTH_KUBELET_NODE_LABELS', required: false, what: 'key=value,... labels every kubelet node registers with' },
  taints: { env: 'BERTH_KUBELET_NODE_TAINTS', required: false, what: 'key[=value]:Effect,... taints every kubelet node registers with' },
} as const satisfies Record<keyof KubeletSettings, { env: string; required: boolean; what: string }>;

type Key = keyof typeof KUBELET_SETTINGS;

const FILES: Key[] = ['hyperkubeBinary', 'pauseImage', 'caCert', 'caKey'];

/** What is set of the settings, checked; the required ones that are not set are listed in `missing`. */
export interface KubeletSettingsRead {
  settings: KubeletSettings | null;
  missing: string[];
}

function fail(key: Key, message: string): never {
  throw new Error(`${KUBELET_SETTINGS[key].env}: ${message}`);
}

/** Reads and checks the settings from the environment (at start); throws naming the first malformed one. */
export function kubeletSettingsOf(env: NodeJS.ProcessEnv): KubeletSettingsRead {
  const raw = (key: Key) => env[KUBELET_SETTINGS[key].env]?.trim() || undefined;
  const missing = (Object.keys(KUBELET_SETTINGS) as Key[]).filter((k) => KUBELET_SETTINGS[k].required && !raw(k)).map((k) => KUBELET_SETTINGS[k].env);
  for (const key of FILES) {
    const value = raw(key);
    if (value !== undefined && !path.isAbsolute(value)) fail(key, `${JSON.stringify(value)} must be an absolute path on this machine`);
  }
  const ref = raw('pauseImageRef');
  if (ref !== undefined && !isImageRef(ref)) fail('pauseImageRef', `${JSON.stringify(ref)} is not an image reference`);
  const api = raw('apiServer');
  if (api !== undefined) {
    try { checkHttpUrl(api, 'the API server', 'https:'); } catch (err) { fail('apiServer', (err as Error).message); }
  }
  const name = raw('apiServerName');
  if (name !== undefined && !isDnsName(name) && !net.isIP(name)) fail('apiServerName', `${JSON.stringify(name)} is not a DNS name or IP`);
  const cidr = raw('clusterCidr');
  if (cidr !== undefined) {
    try { checkCidr(cidr, 'the cluster CIDR'); } catch (err) { fail('clusterCidr', (err as Error).message); }
    if (Number(cidr.split('/')[1]) > 24) fail('clusterCidr', `${cidr} is smaller than one node's /24`);
  }
  const labels = parseNodeSelector(raw('labels'), KUBELET_SETTINGS.labels.env);
  const taints = (raw('taints') ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  for (const taint of taints) if (!isTaint(taint)) fail('taints', `${JSON.stringify(taint)} is not a taint key[=value]:NoSchedule|PreferNoSchedule|NoExecute`);
  if (missing.length) return { settings: null, missing };
  return {
    missing,
    settings: {
      hyperkubeBinary: raw('hyperkubeBinary')!, pauseImage: raw('pauseImage')!, pauseImageRef: ref!, caCert: raw('caCert')!, caKey: raw('caKey')!,
      apiServer: api!, ...(name ? { apiServerName: name } : {}), clusterCidr: cidr!, labels, taints,
    },
  };
}

/** The settings' files that this machine cannot read (when a kubelet node is added: they may have moved since the start). */
export function unreadableKubeletFiles(settings: KubeletSettings): string[] {
  return FILES.filter((key) => {
    try { fs.accessSync(settings[key] as string, fs.constants.R_OK); return !fs.statSync(settings[key] as string).isFile(); } catch { return true; }
  }).map((key) => `${KUBELET_SETTINGS[key].env}=${settings[key]}`);
}
