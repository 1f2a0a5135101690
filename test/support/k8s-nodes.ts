// More Kubernetes nodes for the test cluster (../shared/k8s), the way kind makes them: test hosts (SSH-able
// containers, test-hosts.ts) that a Berth server joins to the kit's API server through its own `POST /hosts`
// (`berth hosts:add root@HOST --role kubelet`). Each node runs its own containerd, the kit's kubelet and
// kube-proxy, pods on a /24 of its own (10.250.N.0/24); this machine routes each node's pods to its container.
// The API server listens on 127.0.0.1 only, so a forwarder on the test network's gateway carries the nodes' API
// traffic (the certificate's name `kubernetes` is asked for), and another one the registry's pulls (127.0.0.1:5000
// inside a node is the node). Two steps: prepareK8sNodes() makes the containers, routes and forwarders and says
// which settings the Berth server needs (berthEnv: the kubelet role's, pointing at the kit's files); then
// joinK8sNodes() asks that server to add each host. Nodes are tainted berth.test/isolated=true:NoSchedule and
// labelled with the run, so only pods that tolerate it land there. remove() deletes the Node objects,
// containers, routes and forwarders; a later start removes those a crashed run left behind (by label, once the
// process that made them is gone).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { PACKAGES } from '../../installer/kubelet/config.ts';
import { forwardTcp, type Forward } from './tcp-forward.ts';
import {
  FRESH_IMAGE, addHostVia, buildImage, createTestNetwork, docker, ensureTestHostImages, makeOperatorKey,
  type AddHostResult, type TaskLine, type TestHost, type TestNetwork,
} from './test-hosts.ts';

const exec = promisify(execFile);

export const K8S_NODE_IMAGE = 'berth-test/k8s-node:bookworm';
const NODE_RECIPE = 'k8s-node-1';
// The node packages come preinstalled (as DOCKER_READY_IMAGE has docker.io): the installer's packages task finds them.
const NODE_DOCKERFILE = `FROM ${FRESH_IMAGE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES.join(' ')} \\
 && rm -rf /var/lib/apt/lists/*
`;

/** docker run flags a kubelet needs beyond a test host's: the kernel log (OOM watcher), writable /proc/sys (kube-proxy's sysctls), forwarding. */
const NODE_RUN_ARGS = ['--device', '/dev/kmsg', '--security-opt', 'systempaths=unconfined', '--sysctl', 'net.ipv4.ip_forward=1',
  '-v', '/lib/modules:/lib/modules:ro'];
const NODE_DATA_DIR = '/var/lib/berth-kubelet';
const LABEL = 'berth.test.k8s-node';
const NODE_LABEL = 'berth.test/k8s-nodes';
export const ISOLATED_TAINT = { key: 'berth.test/isolated', value: 'true', effect: 'NoSchedule' };
/** `ip route ... proto ROUTE_PROTO` marks this helper's host routes, so leftovers can be found. */
const ROUTE_PROTO = '213';
const CLUSTER_CIDR = '10.250.0.0/16';
const READY_TIMEOUT_S = 90;

export interface K8sNode {
  name: string;
  address: string;
  podCidr: string;
  host: TestHost;
  /** How long hosts:add took for this node, and what it reported. */
  joinMs: number;
  report: TaskLine[];
}

/** The hosts before they join: what the Berth server that joins them needs. */
export interface K8sNodeHosts {
  hosts: TestHost[];
  network: TestNetwork;
  /** Label every node of this run has (NODE_LABEL=runId): for nodeAffinity. */
  label: { key: string; value: string };
  /** The Berth server's settings: the kubelet role's (BERTH_KUBELET_*, the kit's files, this run's API forwarder) and
   *  BERTH_REGISTRY_ADVERTISE, the registry's forwarder (images are spelled with it; the nodes pull through it). */
  berthEnv: Record<string, string>;
  /** The registry as the nodes reach it (= berthEnv.BERTH_REGISTRY_ADVERTISE). */
  registry: string;
  /** The pod range each host gets (podCidr of its hosts:add), routed to it already. */
  podCidrs: Map<string, string>;
  /** What hosts:add of the host sends (POST /hosts): the operator's key, the host's name, its pods. */
  addBody(host: TestHost, extra?: Record<string, unknown>): Record<string, unknown>;
  remove(): Promise<void>;
}

export interface K8sNodes {
  nodes: K8sNode[];
  network: TestNetwork;
  label: { key: string; value: string };
  remove(): Promise<void>;
}

/** Where the test's Berth server listens (BerthServer has these). */
export interface BerthApi { url: string; token: string }

