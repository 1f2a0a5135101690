// The cluster's nodes as `berth hosts` and the console's hosts page show them (GET /api/v1/hosts/nodes), and what
// a node drain answers. Shared by the API, the CLI and the console.

export type NodeReadiness = 'Ready' | 'NotReady' | 'Unknown';

export interface NodeView {
  name: string;
  role: 'control-plane' | 'agent';
  readiness: NodeReadiness;
  /** Since when the node has been in that readiness (ISO time; null when the cluster never said). */
  readinessSince: string | null;
  /** Why it is not Ready (the kubelet's or the lease's word); null when Ready. */
  reason: string | null;
  /** false: cordoned (hosts:drain), takes no new pods. */
  schedulable: boolean;
  /** The node's InternalIP. */
  address: string | null;
  kubeletVersion: string | null;
  /** Cores and MiB the node offers pods, and what the pods on it request. */
  cpu: { allocatable: number | null; requested: number };
  memoryMB: { allocatable: number | null; requested: number };
  /** Pods bound to the node that are not finished, and of those, this installation's. */
  pods: number;
  berthPods: number;
  /** Berth's host record when `hosts:add` joined this machine. */
  host: { name: string; address: string; role: string } | null;
}

export interface NodeList {
  nodes: NodeView[];
}

export interface NodeDrainResult {
  name: string;
  /** Pods evicted from the node. */
  evicted: number;
  /** Pods of this installation that the cluster could not place elsewhere (no room, no other node) when the drain ended. */
  unplaced: string[];
  done: boolean;
  log: string[];
}
