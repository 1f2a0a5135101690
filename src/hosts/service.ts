// The hosts Berth runs instances on: adding one (the installer over SSH), draining and removing one,
// and keeping the multi-host runtime in step with the hosts table.
import type Docker from 'dockerode';
import { parseSshAddress, type SshTarget } from '../../installer/ssh.ts';
import { runTasks, failureDetail, type RunSummary, type TaskReport } from '../../installer/task.ts';
import { sshContext } from '../../installer/ssh.ts';
import { DockerRuntime } from '../runtime/docker/index.ts';
import { LOCAL_HOST, type MultiHostRuntime } from '../runtime/multi-host/index.ts';
import { remoteDocker } from '../runtime/multi-host/remote-docker.ts';
import type { HostRole, HostRow, HostsStore } from '../state/hosts-store.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { Deployer } from '../releases/deployer.ts';
import { BerthError } from '../shared/errors.ts';
import { ensureBerthSshKey, writeTemporaryKey } from './berth-key.ts';
import { installTasks } from './install.ts';
import { HostUsageSampler, localProbe, type HostUsage, type ProbeRunner } from './host-stats.ts';
import { sshRun } from '../../installer/ssh.ts';
import { normalizeFingerprint } from '../../installer/tasks/host-key.ts';
import type { NodesService } from './nodes/nodes-service.ts';
import type { NodeView } from '../wire/hosts.ts';
import { k3sAgentUninstallTasks } from './nodes/uninstall.ts';

const STATS_TIMEOUT_MS = 4_000;

export const HOST_ROLES: HostRole[] = ['docker', 'k3s-server', 'k3s-agent'];
const HOST_NAME = /^[a-z0-9][a-z0-9.-]{0,62}$/;

export interface AddHostRequest {
  address: string;          // root@HOST[:PORT]
  name?: string;
  role?: HostRole;
  sshKey?: string;          // private key text to log in with; default: Berth's own key
  hostKey?: string;         // the host's SSH key fingerprint (SHA256:...); default: trust on first use
  check?: boolean;
}

export interface HostPlan {
  login: { user: string; host: string; port: number };
  role: HostRole;
  name: string;
  sshKey?: string;
  hostKey: string | null;
  checkOnly: boolean;
}

export interface HostsDeps {
  store: HostsStore;
  runtime: MultiHostRuntime;
  apps: AppsStore;
  deployer: Deployer;
  dataDir: string;
  owner: string;
  registryAdvertise: string;
  k3sBinary?: string;
  requestTimeoutMs?: number;
  log: (line: string) => void;
}

export interface HostView {
  name: string; address: string; role: string; status: string; draining: boolean;
  memoryMB: number | null; cpus: number | null; instances: number; lastHeartbeatAt: string | null;
  /** Live load (null when the host is down or does not answer in time) and the engine's running containers. */
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

  constructor(deps: HostsDeps) {
    this.deps = deps;
  }

  useNodes(nodes: NodesService): void {
    this.nodes = nodes;
  }

  /** The cluster's nodes (404 without a cluster). */
  async listNodes(): Promise<NodeView[]> {
    if (!this.nodes) throw new BerthError(404, 'no_cluster', 'This installation has no Kubernetes cluster: berth hosts lists its Docker engines.');
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

  /** At startup: every registered Docker host joins the runtime (the heartbeat then confirms it is up). */
  attachRegistered(): void {
    for (const row of this.deps.store.list()) this.attach(row);
  }

  engineFor(target: { address: string; sshUser: string; sshPort: number }): Docker {
    const key = ensureBerthSshKey(this.deps.dataDir);
    return remoteDocker({ ...target, keyFile: key.keyFile, knownHostsFile: key.knownHostsFile });
  }

  /** Validates a hosts:add request before anything runs (so the API can still answer with an error status). */
  plan(req: AddHostRequest): HostPlan {
    let login;
    try {
      login = parseSshAddress(String(req.address ?? ''));
    } catch (err) {
      throw new BerthError(422, 'invalid_address', (err as Error).message);
    }
    const role = req.role ?? 'docker';
    if (!HOST_ROLES.includes(role)) throw new BerthError(422, 'invalid_role', `role must be one of ${HOST_ROLES.join(', ')}`);
    const name = req.name ?? login.host;
    if (!HOST_NAME.test(name) || name === LOCAL_HOST) {
      throw new BerthError(422, 'invalid_host_name', `"${name}" cannot name a host: lowercase letters, digits, dots and dashes; not "${LOCAL_HOST}".`);
    }
    const clash = this.deps.store.find(name);
    if (clash && clash.address !== login.host) {
      throw new BerthError(409, 'host_exists', `Host "${name}" is already registered at ${clash.address}; choose another --name.`);
    }
    const hostKey = req.hostKey === undefined ? null : normalizeFingerprint(req.hostKey);
    if (req.hostKey !== undefined && !hostKey) {
      throw new BerthError(422, 'invalid_host_key', 'hostKey must be an SSH key fingerprint like SHA256:… (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host).');
    }
    return { login, role, name, sshKey: req.sshKey, hostKey, checkOnly: req.check === true };
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
        tasks = await installTasks({
          name, role, login: target, registryAdvertise: this.deps.registryAdvertise, berthKey, k3sBinary: this.deps.k3sBinary, hostKey: plan.hostKey,
        }, {
          store: this.deps.store, dataDir: this.deps.dataDir,
          engineFor: (t) => this.engineFor(t),
          onRegistered: (registered) => {
            const row = this.deps.store.find(registered);
            if (row) this.attach(row);
          },
        });
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
    }
  }

