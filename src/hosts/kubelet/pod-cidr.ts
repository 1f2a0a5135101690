// Which pod range a kubelet node gets (hosts:add --role kubelet [--pod-cidr CIDR]): the one asked for, checked as
// hostile input (an aligned IPv4 CIDR inside the cluster CIDR, overlapping no other node's), else the node's own
// when it is in the cluster already (a re-run of hosts:add), else the first /24 of the cluster CIDR that no Node
// uses (refused while some Node records no range: its pods may be anywhere). Pure: the Nodes' spec.podCIDR(s) and the ranges other joins are taking right now are given.
import net from 'node:net';
import { BerthError } from '../../shared/errors.ts';

interface Range { base: number; bits: number }

const toInt = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
const size = (r: Range) => 2 ** (32 - r.bits);
const overlaps = (a: Range, b: Range) => a.base < b.base + size(b) && b.base < a.base + size(a);
const inside = (inner: Range, outer: Range) => inner.bits >= outer.bits && inner.base >= outer.base && inner.base + size(inner) <= outer.base + size(outer);
const show = (r: Range) => `${toIp(r.base)}/${r.bits}`;

/** An IPv4 CIDR as written by Kubernetes or a user; null when it is not one (or its host bits are set). */
export function parseCidr(value: string): Range | null {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(value);
  if (!m || !net.isIPv4(m[1]) || Number(m[2]) > 32) return null;
  const range = { base: toInt(m[1]), bits: Number(m[2]) };
  return range.base % size(range) === 0 ? range : null;
}

export interface PodCidrInput {
  /** The node being added. */
  nodeName: string;
  /** --pod-cidr, as the request gave it (untrusted). */
  requested?: string;
  clusterCidr: string;
  /** Every Node's spec.podCIDRs, by node name. */
  nodes: Map<string, string[]>;
  /** Ranges other hosts:add runs of this server are joining right now. */
  reserved: string[];
}

/** The node's pod range, or a BerthError (422: not a usable range; 409: taken by another node). */
export function choosePodCidr(input: PodCidrInput): string {
  const cluster = parseCidr(input.clusterCidr);
  if (!cluster) throw new Error(`the cluster CIDR ${input.clusterCidr} is not an aligned IPv4 CIDR`);
  const own = input.nodes.get(input.nodeName) ?? [];
  const taken = [...input.nodes].filter(([name]) => name !== input.nodeName).flatMap(([name, cidrs]) => cidrs.map((c) => ({ name, c })))
    .concat(input.reserved.map((c) => ({ name: 'another node joining now', c })))
    .map(({ name, c }) => ({ name, range: parseCidr(c) }))
    .filter((t): t is { name: string; range: Range } => t.range !== null);
  if (input.requested !== undefined) {
    const range = parseCidr(input.requested);
    if (!range || range.bits > 28) {
      throw new BerthError(422, 'invalid_pod_cidr', `podCidr must be an IPv4 range like 10.42.3.0/24 (its first address, /28 or larger), not ${JSON.stringify(input.requested)}.`);
    }
    if (!inside(range, cluster)) throw new BerthError(422, 'invalid_pod_cidr', `podCidr ${show(range)} is not inside the cluster's pods, ${show(cluster)} (BERTH_KUBELET_CLUSTER_CIDR).`);
    if (own.length && !own.includes(show(range))) {
      throw new BerthError(409, 'pod_cidr_fixed', `Node ${input.nodeName} already has the pods ${own.join(', ')} (Kubernetes never changes a node's range): ` +
        `leave podCidr out, or hosts:remove the node first.`);
    }
    const clash = taken.find((t) => overlaps(t.range, range));
    if (clash) throw new BerthError(409, 'pod_cidr_taken', `podCidr ${show(range)} overlaps ${show(clash.range)} of ${clash.name}.`);
    return show(range);
  }
  if (own.length) return own[0];
  // A node that records no range (a cluster without allocate-node-cidrs) uses one all the same: which, only it knows.
  const unknown = [...input.nodes].filter(([name, cidrs]) => name !== input.nodeName && cidrs.length === 0).map(([name]) => name);
  if (unknown.length) {
    throw new BerthError(422, 'pod_cidr_required', `Node(s) ${unknown.join(', ')} record no pod range (spec.podCIDR), so a free one cannot be ` +
      `told apart from theirs: give podCidr (--pod-cidr), a range of ${show(cluster)} no node uses.`);
  }
  for (let base = cluster.base; base + 256 <= cluster.base + size(cluster); base += 256) {
    const candidate = { base, bits: 24 };
    if (!taken.some((t) => overlaps(t.range, candidate))) return show(candidate);
  }
  throw new BerthError(409, 'pod_cidr_exhausted', `No /24 of ${show(cluster)} (BERTH_KUBELET_CLUSTER_CIDR) is free: every one is some node's. Give podCidr, or widen the cluster CIDR.`);
}
