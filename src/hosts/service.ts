// The machines apps run on: Berth's own Docker engine (the Docker scheduler's, "local"), and the k3s cluster's
// nodes, which hosts:add joins over SSH (the installer) and hosts:drain/undrain/remove act on. Docker hosts an
// older Berth ran instances on over SSH are retired: listed as such, and hosts:remove takes away what Berth left.
import { parseSshAddress, type SshTarget } from '../../installer/ssh.ts';
import { runTasks, failureDetail, type RunSummary, type Task, type TaskReport } from '../../installer/task.ts';
import { sshContext } from '../../installer/ssh.ts';
import type { HostRow, HostsStore } from '../state/hosts-store.ts';
import { BerthError } from '../shared/errors.ts';
import { ensureBerthSshKey, writeTemporaryKey } from './berth-key.ts';
import { INSTALL_ROLES, installTasks, isInstallRole, type InstallRole } from './install.ts';
import { HostUsageSampler, localProbe, type HostUsage, type ProbeRunner } from './host-stats.ts';
import { sshRun } from '../../installer/ssh.ts';
import { normalizeFingerprint } from '../../installer/tasks/host-key.ts';
import type { NodesService } from './nodes/nodes-service.ts';
import type { NodeView } from '../wire/hosts.ts';
import { k3sAgentUninstallTasks } from './nodes/uninstall.ts';
import { kubeletNodeUninstallTasks } from '../../installer/tasks/kubelet.ts';
import { isDnsName } from '../../installer/kubelet/config.ts';
import { KUBELET_SETTINGS, unreadableKubeletFiles, type KubeletSettingsRead } from './kubelet/settings.ts';
import { choosePodCidr } from './kubelet/pod-cidr.ts';
import { forgetNodeCredentials } from './kubelet/node-credentials.ts';
import type { KubeletNodePlan } from './kubelet/role.ts';
import dns from 'node:dns/promises';
import net from 'node:net';
import { retiredDockerHostTasks } from './retired-docker.ts';
import type { LocalEngine } from '../runtime/docker/local-engine.ts';

const STATS_TIMEOUT_MS = 4_000;

/** The row of Berth's own engine in the hosts list; no host may take its name. */
export const LOCAL_ENGINE = 'local';
const HOST_NAME = /^[a-z0-9][a-z0-9.-]{0,62}$/;
const K3S_DOCS = 'docs/k3s.md';
const MOVE_DOCS = `${K3S_DOCS}, "Moving from Docker hosts"`;

/** What `--role docker` answers: there are no Docker hosts any more. */
export const DOCKER_HOSTS_GONE = 'Docker hosts are gone: Berth runs apps on its own machine with Docker, and on more machines with ' +
  `k3s (hosts:add --role k3s-server, then the other hosts as k3s agents). See ${MOVE_DOCS}.`;

/** What the log says at each start about a Docker host an older Berth registered. */
export function retiredHostNotice(name: string, address: string): string {
  return `host ${name} (${address}) is a Docker host of an older Berth: it is no longer used, nothing runs there for Berth any more. ` +
    `Finish the move with \`berth hosts:remove ${name}\` (removes the containers Berth left there and the record; ${MOVE_DOCS}).`;
}

export interface AddHostRequest {
  address: string;          // root@HOST[:PORT]
  name?: string;
  role?: string;            // default: k3s-agent once a k3s server is registered
  sshKey?: string;          // private key text to log in with; default: Berth's own key
  hostKey?: string;         // the host's SSH key fingerprint (SHA256:...); default: trust on first use
  podCidr?: string;         // role kubelet: the node's pods; default: the first free /24 of the cluster CIDR
  check?: boolean;
}

export interface HostPlan {
  login: { user: string; host: string; port: number };
  role: InstallRole;
  name: string;
  sshKey?: string;
  hostKey: string | null;
  checkOnly: boolean;
  /** Role kubelet: the node's name, address and pod range (reserved until add() ends). */
  kubeletNode?: KubeletNodePlan;
}

