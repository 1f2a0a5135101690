// `kubelet` role: joins a host to an existing Kubernetes cluster as a plain node, from a kube-hyperkube
// binary and a pause image copied up (no download: air-gapped installs), with Debian's containerd, runc and
// CNI plugins. The node's client certificates are given (signed by the cluster's CA: see
// installer/kubelet/credentials.ts); the files are in installer/kubelet/config.ts. Idempotent like every
// installer task: a second run reports every line ok.
import type { Task, TaskContext } from '../task.ts';
import { filesTask, localFileTask, shq } from '../files.ts';
import { packagesTask } from './packages.ts';
import { hostAnswersTask } from './host-answers.ts';
import {
  CNI_BRIDGE, CONTAINERD_SOCK, HYPERKUBE, LAUNCHER, LOG_DIR, MASQUERADE_TAG, NODE_DIR, PACKAGES, PAUSE_TAR, RESTART_MARKER, RUN_DIR,
  STATE_DIR, UNIT, nodeFiles, systemdUnit, validateKubeletOptions, type KubeletNodeOptions,
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

// ------------------------------------------------------------------------------------------------------
// Uninstall (hosts:remove, after the Node left the cluster)

const CTR = `ctr -a ${CONTAINERD_SOCK} -n k8s.io`;
const TABLES = 'nat filter mangle';
/** Prints every KUBE-* chain and tagged rule left in the host's tables (v4 and v6); nothing when clean. */
const IPTABLES_LEFT = `for ipt in iptables ip6tables; do for t in ${TABLES}; do ` +
  `$ipt -w -t $t -S 2>/dev/null | grep -E -- '^-N KUBE-|--comment ${MASQUERADE_TAG}'; done; done`;
/** What kubeletNodeTasks put on the host (Debian's packages stay: other software may use them). */
const INSTALLED = [UNIT, LAUNCHER, HYPERKUBE, PAUSE_TAR, NODE_DIR, RUN_DIR, LOG_DIR];

/**
 * Takes the node off the host (after a check that it answers at all): its pods' containers killed and deleted through the node's own containerd (their
 * network namespaces with them), the services stopped and disabled, kube-proxy's iptables chains, the tagged
 * masquerade rule and the CNI bridge removed, leftover mounts under the node's dirs unmounted, and every file
 * and dir the install wrote deleted. Each step is a task whose check looks at the host, so a second run (or a
 * run on a host never installed) reports ok.
 */
export function kubeletNodeUninstallTasks(): Task[] {
  return [
    hostAnswersTask(), // the checks below read a failed command as "nothing there"
    {
      name: `pods' containers of the node removed (${CONTAINERD_SOCK})`,
      hint: `list them with \`${CTR} containers ls\` on the host`,
      async check(ctx) {
        const listed = await ctx.run(`test -S ${CONTAINERD_SOCK} && ${CTR} containers ls -q`, { allowFail: true });
        return listed.code !== 0 || listed.stdout.trim() === '';
      },
      async apply(ctx) {
        // The sandboxes' network namespaces are named in their specs; they go once the containers are gone.
        await ctx.run([
          `if test -x ${LAUNCHER}; then ${LAUNCHER} stop-kubelet; fi`, // nothing restarts what is killed next
          `netns=$(for id in $(${CTR} containers ls -q); do ${CTR} containers info "$id"; done | grep -o '/var/run/netns/cni-[0-9a-f-]*' | sort -u)`,
          `for id in $(${CTR} tasks ls -q); do ${CTR} tasks kill -s SIGKILL "$id" 2>/dev/null; done`,
          `for id in $(${CTR} tasks ls -q); do for i in $(seq 1 20); do ${CTR} tasks delete "$id" >/dev/null 2>&1 && break; sleep 0.25; done; done`,
          `for id in $(${CTR} containers ls -q); do ${CTR} containers delete "$id"; done`,
          'for ns in $netns; do umount "$ns" 2>/dev/null; rm -f "$ns"; done',
        ].join('\n'));
      },
    },
    {
      name: 'containerd, kubelet and kube-proxy stopped and disabled',
      async check(ctx) {
        const running = await ctx.run(`test -x ${LAUNCHER} && ${LAUNCHER} running`, { allowFail: true });
        const unit = await ctx.run(`test -d /run/systemd/system && systemctl is-enabled --quiet berth-kubelet`, { allowFail: true });
        return running.code !== 0 && unit.code !== 0;
      },
      async apply(ctx) {
        await ctx.run([
          'if test -d /run/systemd/system; then systemctl disable --now --quiet berth-kubelet 2>/dev/null || true; fi',
          `${LAUNCHER} stop`,
        ].join('\n'));
      },
    },
    {
      name: `the node's iptables rules (KUBE-* chains, ${MASQUERADE_TAG}) and bridge ${CNI_BRIDGE} removed`,
      async check(ctx) {
        return (await ctx.run(IPTABLES_LEFT, { allowFail: true })).stdout.trim() === '' &&
          (await ctx.run(`ip link show ${CNI_BRIDGE}`, { allowFail: true })).code !== 0;
      },
      async apply(ctx) {
        await ctx.run([
          `if test -x ${HYPERKUBE}; then ${HYPERKUBE} kube-proxy --cleanup >/dev/null 2>&1 || true; fi`,
          // What the cleanup leaves (the kubelet's canary chains, the marks): every jump to a KUBE-* chain, then the chains.
          `for ipt in iptables ip6tables; do for t in ${TABLES}; do`,
          `  $ipt -w -t $t -S 2>/dev/null | grep -E -- '^-A [^K][^ ]* .*(-j KUBE-|--comment ${MASQUERADE_TAG})' | sed 's/^-A //' | while read -r rule; do eval "$ipt -w -t $t -D $rule"; done`,
          `  chains=$($ipt -w -t $t -S 2>/dev/null | sed -n 's/^-N \\(KUBE-[^ ]*\\)$/\\1/p')`,
          '  for c in $chains; do $ipt -w -t $t -F "$c"; done; for c in $chains; do $ipt -w -t $t -X "$c"; done',
          'done; done',
          `ip link del ${CNI_BRIDGE} 2>/dev/null || true`,
        ].join('\n'));
      },
    },
    {
      name: `the node's files removed (${[...INSTALLED, STATE_DIR].join(', ')})`,
      hint: 'a mount under the node\'s dirs may still be busy: see `grep berth-kubelet /proc/mounts` on the host',
      async check(ctx) {
        const left = await ctx.run(`for f in ${INSTALLED.join(' ')}; do test -e "$f" && echo "$f"; done; ` +
          `test -d ${STATE_DIR} && ls -A ${STATE_DIR} | head -1; grep -c ' ${STATE_DIR}/' /proc/mounts`, { allowFail: true });
        const lines = left.stdout.split('\n').filter(Boolean);
        return lines.length === 1 && lines[0] === '0';
      },
      async apply(ctx) {
        // Deepest mounts first; the state dir may itself be a mount point (then it stays, empty).
        await ctx.run([
          `grep -o ' \\(${STATE_DIR}\\|${RUN_DIR}\\)/[^ ]*' /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done`,
          `rm -rf ${INSTALLED.join(' ')}`,
          `if test -d ${STATE_DIR}; then find ${STATE_DIR} -mindepth 1 -delete; rmdir ${STATE_DIR} 2>/dev/null || true; fi`,
          'if test -d /run/systemd/system; then systemctl daemon-reload; fi',
        ].join('\n'));
      },
    },
  ];
}
