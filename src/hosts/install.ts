// hosts:add: the installer's task list for a role, followed by Berth's own steps (the Docker API answers
// over SSH with Berth's key; the host is registered), all run through the same runner so a second run
// reports every line `ok` and --check registers nothing.
import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import type { Task, TaskContext } from '../../installer/task.ts';
import { dockerHostTasks } from '../../installer/roles/docker-host.ts';
import { k3sAgentTasks, k3sServerTasks, readK3sJoinInfo } from '../../installer/tasks/k3s.ts';
import { sshContext, type SshTarget } from '../../installer/ssh.ts';
import { hostKeyTask } from '../../installer/tasks/host-key.ts';
import type { HostRole, HostsStore } from '../state/hosts-store.ts';
import type { BerthSshFiles } from './berth-key.ts';
import { loadRegistryCredential } from '../registry/credentials.ts';
import { portRangeFrom, routerAddressesFrom } from '../config.ts';

export interface HostInstall {
  name: string;
  role: HostRole;
  login: SshTarget;              // how the installer logs in (the operator's key, or Berth's)
  registryAdvertise: string;     // Berth's registry as hosts reach it
  berthKey: BerthSshFiles;
  k3sBinary?: string;
  /** The fingerprint the host's SSH key must have (SHA256:...); null: trust on first use, shown. */
  hostKey?: string | null;
}

export interface InstallDeps {
  store: HostsStore;
  dataDir: string;
  /** An engine client over SSH with Berth's key (the control channel). */
  engineFor(target: { address: string; sshUser: string; sshPort: number }): Docker;
  /** Called once the host is registered, so instances can be placed on it right away. */
  onRegistered(name: string): void;
}

const ENGINE_INFO_TIMEOUT_MS = 15_000;

export async function engineCapacity(docker: Docker): Promise<{ memoryMB: number; cpus: number }> {
  const info = await Promise.race([
    docker.info() as Promise<{ MemTotal: number; NCPU: number }>,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ENGINE_INFO_TIMEOUT_MS / 1000} s`)), ENGINE_INFO_TIMEOUT_MS).unref()),
  ]);
  return { memoryMB: Math.floor(info.MemTotal / (1024 * 1024)), cpus: info.NCPU };
}

export async function installTasks(req: HostInstall, deps: InstallDeps): Promise<Task[]> {
  const address = req.login.host;
  const channel = { address, sshUser: req.login.user, sshPort: req.login.port };
  const roleTasks = req.role === 'docker'
    ? [...dockerHostTasks({ registry: req.registryAdvertise, berthPublicKey: req.berthKey.publicKey, firewall: appPortFirewall() }),
      controlChannelTask(deps.engineFor(channel))]
    : await k3sRoleTasks(req, deps);
  // First, before anything logs in: the host key pinned (checked against --host-key when given).
  const pin = hostKeyTask({ host: address, port: req.login.port, knownHostsFile: req.berthKey.knownHostsFile, expected: req.hostKey ?? null });
  return [pin, ...roleTasks, registerTask(req, deps)];
}

/** The server's own settings: the ports it publishes instances at, and where its router connects from. */
function appPortFirewall() {
  return { portRange: portRangeFrom(process.env), routers: routerAddressesFrom(process.env) };
}

function controlChannelTask(docker: Docker): Task {
  return {
    name: "Docker API answers over SSH with Berth's key",
    hint: "Berth's key must be authorized for the SSH user and `docker system dial-stdio` must work for it (root, or a member of the docker group).",
    async check() {
      try {
        await engineCapacity(docker);
        return true;
      } catch {
        return false;
      }
    },
    // Nothing of its own to change: the tasks before it set the channel up; the re-check says if they did.
    async apply() {},
  };
}

async function k3sRoleTasks(req: HostInstall, deps: InstallDeps): Promise<Task[]> {
  // Nodes pull release images with Berth's registry credential, once the registry requires one.
  const common = { registryMirror: req.registryAdvertise, registryAuth: loadRegistryCredential(deps.dataDir), k3sBinary: req.k3sBinary };
  if (req.role === 'k3s-server') return k3sServerTasks(common);
  const server = deps.store.list().find((h) => h.role === 'k3s-server');
  if (!server) throw new Error('add a k3s server first (berth hosts:add root@HOST --role k3s-server): agents join its cluster');
  const serverCtx = sshContext({
    user: server.sshUser, host: server.address, port: server.sshPort,
    keyFile: req.berthKey.keyFile, knownHostsFile: req.berthKey.knownHostsFile,
  }, {}, true);
  const join = await readK3sJoinInfo(serverCtx);
  return k3sAgentTasks({ ...common, serverUrl: join.serverUrl, token: join.token });
}

function registerTask(req: HostInstall, deps: InstallDeps): Task {
  const wanted = { name: req.name, address: req.login.host, sshUser: req.login.user, sshPort: req.login.port, role: req.role };
  return {
    name: `registered with Berth as host "${req.name}" (${req.role})`,
    hint: `another host may already be registered as "${req.name}": choose another --name or remove that one first.`,
    async check() {
      const row = deps.store.find(req.name);
      return !!row && row.address === wanted.address && row.sshUser === wanted.sshUser && row.sshPort === wanted.sshPort && row.role === wanted.role;
    },
    async apply(ctx: TaskContext) {
      let capacity: { memoryMB: number | null; cpus: number | null } = { memoryMB: null, cpus: null };
      if (req.role === 'docker') capacity = await engineCapacity(deps.engineFor(wanted));
      if (req.role === 'k3s-server') saveKubeconfig(deps.dataDir, (await readK3sJoinInfo(ctx)).kubeconfig);
      deps.store.upsert({ ...wanted, ...capacity });
      deps.onRegistered(req.name);
    },
  };
}

/** The cluster's admin kubeconfig, where the Kubernetes runtime driver will find it. */
function saveKubeconfig(dataDir: string, kubeconfig: string): void {
  const dir = path.join(dataDir, 'k3s');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'kubeconfig'), kubeconfig, { mode: 0o600 });
}