export interface HostsDeps {
  store: HostsStore;
  engine: LocalEngine;
  dataDir: string;
  owner: string;
  registryAdvertise: string;
  k3sBinary?: string;
  /** The kubelet role's settings (hosts/kubelet/settings.ts), read at start. */
  kubelet?: KubeletSettingsRead;
  log: (line: string) => void;
}

export interface HostView {
  /** status: up or down; retired for a Docker host of an older Berth. */
  name: string; address: string; role: string; status: string; draining: boolean;
  /** instances: the Docker scheduler's, on the local engine (a node's pods are in its NodeView). */
  memoryMB: number | null; cpus: number | null; instances: number | null;
  /** Live load (null when the host is down, retired, or does not answer in time) and the engine's running containers. */
  load: HostUsage | null; containers: number | null;
}

/** Resolves to null instead of waiting on a host that does not answer. */
const withinTime = <T>(work: Promise<T>): Promise<T | null> => Promise.race([
  work.catch(() => null), new Promise<null>((r) => setTimeout(() => r(null), STATS_TIMEOUT_MS).unref()),
]);

export class HostsService {
  private readonly deps: HostsDeps;
  private readonly sampler = new HostUsageSampler();
  /** The cluster's nodes, when the installation has a Kubernetes scheduler (nodes/wiring.ts). */
  private nodes: NodesService | null = null;
  /** Pod ranges of kubelet nodes being added right now: two joins at once never get the same one. */
  private readonly joiningCidrs = new Set<string>();

  constructor(deps: HostsDeps) {
    this.deps = deps;
  }

  useNodes(nodes: NodesService): void {
    this.nodes = nodes;
  }

  /** The cluster's nodes (404 without a cluster). */
  async listNodes(): Promise<NodeView[]> {
    if (!this.nodes) throw new BerthError(404, 'no_cluster', `This installation has no Kubernetes cluster: apps run on this machine's Docker engine (${K3S_DOCS} adds machines).`);
    return this.nodes.list();
  }

  /** Berth's host record of a node: the host registered under its name, else at its address (k3s roles only). */
  hostOfNode(node: string, address: string | null): NodeView['host'] {
    const row = this.deps.store.find(node) ?? (address ? this.deps.store.findByAddress(address) : undefined);
    return row && row.role !== 'docker' ? { name: row.name, address: row.address, role: row.role } : null;
  }

  /** The node a hosts:drain/undrain/remove NAME means: a cluster node of that name, unless NAME is a Docker host. */
  private async nodeNamed(name: string): Promise<string | null> {
    if (!this.nodes || this.deps.store.find(name)?.role === 'docker') return null;
    if (await this.nodes.find(name)) return name;
    const row = this.deps.store.find(name);
    if (!row) return null;
    // A host joined under another name than its node's: the node at its address.
    const node = (await this.nodes.list()).find((n) => n.address === row.address);
    return node?.name ?? null;
  }

  /** Validates a hosts:add request before anything runs (so the API can still answer with an error status). */
  async plan(req: AddHostRequest): Promise<HostPlan> {
    let login;
    try {
      login = parseSshAddress(String(req.address ?? ''));
    } catch (err) {
      throw new BerthError(422, 'invalid_address', (err as Error).message);
    }
    const role = this.roleFor(req.role);
    const name = req.name ?? login.host;
    if (!HOST_NAME.test(name) || name === LOCAL_ENGINE) {
      throw new BerthError(422, 'invalid_host_name', `"${name}" cannot name a host: lowercase letters, digits, dots and dashes; not "${LOCAL_ENGINE}".`);
    }
    const clash = this.deps.store.find(name);
    if (clash && clash.address !== login.host) {
      throw new BerthError(409, 'host_exists', `Host "${name}" is already registered at ${clash.address}; choose another --name.`);
    }
    const hostKey = req.hostKey === undefined ? null : normalizeFingerprint(req.hostKey);
    if (req.hostKey !== undefined && !hostKey) {
      throw new BerthError(422, 'invalid_host_key', 'hostKey must be an SSH key fingerprint like SHA256:… (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host).');
    }
    if (req.podCidr !== undefined && role !== 'kubelet') throw new BerthError(422, 'invalid_pod_cidr', 'podCidr is for --role kubelet only.');
    const kubeletNode = role === 'kubelet' ? await this.planKubeletNode(name, login.host, req.podCidr) : undefined;
    return { login, role, name, sshKey: req.sshKey, hostKey, checkOnly: req.check === true, ...(kubeletNode ? { kubeletNode } : {}) };
  }

