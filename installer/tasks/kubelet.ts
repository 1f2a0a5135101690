// `kubelet` role: joins a host to an existing Kubernetes cluster as a plain node, from a kube-hyperkube
// binary and a pause image copied up (no download: air-gapped installs), with Debian's containerd, runc and
// CNI plugins. The node's client certificates are given (signed by the cluster's CA: see
// installer/kubelet/credentials.ts); the files are in installer/kubelet/config.ts. Idempotent like every
// installer task: a second run reports every line ok.
import type { Task, TaskContext } from '../task.ts';
import { filesTask, localFileTask, shq } from '../files.ts';
import { packagesTask } from './packages.ts';
import {
  HYPERKUBE, LAUNCHER, LOG_DIR, NODE_DIR, PACKAGES, PAUSE_TAR, RESTART_MARKER, UNIT,
  nodeFiles, systemdUnit, validateKubeletOptions, type KubeletNodeOptions,
} from '../kubelet/config.ts';

export type { KubeletNodeOptions, NodeCredentials } from '../kubelet/config.ts';

const HAS_SYSTEMD = 'test -d /run/systemd/system';
const hasSystemd = async (ctx: TaskContext) => (await ctx.run(HAS_SYSTEMD, { allowFail: true })).code === 0;

export function kubeletNodeTasks(opts: KubeletNodeOptions): Task[] {
  validateKubeletOptions(opts);
  const marker = { marker: RESTART_MARKER };
  return [
    packagesTask(PACKAGES),
    localFileTask(`kube-hyperkube (kubelet, kube-proxy) at ${HYPERKUBE}`, opts.hyperkubeBinary, HYPERKUBE, '755', marker),
    localFileTask(`pause image ${opts.pauseImageRef} (${PAUSE_TAR})`, opts.pauseImage, PAUSE_TAR, '644', marker),
    filesTask(`node ${opts.nodeName} files (${NODE_DIR}: credentials, kubelet, kube-proxy, containerd, CNI ${opts.podCidr})`, nodeFiles(opts), {
      ...marker, hint: 'the files are written as root over SSH; check the disk is not full',
    }),
    serviceDefinitionTask(),
    serviceTask(),
    joinedTask(opts),
  ];
}

/** With systemd a unit runs the launcher at boot; without it the launcher is started directly. */
function serviceDefinitionTask(): Task {
  return {
    name: `service definition (${UNIT}, where systemd runs)`,
    async check(ctx) {
      if (!(await hasSystemd(ctx))) return true;
      return (await ctx.run(`cmp -s ${UNIT} - && systemctl is-enabled --quiet berth-kubelet`, { input: systemdUnit(), allowFail: true })).code === 0;
    },
    async apply(ctx) {
      await ctx.run(`cat > ${UNIT}.berth-new && mv -f ${UNIT}.berth-new ${UNIT} && systemctl daemon-reload && systemctl enable --quiet berth-kubelet && touch ${RESTART_MARKER}`,
        { input: systemdUnit() });
    },
  };
}

function serviceTask(): Task {
  return {
    name: 'containerd, kubelet and kube-proxy running with the current files',
    hint: `see ${LOG_DIR}/{containerd,kubelet,kube-proxy}.log on the host`,
    async check(ctx) {
      return (await ctx.run(`${LAUNCHER} status && ! test -e ${RESTART_MARKER}`, { allowFail: true })).code === 0;
    },
    async apply(ctx) {
      const restart = (await hasSystemd(ctx))
        ? 'systemctl restart berth-kubelet'
        : `${LAUNCHER} stop && ${LAUNCHER} start`;
      await ctx.run(`${restart} && rm -f ${RESTART_MARKER}`);
    },
  };
}

/** Prints the node's Ready status as the API server has it, asked with the node's own credentials. */
export function nodeReadyCommand(opts: KubeletNodeOptions): string {
  const api = new URL(opts.apiServer);
  const port = api.port || '443';
  const name = opts.apiServerName ?? api.hostname;
  const connect = opts.apiServerName ? `--connect-to ${shq(`${name}:${port}:${api.hostname}:${port}`)} ` : '';
  const url = `https://${name}:${port}/api/v1/nodes/${opts.nodeName}`;
  return `curl -s --max-time 5 ${connect}--cacert ${NODE_DIR}/ca.crt --cert ${NODE_DIR}/node.crt --key ${NODE_DIR}/node.key ${shq(url)} ` +
    `| tr -d ' \\n' | grep -o '"type":"Ready","status":"[A-Za-z]*"' | cut -d'"' -f8`;
}

function joinedTask(opts: KubeletNodeOptions): Task {
  const timeout = opts.joinTimeoutSeconds ?? 120;
  const ready = nodeReadyCommand(opts);
  return {
    name: `node ${opts.nodeName} joined ${opts.apiServer} and Ready`,
    hint: `check that the host reaches ${opts.apiServer} and that the node's certificates are signed by the cluster's CA; see ${LOG_DIR}/kubelet.log`,
    async check(ctx) { return (await ctx.run(ready, { allowFail: true })).stdout.trim() === 'True'; },
    async apply(ctx) {
      const tries = Math.max(1, Math.ceil(timeout / 2));
      await ctx.run(`for i in $(seq 1 ${tries}); do [ "$(${ready})" = True ] && exit 0; sleep 2; done; ` +
        `echo "node ${opts.nodeName} not Ready after ${timeout} s; last kubelet lines:" >&2; tail -n 20 ${LOG_DIR}/kubelet.log >&2; exit 1`);
    },
  };
}