  async list(): Promise<HostView[]> {
    const instances = await this.deps.runtime.list();
    const count = (name: string) => instances.filter((i) => i.hostName === name).length;
    const local = this.deps.runtime.host(LOCAL_HOST)!;
    const rows: Omit<HostView, 'load' | 'containers'>[] = [
      { name: LOCAL_HOST, address: local.address, role: 'docker', status: 'up', draining: false, memoryMB: local.memoryMB, cpus: null,
        instances: count(LOCAL_HOST), lastHeartbeatAt: null },
      ...this.deps.store.list().map((row) => ({
        name: row.name, address: row.address, role: row.role, status: row.status, draining: row.draining,
        memoryMB: row.memoryMB, cpus: row.cpus, instances: count(row.name), lastHeartbeatAt: row.lastHeartbeatAt,
      })),
    ];
    return Promise.all(rows.map(async (row) => {
      if (row.status !== 'up') return { ...row, load: null, containers: null };
      const docker = this.deps.runtime.host(row.name)?.docker;
      const [load, info] = await Promise.all([
        withinTime(this.sampler.sample(row.name, this.probeFor(row.name))),
        docker ? withinTime(docker.info() as Promise<{ ContainersRunning?: number; NCPU?: number }>) : Promise.resolve(null),
      ]);
      return { ...row, cpus: row.cpus ?? info?.NCPU ?? load?.cpus ?? null, load, containers: info?.ContainersRunning ?? null };
    }));
  }

  /** The local machine is probed directly; a registered host over SSH with Berth's key. */
  private probeFor(name: string): ProbeRunner {
    if (name === LOCAL_HOST) return localProbe;
    const row = this.deps.store.find(name);
    if (!row) return async () => { throw new Error(`unknown host ${name}`); };
    const key = ensureBerthSshKey(this.deps.dataDir);
    const target = { user: row.sshUser, host: row.address, port: row.sshPort, keyFile: key.keyFile, knownHostsFile: key.knownHostsFile };
    return async (script) => (await sshRun(target, script)).stdout;
  }

  /**
   * Moves every instance off the host with zero downtime: the host takes no new instances, and each app
   * with instances there is converged, which starts replacements elsewhere, health-checks them, switches
   * the route, and only then stops the old ones.
   */
  async drain(name: string, progress: (line: string) => void = () => {}): Promise<{ moved: number; done?: boolean; unplaced?: string[] }> {
    const node = await this.nodeNamed(name);
    if (node) {
      const result = await this.nodes!.drain(node, progress);
      return { moved: result.evicted, done: result.done, unplaced: result.unplaced };
    }
    this.requireHost(name);
    this.deps.store.setDraining(name, true);
    this.deps.runtime.setDraining(name, true);
    const onHost = (await this.deps.runtime.list()).filter((i) => i.hostName === name);
    const apps = [...new Set(onHost.map((i) => i.app))].filter((app) => this.deps.apps.find(app));
    for (const app of apps) {
      progress(`Moving ${app} off ${name}.`);
      await this.deps.deployer.converge(app, (line) => progress(`${app}: ${line}`));
    }
    const left = (await this.deps.runtime.list()).filter((i) => i.hostName === name);
    if (left.length) throw new BerthError(409, 'drain_incomplete', `${left.length} instance(s) are still on ${name}: ${left.map((i) => i.name).join(', ')}`);
    return { moved: onHost.length };
  }

  /** Ends draining: the host takes new instances again (existing ones are not moved back). */
  async undrain(name: string): Promise<void> {
    const node = await this.nodeNamed(name);
    if (node) {
      await this.nodes!.undrain(node);
      return;
    }
    this.requireHost(name);
    this.deps.store.setDraining(name, false);
    this.deps.runtime.setDraining(name, false);
  }

  async remove(name: string, progress: (line: string) => void = () => {}): Promise<{ moved: number }> {
    const node = await this.nodeNamed(name);
    if (node) return this.removeNode(name, node, progress);
    const row = this.requireHost(name);
    // A host that is down has nothing Berth can move; its instances were already replaced elsewhere.
    const result = row.status === 'down' ? { moved: 0 } : await this.drain(name, progress);
    this.deps.store.remove(name);
    this.deps.runtime.removeHost(name);
    return result;
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
    if (row && row.role === 'k3s-agent') {
      const key = ensureBerthSshKey(this.deps.dataDir);
      const ctx = sshContext({ user: row.sshUser, host: row.address, port: row.sshPort, keyFile: key.keyFile, knownHostsFile: key.knownHostsFile }, {}, false);
      const summary = await runTasks(k3sAgentUninstallTasks(), ctx, (line) => progress(`${line.status.padEnd(12)} ${line.task}${line.detail ? `: ${line.detail}` : ''}`));
      if (!summary.succeeded) progress(`The k3s agent on ${row.address} could not be uninstalled (see above); the node is out of the cluster all the same.`);
    }
    if (row) this.deps.store.remove(row.name);
    return { moved: drained.evicted };
  }

  private requireHost(name: string): HostRow {
    const row = this.deps.store.find(name);
    if (!row) throw new BerthError(404, 'host_not_found', `No host named "${name}" (berth hosts lists them).`);
    return row;
  }

  private attach(row: HostRow): void {
    if (row.role !== 'docker' || this.deps.runtime.host(row.name)) return;
    const docker = this.engineFor(row);
    this.deps.runtime.addHost({
      name: row.name, address: row.address, docker,
      runtime: new DockerRuntime({
        socketPath: '', docker, owner: this.deps.owner, host: row.address, publishIp: row.address,
        requestTimeoutMs: this.deps.requestTimeoutMs ?? 30_000,
      }),
      up: row.status === 'up', draining: row.draining, memoryMB: row.memoryMB,
    });
  }
}
