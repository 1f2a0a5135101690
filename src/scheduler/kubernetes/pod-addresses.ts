// Routing straight to pods, when Berth's machine is on the cluster's pod network (it is a node: the k3s server
// on Berth's own machine, or the test kit). Caddy then reaches an app as it reaches Docker instances: by the
// app's DNS name in Berth's private dnsmasq (src/router/dnsmasq), here `APP.k3s.berth.internal`, whose
// addresses are the ready endpoints of the app's web Service, kept current by a watch. Caddy keeps its
// connections alive and balances requests, and a release reaches traffic once the new pod is ready, without
// waiting for kept-alive connections to a NodePort to leave the old pod. Otherwise routes go to the NodePort.
import os from 'node:os';
import type { V1Endpoints, V1Pod } from '@kubernetes/client-node';
import type { AddressBook } from '../../router/dnsmasq/address-book.ts';
import type { Cluster } from './client.ts';
import { listWatch } from './list-watch.ts';
import { LABEL, selectorOf, serviceName } from './manifests.ts';

export type RouteMode = 'pods' | 'nodeport';
/** BERTH_K8S_ROUTE: pods, nodeport, or auto (pods when Berth's machine is one of the nodes). */
export type RouteSetting = RouteMode | 'auto';
export const ROUTE_SETTINGS: readonly RouteSetting[] = ['auto', 'pods', 'nodeport'];

const RETRY_MS = 1000;

/** The book key of an app's pods: app names are DNS labels without dots, so this never meets a Docker app's key. */
export const podsKey = (app: string): string => `${app}.k3s`;

/**
 * The ready IPv4 addresses of a Service's endpoints (the cluster leaves out not-ready and terminating pods; Caddy
 * asks the app DNS for A records).
 */
export function readyAddresses(endpoints: V1Endpoints, lostNodes: ReadonlySet<string> = new Set()): string[] {
  // A pod on a node whose kubelet stopped answering stays "ready" until the node controller's grace period is over
  // (40 s): Berth drops it as soon as it judges the node lost (hosts/nodes/node-monitor.ts), unless no other pod is
  // left: an empty answer would fail every request at once, a wrongly judged node none.
  const all = (endpoints.subsets ?? []).flatMap((s) => s.addresses ?? []).filter((a) => a.ip && !a.ip.includes(':'));
  const kept = all.filter((a) => !a.nodeName || !lostNodes.has(a.nodeName));
  return [...new Set((kept.length ? kept : all).map((a) => a.ip))].sort();
}

/** The IPv4 addresses of pods that are ready and not going away (a canary's upstreams, read from its pods). */
export function readyPodAddresses(pods: V1Pod[]): string[] {
  const ready = pods.filter((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  return [...new Set(ready.map((p) => p.status?.podIP ?? '').filter((ip) => ip && !ip.includes(':')))].sort();
}

/**
 * Ready addresses less those of pods being deleted, which the endpoints controller drops a moment after a rollout
 * ended; `leaving` keeps only the addresses the endpoints still list (the rest are gone, and may be reused).
 */
export function withoutLeaving(ready: string[], endpoints: V1Endpoints, leaving: ReadonlySet<string>): { ready: string[]; leaving: Set<string> } {
  const listed = new Set((endpoints.subsets ?? []).flatMap((s) => [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])]).map((a) => a.ip));
  const still = new Set([...leaving].filter((ip) => listed.has(ip)));
  return { ready: ready.filter((ip) => !still.has(ip)), leaving: still };
}

/**
 * Pods only when Berth can reach them: an explicit setting wins, `auto` asks whether a node's InternalIP is an
 * address of this machine. Without app DNS there is no stable name to route by, so NodePort.
 */
export function routeMode(setting: RouteSetting, hasAddressBook: boolean, nodeAddresses: string[], localAddresses: string[]): RouteMode {
  if (!hasAddressBook || setting === 'nodeport') return 'nodeport';
  if (setting === 'pods') return 'pods';
  const local = new Set(localAddresses);
  return nodeAddresses.some((a) => local.has(a)) ? 'pods' : 'nodeport';
}

export function localAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** Keeps the app DNS in step with the installation's web Services' ready endpoints. */
export class PodAddresses {
  private readonly cluster: Cluster;
  private readonly namespace: string;
  private readonly owner: string;
  readonly book: AddressBook;
  private readonly log: (line: string) => void;
  private abort: AbortController | null = null;
  /** Each app's ready endpoints as last seen. */
  private readonly ready = new Map<string, string[]>();
  /** Each app's endpoints as last seen, to publish again when a node is lost or back. */
  private readonly endpoints = new Map<string, V1Endpoints>();
  /** Nodes whose kubelet does not answer: their pods are left out of every app's addresses. */
  private lost: ReadonlySet<string> = new Set();
  /** Addresses of the app's pods being deleted that its endpoints may still list. */
  private readonly leaving = new Map<string, Set<string>>();
  /** New pods Berth's own health check passed during a rollout, before the kubelet's next probe says so. */
  private readonly admitted = new Map<string, Set<string>>();

