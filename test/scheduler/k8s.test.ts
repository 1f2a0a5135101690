// The scheduler conformance suite against the Kubernetes (k3s) scheduler on the real test cluster
// (../shared/k8s, its kubeconfig in BERTH_TEST_KUBECONFIG), a namespace of its own per run.
import { schedulerConformance } from './conformance.case.ts';
import { deleteNamespace, leftovers, testKubeconfig, testNamespace } from './k8s-cluster.ts';

const cluster = testKubeconfig();
const namespace = testNamespace('berth-cf');

schedulerConformance(cluster.skip ? { name: 'k3s', skip: cluster.skip } : {
  name: 'k3s',
  serverEnv: async () => ({ BERTH_KUBECONFIG: cluster.path!, BERTH_K8S_NAMESPACE: namespace, BERTH_DEFAULT_SCHEDULER: 'docker' }),
  rolloutLine: /web: 1 of 1 ready\./,
  leftovers: (app) => leftovers(cluster.path!, namespace, app),
  cleanup: () => deleteNamespace(cluster.path!, namespace),
});
