// The test cluster (../shared/k8s, started once by .ci/run and scripts/test.sh): its kubeconfig comes as
// BERTH_TEST_KUBECONFIG. Without it the Kubernetes tests skip on a developer machine, but fail in CI.
import * as k8s from '@kubernetes/client-node';
import fs from 'node:fs';

/** The kubeconfig path, or a reason to skip; in CI a missing cluster is an error, never a skip. */
export function testKubeconfig(): { path: string; skip: false } | { path: null; skip: string } {
  const path = process.env.BERTH_TEST_KUBECONFIG;
  if (path && fs.existsSync(path)) return { path, skip: false };
  const why = path ? `BERTH_TEST_KUBECONFIG=${path} does not exist` : 'BERTH_TEST_KUBECONFIG is not set (start ../shared/k8s/start.sh)';
  if (process.env.CI === 'true') throw new Error(`the Kubernetes test cluster is missing in CI: ${why}`);
  return { path: null, skip: why };
}

/** A namespace name for one test run. */
export const testNamespace = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

/** Direct API access for the tests' own checks (what is left in a namespace). */
export function clusterApi(kubeconfigPath: string) {
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return { core: config.makeApiClient(k8s.CoreV1Api), apps: config.makeApiClient(k8s.AppsV1Api), batch: config.makeApiClient(k8s.BatchV1Api) };
}

/** Names of everything of one app left in a namespace: pods, Deployments, Services, Secrets, Jobs. */
export async function leftovers(kubeconfigPath: string, namespace: string, app: string): Promise<string[]> {
  const api = clusterApi(kubeconfigPath);
  const labelSelector = `berth.app=${app}`;
  const lists = await Promise.all([
    api.core.listNamespacedPod({ namespace, labelSelector }).then((l) => l.items.map((o) => `pod/${o.metadata?.name}`)),
    api.apps.listNamespacedDeployment({ namespace, labelSelector }).then((l) => l.items.map((o) => `deployment/${o.metadata?.name}`)),
    api.core.listNamespacedService({ namespace, labelSelector }).then((l) => l.items.map((o) => `service/${o.metadata?.name}`)),
    api.core.listNamespacedSecret({ namespace, labelSelector }).then((l) => l.items.map((o) => `secret/${o.metadata?.name}`)),
    api.batch.listNamespacedJob({ namespace, labelSelector }).then((l) => l.items.map((o) => `job/${o.metadata?.name}`)),
  ]);
  return lists.flat();
}

/** Deletes a test namespace (its objects go with it, in the background). */
export async function deleteNamespace(kubeconfigPath: string, namespace: string): Promise<void> {
  await clusterApi(kubeconfigPath).core.deleteNamespace({ name: namespace }).catch(() => {});
}
