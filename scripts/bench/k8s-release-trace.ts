// Where the time of one k3s release goes: a config change on an app of the Kubernetes scheduler, traced from the
// API call until the new release answers through Caddy. Everything is watched from outside Berth, with the
// arrival time of each event: the Secret and the Deployment Berth writes, the new pod's progress (created,
// scheduled, IP, container running, ready), the Service's endpoints, the app DNS name Caddy resolves (asked every
// 10 ms) and the first answer of the new release through Caddy (asked every 20 ms); then what the kubelet and
// containerd logged about the new pod (sandbox, container created and started, a Secret the kubelet could not
// read). Prints one timeline per release, in ms after the API call.
//   BERTH_TEST_KUBECONFIG=$(../shared/k8s/start.sh) node scripts/bench/k8s-release-trace.ts   (TRACE_ROUNDS=3, TRACE_GAP_MS=0, TRACE_CLIENTS=0,
//   TRACE_LOG_DIR=/var/tmp/berth-k8s/logs: the kit's kubelet.log and containerd.log)
import fs from 'node:fs';
import { Resolver } from 'node:dns/promises';
import * as k8s from '@kubernetes/client-node';
import { deleteNamespace } from '../../test/scheduler/k8s-cluster.ts';
import { underTraffic } from '../../test/support/traffic.ts';
import { TEST_IMAGE, firstSuccess, main, viaRouter, withStack } from './lib.ts';

const ROUNDS = Number(process.env.TRACE_ROUNDS ?? 3);
/** Pause between releases; the benchmark (scheduler-switch.ts) starts the next one as soon as the API returned: 0. */
const GAP_MS = Number(process.env.TRACE_GAP_MS ?? 0);
/** Keep-alive clients requesting the app through Caddy the whole time, as in the benchmark's second phase. */
const CLIENTS = Number(process.env.TRACE_CLIENTS ?? 0);
const LOGS = process.env.TRACE_LOG_DIR ?? '/var/tmp/berth-k8s/logs';
const kubeconfig = process.env.BERTH_TEST_KUBECONFIG;
const namespace = `berth-trace-${Date.now().toString(36)}`;

interface Mark { at: number; what: string }

main('k8s-release-trace', async () => {
  if (!kubeconfig) throw new Error('BERTH_TEST_KUBECONFIG is not set: start the test cluster (../shared/k8s/start.sh) and pass its kubeconfig');
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfig);
  const core = config.makeApiClient(k8s.CoreV1Api);
  try {
    await withStack({
      BERTH_KUBECONFIG: kubeconfig, BERTH_K8S_NAMESPACE: namespace, BERTH_DEFAULT_SCHEDULER: 'k3s',
      BERTH_DRAIN_SECONDS: '1', BERTH_STOP_TIMEOUT: '2',
    }, async (s) => {
      const app = s.app('trace');
      await s.berth.ok('POST', '/apps', { name: app, scheduler: 'k3s' });
      await s.berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
      await s.berth.ok('PATCH', `/apps/${app}/config`, { WARM: '1' });
      let marks: Mark[] = [];
      const mark = (what: string) => marks.push({ at: Date.now(), what });
      const stopWatches = await watchCluster(config, mark);
      const stopDns = pollDns(Number(s.berth.env.BERTH_DNS_PORT), `${app}.k3s.berth.internal`, mark);
      const rounds = async () => {
        for (let round = 1; round <= ROUNDS; round++) {
          const version = ((await s.berth.ok('GET', `/apps/${app}`)).currentRelease as number) + 1;
          marks = [];
          const t0 = Date.now();
          const served = firstSuccess(async () => (await viaRouter(s.caddy.httpPort, `${app}.localhost`)).body.startsWith(`hello from v${version} `), 20, 60_000);
          await s.berth.ok('PATCH', `/apps/${app}/config`, { TRACE_ROUND: String(round) });
          mark('API call returned');
          const at = await served;
          if (at !== null) marks.push({ at, what: `first answer of v${version} through Caddy` });
          await new Promise((r) => setTimeout(r, 200)); // the logs' writers
          const logged = [...kubeletLines(t0, marks), ...containerdLines(t0, marks), ...await appLines(core, marks)];
          printTimeline(`v${version} (round ${round}/${ROUNDS}, ${new Date(t0).toISOString()})`, t0, marks, logged);
          await new Promise((r) => setTimeout(r, GAP_MS));
        }
      };
      try {
        if (!CLIENTS) await rounds();
        else {
          const traffic = await underTraffic({ port: s.caddy.httpPort, host: `${app}.localhost`, clients: CLIENTS, maxMs: 10 * 60_000 }, rounds);
          console.log(`\nunder ${CLIENTS} clients' traffic: ${traffic.total} requests, ${traffic.failures.length} failed`);
        }
      } finally {
        stopWatches();
        stopDns();
        await s.berth.api('DELETE', `/apps/${app}`, { confirm: app });
      }
    });
  } finally {
    await deleteNamespace(kubeconfig, namespace);
  }
});