  /** A kubelet node: the server's settings all there, a cluster to join, the node's address and pods (pod-cidr.ts). */
  private async planKubeletNode(name: string, host: string, podCidr: string | undefined): Promise<KubeletNodePlan> {
    const read = this.deps.kubelet;
    if (!read?.settings) {
      const missing = read?.missing ?? Object.values(KUBELET_SETTINGS).filter((s) => s.required).map((s) => s.env);
      throw new BerthError(422, 'kubelet_settings_missing', `A kubelet node needs these settings of the Berth server, not set: ${missing.join(', ')} ` +
        `(${K3S_DOCS}, "Plain kubelet nodes"; set them and restart the server).`, { missing });
    }
    const unreadable = unreadableKubeletFiles(read.settings);
    if (unreadable.length) {
      throw new BerthError(422, 'kubelet_settings_unreadable', `The Berth server cannot read these files of its kubelet settings: ${unreadable.join(', ')}.`);
    }
    if (!this.nodes) {
      throw new BerthError(422, 'no_cluster', `A kubelet node joins Berth's Kubernetes cluster, and this installation has none (BERTH_KUBECONFIG, or hosts:add --role k3s-server; ${K3S_DOCS}).`);
    }
    if (!isDnsName(name)) throw new BerthError(422, 'invalid_host_name', `"${name}" cannot name a Kubernetes node: lowercase DNS labels (letters, digits, dashes; dots between).`);
    const nodeIp = net.isIPv4(host) ? host : await dns.lookup(host, { family: 4 }).then((a) => a.address, () => null);
    if (!nodeIp) throw new BerthError(422, 'invalid_address', `A kubelet node needs an IPv4 address: ${host} has none here.`);
    const chosen = choosePodCidr({
      nodeName: name, requested: podCidr, clusterCidr: read.settings.clusterCidr, nodes: await this.nodes.podCidrs(), reserved: [...this.joiningCidrs],
    });
    this.joiningCidrs.add(chosen);
    return { nodeName: name, nodeIp, podCidr: chosen };
  }

  /** The role asked for; without one, k3s-agent once a k3s server is registered (the cluster to join). */
  private roleFor(wanted: string | undefined): InstallRole {
    if (wanted === 'docker') throw new BerthError(422, 'docker_hosts_removed', DOCKER_HOSTS_GONE);
    if (wanted === undefined) {
      if (this.deps.store.list().some((h) => h.role === 'k3s-server')) return 'k3s-agent';
      throw new BerthError(422, 'role_required', 'The first host needs --role k3s-server: it creates the k3s cluster that later hosts join ' +
        `as k3s agents (or give Berth an existing cluster with BERTH_KUBECONFIG, which hosts join with --role kubelet). See ${K3S_DOCS}.`);
    }
    if (!isInstallRole(wanted)) throw new BerthError(422, 'invalid_role', `role must be one of ${INSTALL_ROLES.join(', ')}`);
    return wanted;
  }

