// hosts:add: the installer's task list for a role, followed by Berth's own step (the host is registered), all
// run through the same runner so a second run reports every line `ok` and --check registers nothing. A role is
// one entry of ROLE_TASKS: its task list, built from the request and what Berth already knows.
import fs from 'node:fs';
import path from 'node:path';
import type { Task, TaskContext } from '../../installer/task.ts';
import { k3sAgentTasks, k3sServerTasks, readK3sJoinInfo } from '../../installer/tasks/k3s.ts';
import { sshContext, type SshTarget } from '../../installer/ssh.ts';
import { hostKeyTask } from '../../installer/tasks/host-key.ts';
import { authorizedKeyTask } from '../../installer/tasks/authorized-key.ts';
import type { HostsStore } from '../state/hosts-store.ts';
import type { BerthSshFiles } from './berth-key.ts';
import { loadRegistryCredential } from '../registry/credentials.ts';
import { kubeletRoleTasks, type ClusterPodCidrs, type KubeletNodePlan } from './kubelet/role.ts';
import type { KubeletSettings } from './kubelet/settings.ts';

export interface HostInstall {
  name: string;
  role: InstallRole;
  login: SshTarget;              // how the installer logs in (the operator's key, or Berth's)
  registryAdvertise: string;     // Berth's registry as hosts reach it
  berthKey: BerthSshFiles;
  k3sBinary?: string;
  /** The fingerprint the host's SSH key must have (SHA256:...); null: trust on first use, shown. */
  hostKey?: string | null;
  /** Role kubelet: the node's name, address and pods, as the plan decided them. */
  kubeletNode?: KubeletNodePlan;
}

export interface InstallDeps {
  store: HostsStore;
  dataDir: string;
  /** Role kubelet: the server's settings, and the cluster the node joins (both checked by the plan). */
  kubelet?: { settings: KubeletSettings; cluster: ClusterPodCidrs };
}

type RoleTasks = (req: HostInstall, deps: InstallDeps) => Promise<Task[]>;

/** What hosts:add can make of a machine, each role its task list. */
const ROLE_TASKS = {
  'k3s-server': async (req, deps) => k3sServerTasks(k3sCommon(req, deps)),
  'k3s-agent': k3sAgentRoleTasks,
  kubelet: async (req, deps) => {
    if (!req.kubeletNode || !deps.kubelet) throw new Error('a kubelet node needs the server\'s kubelet settings and a cluster (the plan checks both)');
    return kubeletRoleTasks({
      node: req.kubeletNode, settings: deps.kubelet.settings, cluster: deps.kubelet.cluster,
      registryAdvertise: req.registryAdvertise, registryAuth: loadRegistryCredential(deps.dataDir), dataDir: deps.dataDir,
    });
  },
} satisfies Record<string, RoleTasks>;

export type InstallRole = keyof typeof ROLE_TASKS;
export const INSTALL_ROLES = Object.keys(ROLE_TASKS) as InstallRole[];
export const isInstallRole = (role: string): role is InstallRole => Object.hasOwn(ROLE_TASKS, role);

export async function installTasks(req: HostInstall, deps: InstallDeps): Promise<Task[]> {
  const roleTasks = await ROLE_TASKS[req.role](req, deps);
  // First, before anything logs in: the host key pinned (checked against --host-key when given). Then Berth's own
  // key, for every role: hosts:remove logs in with it, and an agent reads its join token from the server with it.
  const pin = hostKeyTask({ host: req.login.host, port: req.login.port, knownHostsFile: req.berthKey.knownHostsFile, expected: req.hostKey ?? null });
  return [pin, authorizedKeyTask(req.login.user, req.berthKey.publicKey), ...roleTasks, registerTask(req, deps)];
}

/** Nodes pull release images with Berth's registry credential, once the registry requires one. */
function k3sCommon(req: HostInstall, deps: InstallDeps) {
  return { registryMirror: req.registryAdvertise, registryAuth: loadRegistryCredential(deps.dataDir), k3sBinary: req.k3sBinary };
}

/** An agent joins the registered k3s server's cluster, with the token read from the server over SSH. */
async function k3sAgentRoleTasks(req: HostInstall, deps: InstallDeps): Promise<Task[]> {
  const server = deps.store.list().find((h) => h.role === 'k3s-server');
  if (!server) throw new Error('add a k3s server first (berth hosts:add root@HOST --role k3s-server): agents join its cluster');
  const serverCtx = sshContext({
    user: server.sshUser, host: server.address, port: server.sshPort,
    keyFile: req.berthKey.keyFile, knownHostsFile: req.berthKey.knownHostsFile,
  }, {}, true);
  const join = await readK3sJoinInfo(serverCtx);
  return k3sAgentTasks({ ...k3sCommon(req, deps), serverUrl: join.serverUrl, token: join.token });
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
      if (req.role === 'k3s-server') saveKubeconfig(deps.dataDir, (await readK3sJoinInfo(ctx)).kubeconfig);
      deps.store.upsert({ ...wanted, memoryMB: null, cpus: null });
    },
  };
}

/** The cluster's admin kubeconfig, where the Kubernetes runtime driver will find it. */
function saveKubeconfig(dataDir: string, kubeconfig: string): void {
  const dir = path.join(dataDir, 'k3s');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'kubeconfig'), kubeconfig, { mode: 0o600 });
}
