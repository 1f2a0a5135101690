// More nodes for the Kubernetes test cluster: two node containers (test/support/k8s-nodes.ts) joined to the kit's
// API server by a Berth server's own hosts:add --role kubelet (POST /hosts, its BERTH_KUBELET_* settings pointing at
// the kit's files), once for every case here; a second hosts:add of a node changes nothing. A Deployment spread over
// them and a NodePort reaching its pods from every node; then, on the same Berth server (the k3s scheduler, app pods
// only on these nodes: BERTH_K8S_NODE_SELECTOR and BERTH_K8S_TOLERATIONS, as an installation with nodes of its own in
// a shared cluster sets them), an app of 3 web instances under steady traffic through Berth's Caddy: spread over both
// nodes, hosts:drain of one without a failed request, a node cut off the network (failed requests, time until none
// fails, time until 3 instances run elsewhere, the host_down alert), hosts:remove of it (its uninstall fails: it does
// not answer), and hosts:remove of the other, which uninstalls the node from its container.
// The figures are printed (`# k8s ...` lines) and kept in docs/benchmarks.md.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { clusterApi, deleteNamespace, testKubeconfig, testNamespace } from './scheduler/k8s-cluster.ts';
import {
  ISOLATED_TAINT, describeReport, joinK8sNodes, k8sNodesLabel, k8sNodesRunId, prepareK8sNodes, type K8sNode, type K8sNodeHosts, type K8sNodes,
} from './support/k8s-nodes.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { addHostVia, docker } from './support/test-hosts.ts';
import { startCaddy } from './support/caddy.ts';
import { startBerth, uniqueName, viaRouter, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook.ts';
import { describeFailures, pacedRequests, type PacedRequests } from './support/paced-requests.ts';
import type { NodeList } from '../src/wire/hosts.ts';

const cluster = testKubeconfig();

// An HTTP server of one static program: answers every request with its hostname (the pod's name).
const ECHO_C = `#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
  char host[256] = "?", buf[4096], out[512];
  gethostname(host, sizeof host - 1);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 64)) return 1;
  for (;;) {
    int c = accept(s, 0, 0);
    if (c < 0) continue;
    (void)read(c, buf, sizeof buf);
    int n = snprintf(out, sizeof out, "HTTP/1.0 200 OK\\r\\nContent-Length: %zu\\r\\nConnection: close\\r\\n\\r\\n%s\\n", strlen(host) + 1, host);
    (void)write(c, out, n);
    close(c);
  }
}
`;

function buildEcho(ref: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-echo-'));
  try {
    fs.writeFileSync(path.join(dir, 'echo.c'), ECHO_C);
    execFileSync('gcc', ['-static', '-O2', '-o', path.join(dir, 'echo'), path.join(dir, 'echo.c')]);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY echo /echo\nCMD ["/echo"]\n');
    execFileSync('docker', ['build', '-q', '-t', ref, dir], { stdio: 'ignore' });
    execFileSync('docker', ['push', '-q', ref], { stdio: 'ignore' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls every `everyMs` (the figures below are timed by it) until probe() gives a value; bounded. */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);
const loadAverage = () => `load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`;

/** Asks address:port (one connection per request) until every pod answered; bounded. */
async function podsAnswering(address: string, port: number, pods: string[], maxRequests = 200): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < maxRequests && seen.size < pods.length; i++) {
    const res = await fetch(`http://${address}:${port}/`, { signal: AbortSignal.timeout(3000) }).catch(() => null);
    if (res?.ok) seen.add((await res.text()).trim());
  }
  return seen;
}

describe('further Kubernetes nodes joined by the installer', { skip: cluster.skip }, () => {
  const kubeconfig = cluster.path!;
  const namespace = testNamespace('berth-k8sn');
  // The Berth server's own namespace (BERTH_K8S_NAMESPACE), apart from the raw Deployment's.
  const berthNamespace = testNamespace('berth-k8snb');
  const app = uniqueName('k8sn');
  const hostname = `${app}.localhost`;
  let registry: TestRegistry;
  let prepared: K8sNodeHosts;
  let nodes: K8sNodes;
  /** The echo image: pushed at this machine's registry address, pulled by the nodes at theirs. */
  let image = '';
  let nodeImage = '';
  let caddy: Awaited<ReturnType<typeof startCaddy>>;
  let berth: BerthServer;
  let hook: WebhookReceiver;
  const loads = new Set<PacedRequests>();
  /** The node cut off in the node-loss case (removed by hosts:remove afterwards). */
  let lostNode: K8sNode | null = null;

  before(async () => {
    registry = await startRegistry();
    image = `${registry.address}/berth-test/echo:1`;
    buildEcho(image);
    const started = Date.now();
    const runId = k8sNodesRunId();
    const label = k8sNodesLabel(runId);
    // The hosts (containers, routes, forwarders) first, then the Berth server with the kubelet settings they need,
    // then its hosts:add of each. Its app pods go to this run's nodes only: the nodes' label as the node selector,
    // their taint tolerated (what an installation with nodes of its own in a shared cluster sets).
    // Everything is awaited, failed or not, so after() finds each process that did start.
    const results = await Promise.allSettled([
      prepareK8sNodes(kubeconfig, 2, { registry: registry.address, runId }).then((p) => { prepared = p; }),
      startWebhookReceiver().then((h) => { hook = h; }),
      startCaddy().then((c) => { caddy = c; }),
    ]);
    for (const result of results) if (result.status === 'rejected') throw result.reason;
    nodeImage = `${prepared.registry}/berth-test/echo:1`;
    const hostsReadyMs = Date.now() - started;
    berth = await startBerth(caddy, {
      ...prepared.berthEnv,
      BERTH_KUBECONFIG: kubeconfig, BERTH_K8S_NAMESPACE: berthNamespace, BERTH_DEFAULT_SCHEDULER: 'k3s',
      // Berth pushes the app's image to this test's registry; the nodes pull it through the forwarder
      // (prepared.berthEnv's BERTH_REGISTRY_ADVERTISE, the name images are spelled with).
      BERTH_REGISTRY: registry.address,
      BERTH_K8S_NODE_SELECTOR: `${label.key}=${label.value}`,
      BERTH_K8S_TOLERATIONS: `${ISOLATED_TAINT.key}=${ISOLATED_TAINT.value}:${ISOLATED_TAINT.effect}`,
      BERTH_WEBHOOK_ALLOW: '127.0.0.0/8', // the alert receiver is on loopback
      BERTH_ALERTS_TICK_MS: '1000',
      // The first deploy pulls the app's image onto each new node through this test's forwarder.
      BERTH_HEALTH_TIMEOUT: '60',
    });
    const berthUpMs = Date.now() - started;
    nodes = await joinK8sNodes(prepared, kubeconfig, berth);
    const joinedMs = Date.now() - started;
    console.log(`hosts ready after ${hostsReadyMs} ms, the Berth server up after ${berthUpMs} ms; 2 nodes joined by hosts:add and Ready after ` +
      `${joinedMs} ms (${nodes.nodes.map((n) => `${n.name}: hosts:add ${n.joinMs} ms`).join(', ')})`);
    await clusterApi(kubeconfig).core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  after(async () => {
    for (const load of loads) await load.stop(); // a failed assertion leaves its load running
    await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
    await berth?.kill('SIGTERM');
    await caddy?.stop();
    await hook?.close();
    await deleteNamespace(kubeconfig, namespace);
    await deleteNamespace(kubeconfig, berthNamespace);
    await prepared?.remove();
    await registry?.stop();
    if (image) await docker(['rmi', image], { allowFail: true });
  });

  /** The app's live web pods (not terminating) that are ready, by node. */
  const readyWebPods = async (): Promise<Map<string, string[]>> => {
    const list = await clusterApi(kubeconfig).core.listNamespacedPod({ namespace: berthNamespace, labelSelector: `berth.app=${app},berth.process=web` });
    const byNode = new Map<string, string[]>();
    for (const pod of list.items) {
      if (pod.metadata?.deletionTimestamp || !pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
      byNode.set(pod.spec!.nodeName!, [...(byNode.get(pod.spec!.nodeName!) ?? []), pod.metadata!.name!]);
    }
    return byNode;
  };
  const count = (byNode: Map<string, string[]>) => [...byNode.values()].reduce((n, pods) => n + pods.length, 0);
  const describePods = (byNode: Map<string, string[]>) => JSON.stringify(Object.fromEntries(byNode));
  /** 3 ready instances, over both of this run's nodes (none elsewhere, no node with all). */
  const spread = async () => {
    const byNode = await readyWebPods();
    return count(byNode) === 3 && byNode.size === 2 && [...byNode.keys()].every((n) => nodes.nodes.some((x) => x.name === n)) ? byNode : undefined;
  };
  /** The node running most of the app's instances. */
  const busiest = (byNode: Map<string, string[]>) => nodes.nodes.map((n) => ({ node: n, pods: byNode.get(n.name) ?? [] })).sort((a, b) => b.pods.length - a.pods.length)[0];
  const startLoad = async () => {
    const load = pacedRequests(caddy.httpPort, hostname);
    loads.add(load);
    await until('a first answer through Caddy', 10_000, async () => (load.succeeded() > 0 ? true : undefined), 50);
    return load;
  };
  const stopLoad = async (load: PacedRequests) => {
    await load.stop();
    loads.delete(load);
  };

  it('hosts:add --role kubelet joins each node: every task applied, the node Ready, tainted, labelled, its pods recorded', async () => {
    for (const node of nodes.nodes) {
      // A fresh host: its files and services are put in place; the node may be Ready by the time the last task looks.
      assert.deepEqual(node.report.filter((l) => l.status === 'failed'), []);
      for (const task of ['SSH key authorized', 'kube-hyperkube', 'files', 'running', 'spec.podCIDR']) {
        assert.equal(node.report.find((l) => l.task.includes(task))?.status, 'changed', JSON.stringify(node.report));
      }
      assert.ok(node.report.some((l) => l.task.includes('joined')), JSON.stringify(node.report));
      assert.match(node.report.at(-1)!.task, new RegExp(`registered with Berth as host "${node.name}" \\(kubelet\\)`));
      const object = await clusterApi(kubeconfig).core.readNode({ name: node.name });
      assert.equal(object.spec?.podCIDR, node.podCidr);
      assert.equal(object.metadata?.labels?.[nodes.label.key], nodes.label.value);
      // (node.kubernetes.io/not-ready may still be there for a moment after the node turned Ready.)
      const taints = object.spec?.taints?.map((t) => `${t.key}=${t.value}:${t.effect}`) ?? [];
      assert.ok(taints.includes(`${ISOLATED_TAINT.key}=${ISOLATED_TAINT.value}:${ISOLATED_TAINT.effect}`), taints.join(', '));
      assert.equal(object.status?.addresses?.find((a) => a.type === 'InternalIP')?.address, node.address);
    }
  });

  it('a second hosts:add of a node changes nothing (every task ok, its pod range kept without podCidr); bad pod ranges are refused', async () => {
    const [first, second] = nodes.nodes;
    const started = Date.now();
    const again = await addHostVia(berth, prepared.addBody(first.host, { podCidr: undefined }));
    console.log(`# k8s kubelet hosts:add again: ${Date.now() - started} ms, ${again.lines.length} tasks`);
    assert.equal(again.summary?.succeeded, true, describeReport(again));
    assert.deepEqual(again.lines.filter((l) => l.status !== 'ok'), [], describeReport(again));
    assert.equal(again.summary?.changed, 0);
    assert.ok(again.lines.some((l) => l.task.includes(first.podCidr)), describeReport(again));
    // Refused before anything runs (JSON, no stream): another node's range, a changed range, one outside the cluster's,
    // none while a node records none.
    const refusals: [Record<string, unknown>, number, string][] = [
      [prepared.addBody(first.host, { name: 'kubelet-extra', podCidr: second.podCidr }), 409, 'pod_cidr_taken'],
      [prepared.addBody(first.host, { podCidr: '10.250.200.0/24' }), 409, 'pod_cidr_fixed'],
      [prepared.addBody(first.host, { name: 'kubelet-extra', podCidr: '10.251.0.0/24' }), 422, 'invalid_pod_cidr'],
      [prepared.addBody(first.host, { name: 'kubelet-extra', podCidr: '10.250.200.7/24' }), 422, 'invalid_pod_cidr'],
      [prepared.addBody(first.host, { name: 'kubelet-extra', podCidr: '10.250.200.0/24; id' }), 422, 'invalid_pod_cidr'],
      // The kit's own node records no range (no allocate-node-cidrs): a new node's default cannot avoid it.
      [prepared.addBody(first.host, { name: 'kubelet-extra', podCidr: undefined }), 422, 'pod_cidr_required'],
    ];
    for (const [body, status, error] of refusals) {
      const res = await addHostVia(berth, body);
      assert.deepEqual([res.status, JSON.parse(res.raw).error], [status, error], `${JSON.stringify(body.podCidr)}: ${res.raw}`);
    }
  });

  it('spreads 3 replicas over the nodes, and a NodePort on 127.0.0.1 and on every node reaches each of them', async () => {
    const { apps, core } = clusterApi(kubeconfig);
    const labels = { app: 'echo' };
    await apps.createNamespacedDeployment({ namespace, body: {
      metadata: { name: 'echo' },
      spec: {
        replicas: 3, selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            tolerations: [{ ...ISOLATED_TAINT, operator: 'Equal' }],
            affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [
              { matchExpressions: [{ key: nodes.label.key, operator: 'In', values: [nodes.label.value] }] }] } } },
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: labels } }],
            containers: [{ name: 'echo', image: nodeImage, ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }],
          },
        },
      },
    } });
    const service = await core.createNamespacedService({ namespace, body: {
      metadata: { name: 'echo' }, spec: { type: 'NodePort', selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
    } });
    const nodePort = service.spec!.ports![0].nodePort!;
    const pods = await until('3 echo pods ready', 60_000, async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector: 'app=echo' });
      const ready = list.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === 3 ? ready : undefined;
    }, 500);
    const byNode = new Map<string, string[]>();
    for (const p of pods) byNode.set(p.spec!.nodeName!, [...(byNode.get(p.spec!.nodeName!) ?? []), p.metadata!.name!]);
    assert.deepEqual([...byNode.keys()].sort(), nodes.nodes.map((n) => n.name), `pods per node: ${JSON.stringify([...byNode])}`);
    const names = pods.map((p) => p.metadata!.name!).sort();
    // The kit's node (127.0.0.1) and each new node's own kube-proxy route to pods on the other nodes.
    for (const address of ['127.0.0.1', ...nodes.nodes.map((n) => n.address)]) {
      const seen = await until(`service ready on ${address}:${nodePort}`, 20_000, async () => ((await podsAnswering(address, nodePort, names, 1)).size ? true : undefined), 500)
        .then(() => podsAnswering(address, nodePort, names));
      assert.deepEqual([...seen].sort(), names, `pods answering on ${address}:${nodePort}`);
    }
    // Its work is done: the nodes carry only Berth's app from here on.
    await apps.deleteNamespacedDeployment({ name: 'echo', namespace });
  });

  it('Berth spreads an app\'s 3 web instances over the two nodes, and only there; each answers through Caddy', async () => {
    await berth.ok('POST', '/apps', { name: app, scheduler: 'k3s' });
    await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 3 }] }); // stored: one rollout of three
    await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
    const byNode = await until('3 ready instances over both nodes', 30_000, spread).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${describePods(await readyWebPods())}`);
    });
    // Berth's own view of the nodes says the same; the kit's node (no label, no toleration) runs none of them.
    const { nodes: views } = await berth.ok('GET', '/hosts/nodes') as NodeList;
    for (const view of views) assert.equal(view.berthPods, byNode.get(view.name)?.length ?? 0, `${view.name}: ${JSON.stringify(views)}`);
    const pods = [...byNode.values()].flat().sort();
    const served = new Set<string>();
    for (let i = 0; i < 60 && served.size < 3; i++) served.add((await viaRouter(caddy.httpPort, hostname)).body.match(/ (\S+) greeting=/)?.[1] ?? '?');
    assert.deepEqual([...served].sort(), pods, 'every instance answers through Caddy (DYNO is the pod\'s name)');
  });

  it('hosts:drain moves a node\'s instances to the other without one failed request; undrain; a restart spreads them again', async () => {
    const { node, pods: onNode } = busiest(await readyWebPods());
    const load = await startLoad();
    const started = Date.now();
    const drained = await berth.ok('POST', `/hosts/${node.name}/drain`);
    const tookMs = Date.now() - started;
    await sleep(1000);
    await stopLoad(load);
    console.log(`# k8s drain: ${node.name} with ${onNode.length} of 3 instances, ${seconds(tookMs)} s, ${load.total()} requests, ${load.failures.length} failed; ` +
      `${loadAverage()}` + (load.failures.length ? ` (${describeFailures(load.failures, started)})` : ''));
    assert.equal(drained.done, true, drained.log.join('\n'));
    assert.equal(drained.moved, onNode.length, drained.log.join('\n'));
    const after = await readyWebPods();
    assert.deepEqual([count(after), after.has(node.name)], [3, false], describePods(after));
    assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.total()} requests failed during the drain`);
    assert.equal((await clusterApi(kubeconfig).core.readNode({ name: node.name })).spec?.unschedulable, true, 'cordoned');
    await berth.ok('DELETE', `/hosts/${node.name}/drain`);
    assert.ok(!(await clusterApi(kubeconfig).core.readNode({ name: node.name })).spec?.unschedulable, 'uncordoned');
    // Instances are not moved back by an undrain; a rolling restart places each new pod by the spread constraint.
    await berth.ok('POST', `/apps/${app}/ps/restart`, {});
    await until('3 ready instances over both nodes again', 60_000, spread).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${describePods(await readyWebPods())}`);
    });
  });

  it('a node cut off the network: requests stop failing within 30 s, 3 instances run elsewhere within 60 s, host_down fires', async () => {
    const { node, pods: onNode } = busiest(await readyWebPods());
    lostNode = node;
    await berth.ok('POST', `/apps/${app}/alerts`, { rule: 'host_down', webhook: hook.url, format: 'slack' });
    const load = await startLoad();
    const cutAt = Date.now();
    // (The server's log may already say the node was lost: while it joined, before it was Ready.)
    const logBefore = berth.output.length;
    await nodes.network.disconnect(node.host);
    // Berth judges it lost from its lease (node-view.ts), routes around its pods and replaces them (lost-plan.ts).
    const lostAt = await until(`${node.name} judged lost`, 60_000, async () => (berth.output.includes(`node ${node.name} is lost`, logBefore) ? Date.now() : undefined));
    const capacityAt = await until('3 ready instances, none on the lost node', 90_000, async () => {
      const byNode = await readyWebPods();
      return count(byNode) === 3 && !byNode.has(node.name) ? Date.now() : undefined;
    }).catch(async (err) => { throw new Error(`${(err as Error).message}: ${describePods(await readyWebPods())}`); });
    await sleep(2000);
    await stopLoad(load);
    const lastFailure = load.failures.reduce<number | null>((last, f) => Math.max(last ?? 0, f.sent), null);
    const healedMs = lastFailure === null ? 0 : lastFailure - cutAt;
    const capacityMs = capacityAt - cutAt;
    console.log(`# k8s node lost: ${node.name} with ${onNode.length} of 3 instances; ${load.failures.length} of ${load.total()} requests failed, ` +
      `healed ${seconds(healedMs)} s after the cut (the last failing request was sent then); judged lost after ${seconds(lostAt - cutAt)} s; ` +
      `capacity back after ${seconds(capacityMs)} s; ${loadAverage()}` + (load.failures.length ? ` (${describeFailures(load.failures, cutAt)})` : ''));
    // Once Berth has dropped the node from the app's DNS (Caddy asks it every 100 ms), no new request goes there.
    const afterRouted = load.failures.filter((f) => f.sent > lostAt + 1000);
    assert.deepEqual(afterRouted, [], 'no request sent after the node left the route failed');
    assert.ok(healedMs <= 30_000, `requests still failed ${healedMs} ms after the cut`);
    assert.ok(capacityMs <= 60_000, `capacity came back only after ${capacityMs} ms`);
    const notice = await until('the host_down alert', 30_000, async () => hook.bodies.find((b) => b.includes(node.name)));
    assert.match(JSON.parse(notice).text, new RegExp(`FIRING: \`host_down\` \\(host\\(s\\) down: [^)]*${node.name}`));
    const { nodes: views } = await berth.ok('GET', '/hosts/nodes') as NodeList;
    assert.notEqual(views.find((v) => v.name === node.name)?.readiness, 'Ready');
  });

  it('hosts:remove of the lost node: its instances already run elsewhere, the Node object goes; an unknown node is a JSON 404', async () => {
    assert.ok(lostNode, 'the node-loss case ran');
    const removed = await berth.ok('DELETE', `/hosts/${lostNode.name}`);
    assert.equal(removed.deleted, lostNode.name, removed.log.join('\n'));
    // It does not answer over SSH: the uninstall fails and is reported; the node leaves the cluster all the same.
    assert.ok(removed.log.some((l: string) => l.includes(`The kubelet node on ${lostNode!.address} could not be uninstalled`)), removed.log.join('\n'));
    assert.ok(removed.log.some((l: string) => /^failed +the host answers over SSH/.test(l)), removed.log.join('\n'));
    assert.ok(!removed.log.some((l: string) => /^ok /.test(l)), `nothing is reported ok on a host that does not answer: ${removed.log.join('\n')}`);
    assert.equal(await clusterApi(kubeconfig).core.readNode({ name: lostNode.name }).then(() => 'there', () => 'gone'), 'gone');
    const { nodes: views } = await berth.ok('GET', '/hosts/nodes') as NodeList;
    assert.equal(views.find((v) => v.name === lostNode!.name), undefined);
    assert.equal(count(await readyWebPods()), 3);
    const again = await berth.api('DELETE', `/hosts/${lostNode.name}`);
    assert.deepEqual([again.status, again.body.error], [404, 'host_not_found']);
  });
  it('hosts:remove of the other node (the app gone, so nothing to move) uninstalls it: no kubelet runs there, its files are gone', async () => {
    const node = nodes.nodes.find((n) => n.name !== lostNode?.name)!;
    await berth.ok('DELETE', `/apps/${app}`, { confirm: app });
    // The node's processes: kubelet, kube-proxy, containerd, its shims and the pods' (pause and the app). Bracketed, so
    // the shell running pgrep (whose command line holds the pattern) is not one of them.
    const running = 'pgrep -f "[k]ube-hyperkube|[c]ontainerd|/[p]ause|/[e]cho" || true';
    assert.notEqual((await node.host.sh(running)).trim(), '', 'the node runs before');
    const started = Date.now();
    const removed = await berth.ok('DELETE', `/hosts/${node.name}`);
    console.log(`# k8s kubelet hosts:remove (drain, Node deleted, uninstalled): ${Date.now() - started} ms`);
    const log = removed.log.join('\n');
    assert.match(log, /Node .* deleted from the cluster/);
    assert.doesNotMatch(log, /could not be uninstalled|failed/, log);
    for (const task of ['containers of the node removed', 'stopped and disabled', 'iptables rules', 'files removed']) {
      assert.ok(removed.log.some((l: string) => l.includes(task) && /^(changed|ok) /.test(l)), `${task}: ${log}`);
    }
    assert.equal((await node.host.sh(running)).trim(), '', 'nothing of the node runs any more');
    assert.equal((await node.host.sh('ls -d /etc/berth-kubelet /usr/local/bin/kube-hyperkube /usr/local/sbin/berth-kubelet /run/berth-kubelet 2>/dev/null || true')).trim(), '');
    assert.equal((await node.host.sh('ls -A /var/lib/berth-kubelet; ip link show berth-cni0 2>/dev/null; iptables -t nat -S | grep -c "berth-kubelet\\|KUBE-" || true')).trim(), '0');
    assert.equal(await clusterApi(kubeconfig).core.readNode({ name: node.name }).then(() => 'there', () => 'gone'), 'gone');
    const { nodes: views } = await berth.ok('GET', '/hosts/nodes') as NodeList;
    assert.equal(views.find((v) => v.name === node.name), undefined);
  });
});