  async add(plan: HostPlan, report: (line: TaskReport) => void): Promise<RunSummary> {
    const { login, role, name } = plan;
    const berthKey = ensureBerthSshKey(this.deps.dataDir);
    const loginKey = plan.sshKey ? writeTemporaryKey(this.deps.dataDir, plan.sshKey) : null;
    try {
      const target: SshTarget = { ...login, keyFile: loginKey?.file ?? berthKey.keyFile, knownHostsFile: berthKey.knownHostsFile };
      const ctx = sshContext(target, {}, plan.checkOnly);
      let tasks;
      try {
        const kubelet = this.deps.kubelet?.settings && this.nodes ? { settings: this.deps.kubelet.settings, cluster: this.nodes } : undefined;
        tasks = await installTasks({
          name, role, login: target, registryAdvertise: this.deps.registryAdvertise, berthKey, k3sBinary: this.deps.k3sBinary, hostKey: plan.hostKey,
          ...(plan.kubeletNode ? { kubeletNode: plan.kubeletNode } : {}),
        }, { store: this.deps.store, dataDir: this.deps.dataDir, ...(kubelet ? { kubelet } : {}) });
      } catch (err) {
        report({ task: 'prepare the task list', status: 'failed', detail: failureDetail(err) });
        return { ok: 0, changed: 0, wouldChange: 0, failed: 1, succeeded: false };
      }
      const summary = await runTasks(tasks, ctx, report);
      this.deps.log(`hosts:add ${name} (${role}${plan.checkOnly ? ', check only' : ''}): ${summary.ok} ok, ${summary.changed} changed, ` +
        `${summary.wouldChange} would change, ${summary.failed} failed`);
      return summary;
    } finally {
      loginKey?.dispose();
      if (plan.kubeletNode) this.joiningCidrs.delete(plan.kubeletNode.podCidr);
    }
  }

  async list(): Promise<HostView[]> {
    const { runtime, docker } = this.deps.engine;
    const rows: Omit<HostView, 'load' | 'containers'>[] = [
      { name: LOCAL_ENGINE, address: '127.0.0.1', role: 'docker', status: 'up', draining: false, memoryMB: null, cpus: null,
        instances: (await runtime.list()).length },
      ...this.deps.store.list().map((row) => ({
        name: row.name, address: row.address, role: row.role, status: row.role === 'docker' ? 'retired' : row.status, draining: row.draining,
        memoryMB: row.memoryMB, cpus: row.cpus, instances: null,
      })),
    ];
    return Promise.all(rows.map(async (row) => {
      if (row.status !== 'up') return { ...row, load: null, containers: null };
      const local = row.name === LOCAL_ENGINE;
      const [load, info] = await Promise.all([
        withinTime(this.sampler.sample(row.name, this.probeFor(row.name))),
        local ? withinTime(docker.info() as Promise<{ ContainersRunning?: number; NCPU?: number }>) : Promise.resolve(null),
      ]);
      return { ...row, cpus: row.cpus ?? info?.NCPU ?? load?.cpus ?? null, load, containers: info?.ContainersRunning ?? null };
    }));
  }

  /** The local machine is probed directly; a registered host over SSH with Berth's key. */
  private probeFor(name: string): ProbeRunner {
    if (name === LOCAL_ENGINE) return localProbe;
    const row = this.deps.store.find(name);
    if (!row) return async () => { throw new Error(`unknown host ${name}`); };
    const key = ensureBerthSshKey(this.deps.dataDir);
    const target = { user: row.sshUser, host: row.address, port: row.sshPort, keyFile: key.keyFile, knownHostsFile: key.knownHostsFile };
    return async (script) => (await sshRun(target, script)).stdout;
  }

  /** Cordons the node and evicts its pods, each ready elsewhere before the next one goes (nodes-service.ts). */
  async drain(name: string, progress: (line: string) => void = () => {}): Promise<{ moved: number; done?: boolean; unplaced?: string[] }> {
    const node = await this.requireNode(name);
    const result = await this.nodes!.drain(node, progress);
    return { moved: result.evicted, done: result.done, unplaced: result.unplaced };
  }

  /** Ends draining: the node takes new pods again (the moved ones are not moved back). */
  async undrain(name: string): Promise<void> {
    const node = await this.requireNode(name);
    await this.nodes!.undrain(node);
  }

