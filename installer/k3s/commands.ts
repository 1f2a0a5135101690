// The shell commands the k3s tasks run on a host, and the service definitions they write. Pure functions:
// what runs where is decided here, the tasks only sequence them (and tests can read them).
import type { K3sRole } from './config.ts';
import { shq, writeFileCommand as writeFile } from '../files.ts';

export { sha256Command, shq } from '../files.ts';

export const K3S_BIN = '/usr/local/bin/k3s';
export const K3S_ETC = '/etc/rancher/k3s';
export const CONFIG_FILE = `${K3S_ETC}/config.yaml`;
export const REGISTRIES_FILE = `${K3S_ETC}/registries.yaml`;
export const ADMIN_KUBECONFIG = `${K3S_ETC}/k3s.yaml`;
export const NODE_TOKEN_FILE = '/var/lib/rancher/k3s/server/node-token';
export const AIRGAP_IMAGES_DIR = '/var/lib/rancher/k3s/agent/images';
/** Agents have no admin kubeconfig; the kubelet's own credentials may read Node objects. */
export const KUBELET_KUBECONFIG = '/var/lib/rancher/k3s/agent/kubelet.kubeconfig';
/** Present while a file k3s reads at start has changed since the service (re)started: survives a failed run. */
export const RESTART_MARKER = `${K3S_ETC}/.berth-restart-needed`;
/** Without systemd (containers) the service is this script, started detached with a pid file. */
export const LAUNCHER = '/usr/local/sbin/berth-k3s';
export const DEFAULT_INSTALL_SCRIPT_URL = 'https://get.k3s.io';

/** The official installer's names: k3s.service for servers, k3s-agent.service for agents. */
export function serviceName(role: K3sRole): string {
  return role === 'server' ? 'k3s' : 'k3s-agent';
}

export function unitPath(role: K3sRole): string {
  return `/etc/systemd/system/${serviceName(role)}.service`;
}

export function pidFile(role: K3sRole): string {
  return `/run/${serviceName(role)}.pid`;
}

export function logFile(role: K3sRole): string {
  return `/var/log/${serviceName(role)}.log`;
}

/** sd_booted(): systemd is PID 1 exactly when this directory exists. */
export const HAS_SYSTEMD = 'test -d /run/systemd/system';

/** Writes stdin to path atomically (see installer/files.ts) and marks the k3s service for a restart. */
export function writeFileCommand(path: string, mode: string, opts: { base64?: boolean } = {}): string {
  return writeFile(path, mode, { ...opts, marker: RESTART_MARKER });
}

export interface InstallScriptCommandInput {
  role: K3sRole;
  /** Run the official script from this URL (downloaded first, so a failed download fails the task)... */
  url?: string;
  /** ...or from this path on the host, with the binary already in place (air-gapped). */
  localPath?: string;
  version?: string;
}

/**
 * The official installer, told not to start k3s (the service task starts it once the config files are in
 * place) and with nothing but the role on the command line: every setting is in config.yaml.
 */
export function installScriptCommand({ role, url, localPath, version }: InstallScriptCommandInput): string {
  const env = [`INSTALL_K3S_EXEC=${role}`, 'INSTALL_K3S_SKIP_START=true'];
  if (localPath) env.push('INSTALL_K3S_SKIP_DOWNLOAD=true');
  else if (version) env.push(`INSTALL_K3S_VERSION=${shq(version)}`);
  const run = (script: string) => `${env.join(' ')} sh ${shq(script)}`;
  if (localPath) return run(localPath);
  const tmp = '/tmp/berth-k3s-install.sh';
  return `curl -sfL --retry 3 -o ${tmp} ${shq(url ?? DEFAULT_INSTALL_SCRIPT_URL)} && ${run(tmp)}; rc=$?; rm -f ${tmp}; exit $rc`;
}

/** Berth's own systemd unit, for air-gapped installs without the official script: the settings k3s documents as needed. */
export function systemdUnit(role: K3sRole): string {
  return `# Written by Berth's installer: k3s ${role} without the official install script.
[Unit]
Description=Lightweight Kubernetes (k3s ${role})
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=${K3S_BIN} ${role}
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
`;
}

/** The launcher for hosts without systemd; it records its own pid, which exec hands on to k3s. */
export function launcherScript(role: K3sRole): string {
  return `#!/bin/sh
# Written by Berth's installer: starts k3s ${role} on a host without systemd.
modprobe br_netfilter 2>/dev/null || true
modprobe overlay 2>/dev/null || true
echo $$ > ${pidFile(role)}
exec ${K3S_BIN} ${role}
`;
}

/** True (exit 0) when the service runs. */
export function serviceActiveCommand(role: K3sRole, systemd: boolean): string {
  if (systemd) return `systemctl is-active --quiet ${serviceName(role)}`;
  const pid = pidFile(role);
  return `test -f ${pid} && kill -0 "$(cat ${pid})" 2>/dev/null && grep -q k3s "/proc/$(cat ${pid})/cmdline"`;
}

/** (Re)starts the service and clears the restart marker. */
export function serviceRestartCommand(role: K3sRole, systemd: boolean): string {
  const clear = `rm -f ${shq(RESTART_MARKER)}`;
  if (systemd) {
    const unit = serviceName(role);
    return `systemctl daemon-reload && systemctl enable --quiet ${unit} && systemctl restart ${unit} && ${clear}`;
  }
  const pid = pidFile(role);
  // Stop the old process (bounded wait), then start the launcher detached from the SSH session:
  // its own session, stdin from /dev/null, output to a log, so the command returns at once.
  const stop = `if ${serviceActiveCommand(role, false)}; then kill "$(cat ${pid})"; ` +
    `for i in $(seq 1 30); do kill -0 "$(cat ${pid})" 2>/dev/null || break; sleep 1; done; fi; rm -f ${pid}`;
  const start = `setsid ${LAUNCHER} </dev/null >>${logFile(role)} 2>&1 &`;
  const started = `for i in $(seq 1 20); do ${serviceActiveCommand(role, false)} && break; sleep 0.5; done`;
  return `${stop}; ${start} ${started}; ${serviceActiveCommand(role, false)} && ${clear}`;
}

/** Prints the node's Ready condition ("True" once joined and healthy). */
export function nodeReadyCommand(role: K3sRole, nodeName: string): string {
  const kubeconfig = role === 'agent' ? ` --kubeconfig ${KUBELET_KUBECONFIG}` : '';
  return `${K3S_BIN} kubectl${kubeconfig} get node ${shq(nodeName)} ` +
    `-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null`;
}

/** Waits (bounded) on the host itself for the node to be Ready: one SSH round trip, not one per poll. */
export function waitNodeReadyCommand(role: K3sRole, nodeName: string, timeoutSeconds: number): string {
  const tries = Math.max(1, Math.ceil(timeoutSeconds / 2));
  return `for i in $(seq 1 ${tries}); do [ "$(${nodeReadyCommand(role, nodeName)})" = True ] && exit 0; sleep 2; done; ` +
    `echo "node ${nodeName} not Ready after ${timeoutSeconds} s; last log lines:" >&2; ` +
    `(journalctl -u ${serviceName(role)} -n 20 --no-pager 2>/dev/null || tail -n 20 ${logFile(role)}) >&2; exit 1`;
}
