// More nodes for the Kubernetes test cluster: two node containers joined to the kit's API server by the
// installer's kubelet role over SSH (test/support/k8s-nodes.ts). A Deployment spread over them, a NodePort
// reaching its pods from every node, and a node that stops answering going NotReady.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { clusterApi, deleteNamespace, testKubeconfig, testNamespace } from './scheduler/k8s-cluster.ts';
import { ISOLATED_TAINT, startK8sNodes, waitNodesReady, type K8sNodes } from './support/k8s-nodes.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { docker } from './support/test-hosts.ts';

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

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

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
  let registry: TestRegistry;
  let nodes: K8sNodes;
  let image = '';

  before(async () => {
    registry = await startRegistry();
    image = `${registry.address}/berth-test/echo:1`;
    buildEcho(image);
    const started = Date.now();
    nodes = await startK8sNodes(kubeconfig, 2, { registries: [registry.address] });
    console.log(`2 nodes joined and Ready in ${Date.now() - started} ms (${nodes.nodes.map((n) => `${n.name}: installer ${n.joinMs} ms`).join(', ')})`);
    await clusterApi(kubeconfig).core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  after(async () => {
    await deleteNamespace(kubeconfig, namespace);
    await nodes?.remove();
    await registry?.stop();
    if (image) await docker(['rmi', image], { allowFail: true });
  });

  it('joins each node through the installer: every task applied, the node Ready and tainted', async () => {
    for (const node of nodes.nodes) {
      // A fresh host: its files and services are put in place; the node may be Ready by the time the last task looks.
      assert.deepEqual(node.report.filter((l) => l.status === 'failed'), []);
      for (const task of ['kube-hyperkube', 'files', 'running']) {
        assert.equal(node.report.find((l) => l.task.includes(task))?.status, 'changed', JSON.stringify(node.report));
      }
      assert.ok(node.report.some((l) => l.task.includes('joined')), JSON.stringify(node.report));
      const object = await clusterApi(kubeconfig).core.readNode({ name: node.name });
      // (node.kubernetes.io/not-ready may still be there for a moment after the node turned Ready.)
      const taints = object.spec?.taints?.map((t) => `${t.key}=${t.value}:${t.effect}`) ?? [];
      assert.ok(taints.includes(`${ISOLATED_TAINT.key}=${ISOLATED_TAINT.value}:${ISOLATED_TAINT.effect}`), taints.join(', '));
      assert.equal(object.status?.addresses?.find((a) => a.type === 'InternalIP')?.address, node.address);
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
            containers: [{ name: 'echo', image, ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }],
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
    });
    const byNode = new Map<string, string[]>();
    for (const p of pods) byNode.set(p.spec!.nodeName!, [...(byNode.get(p.spec!.nodeName!) ?? []), p.metadata!.name!]);
    assert.deepEqual([...byNode.keys()].sort(), nodes.nodes.map((n) => n.name), `pods per node: ${JSON.stringify([...byNode])}`);
    const names = pods.map((p) => p.metadata!.name!).sort();
    // The kit's node (127.0.0.1) and each new node's own kube-proxy route to pods on the other nodes.
    for (const address of ['127.0.0.1', ...nodes.nodes.map((n) => n.address)]) {
      const seen = await until(`service ready on ${address}:${nodePort}`, 20_000, async () => ((await podsAnswering(address, nodePort, names, 1)).size ? true : undefined))
        .then(() => podsAnswering(address, nodePort, names));
      assert.deepEqual([...seen].sort(), names, `pods answering on ${address}:${nodePort}`);
    }
  });

  it('a node that stops answering goes NotReady, and Ready again once it answers', async () => {
    const node = nodes.nodes[1];
    const core = clusterApi(kubeconfig).core;
    const readyStatus = async () => (await core.readNode({ name: node.name })).status?.conditions?.find((c) => c.type === 'Ready')?.status;
    const paused = Date.now();
    await docker(['pause', node.host.name]);
    try {
      const status = await until(`${node.name} NotReady`, 90_000, async () => { const s = await readyStatus(); return s !== 'True' ? s : undefined; });
      console.log(`${node.name} paused: Ready=${status} after ${Date.now() - paused} ms (the kit's node-monitor-grace-period is the default 40 s)`);
    } finally {
      await docker(['unpause', node.host.name]);
    }
    const resumed = Date.now();
    await waitNodesReady(kubeconfig, [node.name], 60_000);
    console.log(`${node.name} unpaused: Ready again after ${Date.now() - resumed} ms`);
  });
});