function kitDir(): string {
  return process.env.BERTH_K8S_KIT ?? path.resolve(import.meta.dirname, '../../../shared/k8s');
}

const pidAlive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function ip(args: string[]): Promise<string> {
  return (await exec('ip', args, { timeout: 10_000 })).stdout;
}

function loadConfig(kubeconfig: string): k8s.KubeConfig {
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfig);
  return config;
}

const coreApi = (kubeconfig: string) => loadConfig(kubeconfig).makeApiClient(k8s.CoreV1Api);

/** Containers, Node objects and routes a run left that crashed (its process is gone). */
async function removeLeftovers(kubeconfig: string): Promise<void> {
  const rows = (await docker(['ps', '-a', '--filter', `label=${LABEL}`, '--format', `{{.Names}} {{.Label "${LABEL}"}} {{.Networks}}`])).split('\n').filter(Boolean);
  const liveNames: string[] = [];
  for (const row of rows) {
    const [name, run, networks] = row.split(' ');
    if (pidAlive(Number(run.split('-')[0]))) { liveNames.push(name); continue; }
    await docker(['rm', '-f', '-v', name], { allowFail: true, timeoutMs: 120_000 });
    await docker(['volume', 'rm', '-f', `${name}-docker`], { allowFail: true });
    for (const network of networks.split(',')) await docker(['network', 'rm', network], { allowFail: true });
  }
  const api = coreApi(kubeconfig);
  const nodes = await api.listNode({ labelSelector: NODE_LABEL });
  for (const node of nodes.items) {
    const run = node.metadata?.labels?.[NODE_LABEL] ?? '';
    if (!pidAlive(Number(run.split('-')[0]))) await api.deleteNode({ name: node.metadata!.name! }).catch(() => {});
  }
  // A route whose gateway is no live run's node.
  const liveAddresses = liveNames.length
    ? (await docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', ...liveNames], { allowFail: true })).split(/\s+/)
    : [];
  for (const line of (await ip(['-4', 'route', 'show', 'proto', ROUTE_PROTO])).split('\n').filter(Boolean)) {
    const [dest, , via] = line.split(' ');
    if (!liveAddresses.includes(via)) await ip(['route', 'del', dest, 'proto', ROUTE_PROTO]).catch(() => {});
  }
}

/** /24s of 10.250.0.0/16 that no route uses yet (the kit's own is 10.250.0.0/24; services are 10.250.128.0/20). */
async function freePodCidrs(count: number): Promise<string[]> {
  const used = await ip(['-4', 'route', 'show', 'root', CLUSTER_CIDR]);
  const free: string[] = [];
  for (let n = 1; n < 128 && free.length < count; n++) {
    const cidr = `10.250.${n}.0/24`;
    if (!used.includes(`${cidr} `) && !used.includes(`${cidr}\n`)) free.push(cidr);
  }
  if (free.length < count) throw new Error(`no ${count} free /24s in ${CLUSTER_CIDR}`);
  return free;
}

export async function waitNodesReady(kubeconfig: string, names: string[], timeoutMs = READY_TIMEOUT_S * 1000): Promise<void> {
  const api = coreApi(kubeconfig);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = await api.listNode({ labelSelector: NODE_LABEL });
    const ready = new Set(nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata?.name));
    if (names.every((n) => ready.has(n))) return;
    if (Date.now() > deadline) throw new Error(`nodes not Ready within ${timeoutMs / 1000} s: ${names.filter((n) => !ready.has(n)).join(', ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A run's id (this process first, so a later start can tell a crashed run's leftovers); the nodes' label value. */
export const k8sNodesRunId = (): string => `${process.pid}-${Date.now().toString(36)}`;

/** The label the nodes of a run get (K8sNodes.label), known before they exist: for settings given beforehand. */
export const k8sNodesLabel = (runId: string) => ({ key: NODE_LABEL, value: runId });

/**
 * registry: host:port of the plain-HTTP registry on this machine's loopback the Berth server pushes to (BERTH_REGISTRY),
 * which the nodes pull from through a forwarder; runId: k8sNodesRunId(), when the label must be known beforehand.
 */
export async function prepareK8sNodes(kubeconfig: string, count: number, opts: { registry: string; runId?: string }): Promise<K8sNodeHosts> {
  await removeLeftovers(kubeconfig);
  await ensureTestHostImages();
  await buildImage(K8S_NODE_IMAGE, NODE_DOCKERFILE, () => {}, NODE_RECIPE);
  const kit = kitDir();
  const pki = path.join(path.dirname(kubeconfig), 'pki');
  const apiUrl = new URL(loadConfig(kubeconfig).getCurrentCluster()!.server);
  const runId = opts.runId ?? k8sNodesRunId();
  const label = k8sNodesLabel(runId);

  const key = makeOperatorKey();
  const network = await createTestNetwork('berth-k8sn');
  const forwards: Forward[] = [];
  const routes: string[] = [];
  const hosts: TestHost[] = [];
  const podCidrs = new Map<string, string>();
  const remove = async () => {
    const api = coreApi(kubeconfig);
    await Promise.all(hosts.map((h) => api.deleteNode({ name: h.name }).catch(() => {})));
    for (const cidr of routes) await ip(['route', 'del', cidr, 'proto', ROUTE_PROTO]).catch(() => {});
    await Promise.all(forwards.map((f) => f.close()));
    await network.remove();
    key.dispose();
  };
  try {
    const apiForward = await forwardTcp(network.gateway, { host: apiUrl.hostname, port: Number(apiUrl.port || 443) });
    forwards.push(apiForward);
    const [registryHost, registryPort] = opts.registry.split(':');
    const registryForward = await forwardTcp(network.gateway, { host: registryHost, port: Number(registryPort ?? 80) });
    forwards.push(registryForward);
    const cidrs = await freePodCidrs(count);
    hosts.push(...await Promise.all(cidrs.map(() => network.addHost({
      image: K8S_NODE_IMAGE, authorizedKey: key.publicKey, dataDir: NODE_DATA_DIR, runArgs: [...NODE_RUN_ARGS, '--label', `${LABEL}=${runId}`],
    }))));
    for (const [i, h] of hosts.entries()) {
      await ip(['route', 'replace', cidrs[i], 'via', h.address, 'proto', ROUTE_PROTO]);
      routes.push(cidrs[i]);
      podCidrs.set(h.name, cidrs[i]);
    }
    const berthEnv = {
      BERTH_KUBELET_BINARY: path.join(kit, 'bin/kube-hyperkube'),
      BERTH_KUBELET_PAUSE_IMAGE: path.join(kit, 'images/pause.tar'),
      BERTH_KUBELET_PAUSE_IMAGE_REF: 'k8s.gcr.io/pause:3.6',
      BERTH_KUBELET_CA_CERT: path.join(pki, 'ca.crt'),
      BERTH_KUBELET_CA_KEY: path.join(pki, 'ca.key'),
      BERTH_KUBELET_API_SERVER: `https://${apiForward.address}`,
      BERTH_KUBELET_API_SERVER_NAME: 'kubernetes',
      BERTH_KUBELET_CLUSTER_CIDR: CLUSTER_CIDR,
      BERTH_KUBELET_NODE_LABELS: `${label.key}=${label.value}`,
      BERTH_KUBELET_NODE_TAINTS: `${ISOLATED_TAINT.key}=${ISOLATED_TAINT.value}:${ISOLATED_TAINT.effect}`,
      BERTH_REGISTRY_ADVERTISE: registryForward.address,
    };
    const addBody = (h: TestHost, extra: Record<string, unknown> = {}) => ({
      address: `root@${h.address}`, name: h.name, role: 'kubelet', sshKey: key.privateKey, podCidr: podCidrs.get(h.name), ...extra,
    });
    return { hosts, network, label, berthEnv, registry: registryForward.address, podCidrs, addBody, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

export const describeReport = (result: AddHostResult) =>
  `HTTP ${result.status}: ${result.lines.map((r) => `${r.status} ${r.task}${r.detail ? `\n${r.detail}` : ''}`).join('\n') || result.raw}`;

/** Each host joined by the Berth server's hosts:add (all at once), then every node Ready. */
export async function joinK8sNodes(prepared: K8sNodeHosts, kubeconfig: string, berth: BerthApi): Promise<K8sNodes> {
  const nodes = await Promise.all(prepared.hosts.map(async (h) => {
    const started = Date.now();
    const result = await addHostVia(berth, prepared.addBody(h));
    if (!result.summary?.succeeded) throw new Error(`joining ${h.name} failed:\n${describeReport(result)}`);
    return { name: h.name, address: h.address, podCidr: prepared.podCidrs.get(h.name)!, host: h, joinMs: Date.now() - started, report: result.lines };
  }));
  await waitNodesReady(kubeconfig, nodes.map((n) => n.name));
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  return { nodes, network: prepared.network, label: prepared.label, remove: prepared.remove };
}