  /**
   * A node is drained and leaves the cluster (removeNode). A retired Docker host: the containers Berth started there
   * are removed over SSH, then its record; a host that does not answer is reported and forgotten all the same.
   */
  async remove(name: string, progress: (line: string) => void = () => {}): Promise<{ moved: number }> {
    const node = await this.nodeNamed(name);
    if (node) return this.removeNode(name, node, progress);
    const row = this.requireHost(name);
    if (row.role === 'docker') {
      const summary = await this.runOnHost(row, retiredDockerHostTasks(this.deps.owner), progress);
      if (!summary.succeeded) progress(`What Berth left on ${row.address} could not be removed (see above); ${name} is forgotten all the same.`);
    } else {
      progress(`${name} is no node of the cluster: only its record is dropped.`);
    }
    this.deps.store.remove(name);
    this.deps.log(`hosts:remove ${name} (${row.role === 'docker' ? 'retired Docker host' : row.role}): record dropped`);
    return { moved: 0 };
  }

  /**
   * A node leaves the cluster: drained (its instances ready elsewhere first), its Node object deleted, and when
   * hosts:add installed its agent, the agent uninstalled over SSH and the host record dropped.
   */
  private async removeNode(name: string, node: string, progress: (line: string) => void): Promise<{ moved: number }> {
    const drained = await this.nodes!.drain(node, progress);
    if (!drained.done) {
      throw new BerthError(409, 'drain_incomplete', `${node} was not removed: its instances do not all run elsewhere yet${drained.unplaced.length
        ? ` (no node can take ${drained.unplaced.join(', ')})` : ''}. It stays cordoned; add a node or undrain it.`);
    }
    await this.nodes!.deleteNode(node);
    progress(`Node ${node} deleted from the cluster.`);
    const row = this.deps.store.find(name) ?? this.deps.store.list().find((r) => r.role !== 'docker' && r.name === node);
    if (row && (row.role === 'k3s-agent' || row.role === 'kubelet')) {
      const what = row.role === 'kubelet' ? 'kubelet node' : 'k3s agent';
      const summary = await this.runOnHost(row, row.role === 'kubelet' ? kubeletNodeUninstallTasks() : k3sAgentUninstallTasks(), progress);
      if (!summary.succeeded) progress(`The ${what} on ${row.address} could not be uninstalled (see above); the node is out of the cluster all the same.`);
    }
    if (row?.role === 'kubelet') forgetNodeCredentials(this.deps.dataDir, node);
    if (row) this.deps.store.remove(row.name);
    return { moved: drained.evicted };
  }

  /** Tasks run on a registered host over SSH with Berth's key, each line told as progress. */
  private runOnHost(row: HostRow, tasks: Task[], progress: (line: string) => void): Promise<RunSummary> {
    const key = ensureBerthSshKey(this.deps.dataDir);
    const ctx = sshContext({ user: row.sshUser, host: row.address, port: row.sshPort, keyFile: key.keyFile, knownHostsFile: key.knownHostsFile }, {}, false);
    return runTasks(tasks, ctx, (line) => progress(`${line.status.padEnd(12)} ${line.task}${line.detail ? `: ${line.detail}` : ''}`));
  }

  /** The node hosts:drain/undrain NAME means; a retired Docker host or an unknown name is refused. */
  private async requireNode(name: string): Promise<string> {
    const node = await this.nodeNamed(name);
    if (node) return node;
    if (this.requireHost(name).role === 'docker') {
      throw new BerthError(409, 'host_retired', `${name} is a Docker host of an older Berth: nothing runs there for Berth any more. ` +
        `berth hosts:remove ${name} removes what Berth left there (${MOVE_DOCS}).`);
    }
    throw new BerthError(404, 'host_not_found', `Host "${name}" is no node of the cluster (berth hosts lists the nodes).`);
  }

  private requireHost(name: string): HostRow {
    const row = this.deps.store.find(name);
    if (!row) throw new BerthError(404, 'host_not_found', `No node or host named "${name}" (berth hosts lists them).`);
    return row;
  }
}