/** Watches the namespace's Secrets, Deployments, pods and endpoints; marks each change worth a line. */
async function watchCluster(config: k8s.KubeConfig, mark: (what: string) => void): Promise<() => void> {
  const watch = new k8s.Watch(config);
  const seen = new Map<string, string>();
  const podState = (pod: k8s.V1Pod): string[] => {
    const c = pod.status?.containerStatuses?.[0];
    const ready = pod.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True';
    return [
      pod.spec?.nodeName ? 'scheduled' : '',
      pod.status?.podIP ? `IP ${pod.status.podIP}` : '',
      c?.state?.waiting?.reason ? `waiting ${c.state.waiting.reason}${c.state.waiting.message ? ` (${c.state.waiting.message.slice(0, 80)})` : ''}` : '',
      c?.state?.running ? 'running' : '',
      ready ? 'READY' : '',
      pod.metadata?.deletionTimestamp ? 'terminating' : '',
    ].filter(Boolean);
  };
  const handlers: Record<string, (phase: string, obj: any) => void> = {
    secrets: (phase, obj) => mark(`secret ${obj.metadata.name} ${phase.toLowerCase()}`),
    deployments: (phase, obj) => {
      const key = `deploy/${obj.metadata.name}`;
      const gen = String(obj.metadata.generation);
      if (seen.get(key) !== gen) mark(`deployment ${obj.metadata.name} generation ${gen} (${phase.toLowerCase()})`);
      seen.set(key, gen);
    },
    pods: (phase, obj) => {
      const pod = obj as k8s.V1Pod;
      const key = `pod/${pod.metadata!.name}`;
      const before = new Set((seen.get(key) ?? '').split('|').filter(Boolean));
      const now = podState(pod);
      if (phase === 'ADDED' && !seen.has(key)) mark(`pod ${pod.metadata!.name} created`);
      for (const state of now) if (!before.has(state)) mark(`pod ${pod.metadata!.name} ${state}`);
      if (phase === 'DELETED') mark(`pod ${pod.metadata!.name} deleted`);
      seen.set(key, now.join('|'));
    },
    endpoints: (phase, obj) => {
      const ips = (obj.subsets ?? []).flatMap((s: any) => (s.addresses ?? []).map((a: any) => a.ip)).sort().join(',');
      const key = `ep/${obj.metadata.name}`;
      if (seen.get(key) !== ips) mark(`endpoints ready: ${ips || '(none)'}`);
      seen.set(key, ips);
    },
  };
  const requests: AbortController[] = [];
  for (const [kind, handle] of Object.entries(handlers)) {
    const group = kind === 'deployments' ? `/apis/apps/v1/namespaces/${namespace}` : `/api/v1/namespaces/${namespace}`;
    requests.push(await watch.watch(`${group}/${kind}`, {}, handle, () => {}));
  }
  return () => requests.forEach((r) => r.abort());
}

/** Asks the app DNS for the name every 10 ms; marks each change of its addresses. */
function pollDns(port: number, name: string, mark: (what: string) => void): () => void {
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  let last = '';
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    resolver.resolve4(name).then((ips) => ips.sort().join(','), () => '(none)').then((ips) => {
      if (ips !== last) mark(`app DNS: ${ips}`);
      last = ips;
    }).finally(() => { busy = false; });
  }, 10);
  return () => clearInterval(timer);
}

const newPods = (marks: Mark[]) => marks.map((m) => /^pod (\S+) created$/.exec(m.what)?.[1]).filter((p): p is string => Boolean(p));
const tail = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-4000) : []);

/** The kubelet's log lines since t0 that name the pods this release created (klog, UTC). */
function kubeletLines(t0: number, marks: Mark[]): Mark[] {
  const pods = newPods(marks);
  const year = new Date(t0).getUTCFullYear();
  const out: Mark[] = [];
  for (const line of tail(`${LOGS}/kubelet.log`)) {
    const m = /^[IWE](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})\s+\d+ (\S+)\] (.*)$/.exec(line);
    if (!m || !pods.some((p) => line.includes(p))) continue;
    const at = Date.UTC(year, Number(m[1]) - 1, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]) / 1000);
    if (at >= t0 - 1000) out.push({ at, what: `kubelet ${m[7]} ${m[8].slice(0, 150)}` });
  }
  return out;
}

/** What the new pods' app printed, stamped by the container runtime (the test app says when it listens). */
async function appLines(core: k8s.CoreV1Api, marks: Mark[]): Promise<Mark[]> {
  const out: Mark[] = [];
  for (const pod of newPods(marks)) {
    const log = await core.readNamespacedPodLog({ name: pod, namespace, timestamps: true, tailLines: 20 }).catch(() => '');
    for (const line of String(log).split('\n')) {
      const m = /^(\S+) (listening .*)$/.exec(line);
      if (m) out.push({ at: Date.parse(m[1]), what: `app: ${m[2]}` });
    }
  }
  return out;
}

/** containerd's steps for those pods: the sandbox, then its container created and started. */
function containerdLines(t0: number, marks: Mark[]): Mark[] {
  const pods = newPods(marks);
  const ids = new Set<string>();
  const out: Mark[] = [];
  for (const line of tail(`${LOGS}/containerd.log`)) {
    const m = /^time="([^"]+)" level=\w+ msg="(.*)"/.exec(line);
    if (!m) continue;
    const at = Date.parse(m[1]);
    const msg = m[2].replaceAll('\\"', '"');
    const pod = pods.find((p) => msg.includes(`Name:${p},`));
    const sandbox = /returns sandbox id "(\w+)"/.exec(msg)?.[1];
    if (pod && sandbox) ids.add(sandbox);
    const container = /returns container id "(\w+)"/.exec(msg)?.[1];
    if (container && [...ids].some((id) => msg.includes(id))) ids.add(container);
    if (at < t0 - 1000 || !(pod || [...ids].some((id) => msg.includes(id)))) continue;
    const step = /^(RunPodSandbox|CreateContainer|StartContainer)\b/.exec(msg)?.[1];
    if (step) out.push({ at, what: `containerd ${step}${/returns/.test(msg) ? ' returned' : ''}` });
  }
  return out;
}

function printTimeline(title: string, t0: number, marks: Mark[], kubelet: Mark[]): void {
  console.log(`\n${title}`);
  for (const m of [...marks, ...kubelet].sort((a, b) => a.at - b.at)) console.log(`${String(m.at - t0).padStart(6)} ms  ${m.what}`);
}
