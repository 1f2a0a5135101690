// `berth run` end to end on the Kubernetes (k3s) scheduler, against the real test cluster (../shared/k8s, its
// kubeconfig in BERTH_TEST_KUBECONFIG), a namespace of its own per run. The cases are in run.case.ts.
import { runSuite } from './run.case.ts';
import { clusterApi, deleteNamespace, testKubeconfig, testNamespace } from './scheduler/k8s-cluster.ts';

const cluster = testKubeconfig();
const namespace = testNamespace('berth-run');

runSuite(cluster.skip ? { name: 'k3s', skip: cluster.skip } : {
  name: 'k3s',
  serverEnv: async () => ({ BERTH_KUBECONFIG: cluster.path!, BERTH_K8S_NAMESPACE: namespace, BERTH_DEFAULT_SCHEDULER: 'docker' }),
  oneOffs: async (app) => (await clusterApi(cluster.path!).core.listNamespacedPod({ namespace, labelSelector: `berth.app=${app},berth.oneoff=1` }))
    .items.map((pod) => `pod/${pod.metadata?.name}`),
  orphanLine: (app) => new RegExp(`reconcile: removed one-off pod/${app}-run-1-[a-f0-9]+ \\(k3s\\)`),
  cleanup: () => deleteNamespace(cluster.path!, namespace),
});