  constructor(opts: { cluster: Cluster; namespace: string; owner: string; book: AddressBook; log: (line: string) => void }) {
    this.cluster = opts.cluster;
    this.namespace = opts.namespace;
    this.owner = opts.owner;
    this.book = opts.book;
    this.log = opts.log;
  }

  nameOf(app: string): string {
    return this.book.nameOf(podsKey(app));
  }

  /** Starts the watch once (list, then watch from there; a broken watch lists again). */
  start(): void {
    if (this.abort) return;
    const abort = new AbortController();
    this.abort = abort;
    void this.watchLoop(abort.signal);
  }

  close(): void {
    this.abort?.abort();
    this.abort = null;
  }

  /**
   * Reads the app's endpoints now and publishes them (a deploy does not wait for the watch). True when other
   * addresses were replaced, which Caddy may still hold for one DNS refresh.
   */
  async sync(app: string): Promise<boolean> {
    this.start();
    const [endpoints, pods] = await Promise.all([
      this.cluster.core.readNamespacedEndpoints({ name: serviceName(app), namespace: this.namespace }).catch(() => null),
      this.cluster.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selectorOf(this.owner, app, { [LABEL.process]: 'web' }) }).catch(() => null),
    ]);
    // A rollout is over once the old pods are being deleted, and the endpoints controller drops them a moment later:
    // until it has, they are left out here (and from any endpoints event that still lists them).
    const leaving = (pods?.items ?? []).filter((p) => p.metadata?.deletionTimestamp).map((p) => p.status?.podIP ?? '').filter(Boolean);
    this.leaving.set(app, new Set(leaving));
    if (endpoints) this.endpoints.set(app, endpoints);
    this.ready.set(app, endpoints ? this.readyOf(app, endpoints) : []);
    return this.publishApp(app);
  }

  private readyOf(app: string, endpoints: V1Endpoints): string[] {
    const { ready, leaving } = withoutLeaving(readyAddresses(endpoints, this.lost), endpoints, this.leaving.get(app) ?? new Set());
    this.leaving.set(app, leaving);
    return ready;
  }

  /** The nodes judged lost now: every app's addresses are published again without (or again with) their pods. */
  async setLostNodes(names: Iterable<string>): Promise<void> {
    const lost = new Set(names);
    if ([...lost].sort().join(',') === [...this.lost].sort().join(',')) return;
    this.lost = lost;
    for (const [app, endpoints] of this.endpoints) {
      this.ready.set(app, this.readyOf(app, endpoints));
      await this.publishApp(app).catch((err) => this.log(`k3s: app DNS of ${app} could not be updated: ${(err as Error).message}`));
    }
  }

  /**
   * A new pod answered Berth's own health check: it takes requests now, beside the pods already there. The
   * kubelet probes once a second, so its readiness comes up to a second later; the rollout then goes on as usual.
   */
  admit(app: string, address: string): Promise<boolean> {
    const admitted = this.admitted.get(app) ?? new Set<string>();
    admitted.add(address);
    this.admitted.set(app, admitted);
    return this.publishApp(app);
  }

  /** The rollout is over (done or undone): from now on only the endpoints' ready pods. */
  endAdmissions(app: string): Promise<boolean> {
    if (!this.admitted.delete(app)) return Promise.resolve(false);
    return this.publishApp(app);
  }

  remove(app: string): Promise<void> {
    this.ready.delete(app);
    this.leaving.delete(app);
    this.endpoints.delete(app);
    this.admitted.delete(app);
    return this.book.remove(podsKey(app));
  }

  private publishApp(app: string): Promise<boolean> {
    return this.book.set(podsKey(app), [...new Set([...(this.ready.get(app) ?? []), ...(this.admitted.get(app) ?? [])])]);
  }

  private publish(endpoints: V1Endpoints, gone = false): void {
    const app = endpoints.metadata?.labels?.[LABEL.app];
    if (!app || endpoints.metadata?.name !== serviceName(app)) return;
    if (!gone) {
      this.endpoints.set(app, endpoints);
      this.ready.set(app, this.readyOf(app, endpoints));
    }
    const done = gone ? this.remove(app) : this.publishApp(app);
    done.catch((err) => this.log(`k3s: app DNS of ${app} could not be updated: ${(err as Error).message}`));
  }

  private watchLoop(signal: AbortSignal): Promise<void> {
    const selector = selectorOf(this.owner);
    return listWatch<V1Endpoints>({
      config: this.cluster.config, path: `/api/v1/namespaces/${this.namespace}/endpoints`, labelSelector: selector, signal, retryMs: RETRY_MS,
      list: () => this.cluster.core.listNamespacedEndpoints({ namespace: this.namespace, labelSelector: selector }),
      onObject: (endpoints, gone) => this.publish(endpoints, gone),
      onError: (err) => this.log(`k3s: watching the apps' endpoints failed (${err.message}); again in ${RETRY_MS / 1000} s`),
    });
  }
}
