// hosts:add --role kubelet: the host joins Berth's cluster as a plain node (installer/tasks/kubelet.ts), from the
// server's kubelet settings (settings.ts), its certificates signed here with the cluster CA (node-credentials.ts),
// its pods on the range pod-cidr.ts chose, and Berth's registry as the nodes reach it (with its credential). After
// the join, the Node's spec.podCIDR records that range, so the next node's default skips it. hosts:remove takes
// the node off the host again (kubeletNodeUninstallTasks).
import type { Task } from '../../../installer/task.ts';
import { kubeletNodeTasks } from '../../../installer/tasks/kubelet.ts';
import { registryEndpoint } from '../../../installer/k3s/config.ts';
import type { RegistryCredential } from '../../registry/credentials.ts';
import { nodeCredentials } from './node-credentials.ts';
import type { KubeletSettings } from './settings.ts';

/** What the role needs of the cluster, through Berth's own Kubernetes client (nodes-service.ts). */
export interface ClusterPodCidrs {
  /** Every Node's spec.podCIDRs, by node name. */
  podCidrs(): Promise<Map<string, string[]>>;
  /** Sets the Node's spec.podCIDR(s) (once: Kubernetes never changes it). */
  setPodCidr(node: string, cidr: string): Promise<void>;
}

/** The host's part, decided by the plan (service.ts): its node name, address and pods. */
export interface KubeletNodePlan {
  nodeName: string;
  nodeIp: string;
  podCidr: string;
}

export interface KubeletRoleInput {
  node: KubeletNodePlan;
  settings: KubeletSettings;
  /** Berth's registry as the hosts reach it (BERTH_REGISTRY_ADVERTISE), and its credential once it requires one. */
  registryAdvertise: string;
  registryAuth: RegistryCredential | null;
  dataDir: string;
  cluster: ClusterPodCidrs;
}

export async function kubeletRoleTasks(input: KubeletRoleInput): Promise<Task[]> {
  const { node, settings: s } = input;
  const credentials = await nodeCredentials(input.dataDir, { certFile: s.caCert, keyFile: s.caKey }, node.nodeName, node.nodeIp);
  const registry = registryEndpoint(input.registryAdvertise);
  return [
    ...kubeletNodeTasks({
      hyperkubeBinary: s.hyperkubeBinary, pauseImage: s.pauseImage, pauseImageRef: s.pauseImageRef,
      apiServer: s.apiServer, ...(s.apiServerName ? { apiServerName: s.apiServerName } : {}), credentials,
      nodeName: node.nodeName, nodeIp: node.nodeIp, podCidr: node.podCidr, clusterCidr: s.clusterCidr,
      registryMirrors: { [registry.name]: registry.url }, registryAuth: input.registryAuth,
      labels: s.labels, taints: s.taints,
    }),
    podCidrTask(node, input.cluster),
  ];
}

function podCidrTask(node: KubeletNodePlan, cluster: ClusterPodCidrs): Task {
  return {
    name: `Node ${node.nodeName}'s pods are ${node.podCidr} (spec.podCIDR, so later nodes get other ranges)`,
    hint: 'a Node\'s pod range is set once: hosts:remove the node and add it again to change it',
    async check() {
      return (await cluster.podCidrs()).get(node.nodeName)?.[0] === node.podCidr;
    },
    async apply() {
      await cluster.setPodCidr(node.nodeName, node.podCidr);
    },
  };
}
