// A plain Kubernetes node (kubelet + kube-proxy from one given kube-hyperkube binary, containerd, bridge
// CNI) joined to an existing API server: what the node is told, as file contents. Pure functions: the
// tasks (installer/tasks/kubelet.ts) only put these files in place. Every input is validated here, since
// each ends up in a YAML/TOML file, a certificate or a shell command on the host.
import net from 'node:net';
import { shq } from '../files.ts';
import { isLabelKey, isLabelValue } from '../kubernetes-labels.ts';

export interface NodeCredentials {
  /** PEM: the cluster CA (verifies the API server, and the API server's client certificate at the kubelet). */
  ca: string;
  /** PEM: CN system:node:NAME, O system:nodes (client and kubelet serving certificate). */
  nodeCert: string;
  nodeKey: string;
  /** PEM: CN system:kube-proxy. */
  proxyCert: string;
  proxyKey: string;
}

export interface KubeletNodeOptions {
  /** Local path of kube-hyperkube (holds kubelet and kube-proxy), copied up: no download. */
  hyperkubeBinary: string;
  /** Local path of the pause (sandbox) image as a docker-archive tarball, imported into the node's containerd. */
  pauseImage: string;
  /** The reference that tarball holds. */
  pauseImageRef: string;
  /** The API server as the node reaches it: https://HOST:PORT. */
  apiServer: string;
  /** A name in the API server's certificate, when apiServer's host is not one (a forwarder's address). */
  apiServerName?: string;
  credentials: NodeCredentials;
  nodeName: string;
  /** The node's InternalIP: where the kubelet listens and NodePorts answer. */
  nodeIp: string;
  /** This node's pods, e.g. 10.250.1.0/24 (routes to it are the network's job). */
  podCidr: string;
  /** Every node's pods (kube-proxy's clusterCIDR; pod traffic beyond it is masqueraded). */
  clusterCidr: string;
  /** Registry names as images spell them (host:port) -> the URL the node pulls them from (plain HTTP). */
  registryMirrors?: Record<string, string>;
  /** The mirrors' credential (Berth's registry once it requires one): sent as HTTP Basic auth with every pull. */
  registryAuth?: { username: string; password: string } | null;
  labels?: Record<string, string>;
  /** key=value:Effect, registered with the node. */
  taints?: string[];
  joinTimeoutSeconds?: number;
}

export const NODE_DIR = '/etc/berth-kubelet';
export const HYPERKUBE = '/usr/local/bin/kube-hyperkube';
export const PAUSE_TAR = '/usr/local/lib/berth/pause.tar';
export const LAUNCHER = '/usr/local/sbin/berth-kubelet';
export const UNIT = '/etc/systemd/system/berth-kubelet.service';
export const RUN_DIR = '/run/berth-kubelet';
export const LOG_DIR = '/var/log/berth-kubelet';
export const CONTAINERD_SOCK = `${RUN_DIR}/containerd.sock`;
export const STATE_DIR = '/var/lib/berth-kubelet';
export const CNI_BRIDGE = 'berth-cni0';
/** The comment on the node's own iptables rule (pods' traffic beyond the cluster masqueraded). */
export const MASQUERADE_TAG = 'berth-kubelet';
export const RESTART_MARKER = `${NODE_DIR}/.restart-needed`;
export const PACKAGES = ['containerd', 'runc', 'containernetworking-plugins', 'iptables', 'conntrack', 'iproute2', 'curl', 'ca-certificates'];

const DNS_LABELS = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const TAINT = /^([^=:\s]+)(?:=([^=:\s]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/;
const REGISTRY = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;
const PEM = /^-----BEGIN [A-Z ]+-----\n[A-Za-z0-9+/=\n]+-----END [A-Z ]+-----\n?$/;

/** Throws unless value is an IPv4 CIDR (ADDRESS/BITS); `what` names it in the message. */
export function checkCidr(value: string, what: string): void {
  const [ip, bits, extra] = value.split('/');
  if (extra !== undefined || !net.isIPv4(ip) || !/^\d{1,2}$/.test(bits ?? '') || Number(bits) > 32) {
    throw new Error(`${what} ${JSON.stringify(value)} is not an IPv4 CIDR like 10.250.1.0/24`);
  }
}

/** Throws unless value is a bare scheme://HOST[:PORT] URL (no path, query, user or password). */
export function checkHttpUrl(value: string, what: string, scheme: 'http:' | 'https:'): void {
  let url: URL;
  try { url = new URL(value); } catch { throw new Error(`${what} ${JSON.stringify(value)} is not a URL`); }
  if (url.protocol !== scheme || url.username || url.password || url.search || url.hash || !['', '/'].includes(url.pathname) || !REGISTRY.test(url.host.replace(/^\[|\]$/g, ''))) {
    throw new Error(`${what} ${JSON.stringify(value)} must be ${scheme}//HOST[:PORT]`);
  }
}

export const isDnsName = (value: string): boolean => DNS_LABELS.test(value);
export const isImageRef = (value: string): boolean => /^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?$/.test(value);
/** key[=value]:Effect, with Kubernetes' rules for the key and value. */
export function isTaint(value: string): boolean {
  const m = TAINT.exec(value);
  return !!m && isLabelKey(m[1]) && isLabelValue(m[2] ?? '');
}

/** Throws on the first input that could not safely go into the node's files. */
export function validateKubeletOptions(o: KubeletNodeOptions): void {
  if (!DNS_LABELS.test(o.nodeName)) throw new Error(`node name ${JSON.stringify(o.nodeName)} must be lowercase DNS labels`);
  if (!net.isIPv4(o.nodeIp)) throw new Error(`node IP ${JSON.stringify(o.nodeIp)} is not an IPv4 address`);
  checkHttpUrl(o.apiServer, 'API server', 'https:');
  if (o.apiServerName !== undefined && !isDnsName(o.apiServerName) && !net.isIP(o.apiServerName)) {
    throw new Error(`API server name ${JSON.stringify(o.apiServerName)} is not a DNS name or IP`);
  }
  checkCidr(o.podCidr, 'pod CIDR');
  checkCidr(o.clusterCidr, 'cluster CIDR');
  if (!isImageRef(o.pauseImageRef)) throw new Error(`pause image ${JSON.stringify(o.pauseImageRef)} is not an image reference`);
  for (const [name, url] of Object.entries(o.registryMirrors ?? {})) {
    if (!REGISTRY.test(name)) throw new Error(`registry ${JSON.stringify(name)} must be HOST[:PORT]`);
    checkHttpUrl(url, `mirror of ${name}`, 'http:');
  }
  for (const [key, value] of Object.entries(o.labels ?? {})) {
    if (!isLabelKey(key) || !isLabelValue(value)) throw new Error(`node label ${JSON.stringify(`${key}=${value}`)} is not a Kubernetes label`);
  }
  for (const taint of o.taints ?? []) {
    if (!isTaint(taint)) throw new Error(`taint ${JSON.stringify(taint)} must be key[=value]:NoSchedule|PreferNoSchedule|NoExecute`);
  }
  const auth = o.registryAuth;
  if (auth && (!/^[A-Za-z0-9._-]{1,64}$/.test(auth.username) || !/^[\x21-\x7e]{1,256}$/.test(auth.password))) {
    throw new Error('the registry credential must be a plain user name and a password of printable characters');
  }
  for (const [k, v] of Object.entries(o.credentials)) {
    if (!PEM.test(v)) throw new Error(`credential ${k} is not one PEM block`);
  }
}

function kubeconfig(o: KubeletNodeOptions, user: 'node' | 'proxy'): string {
  const cluster = [`    server: ${JSON.stringify(o.apiServer)}`, `    certificate-authority: ${NODE_DIR}/ca.crt`];
  if (o.apiServerName) cluster.push(`    tls-server-name: ${JSON.stringify(o.apiServerName)}`);
  return `# Written by Berth's installer (kubelet node).
apiVersion: v1
kind: Config
clusters:
- name: berth
  cluster:
${cluster.join('\n')}
users:
- name: ${user}
  user:
    client-certificate: ${NODE_DIR}/${user}.crt
    client-key: ${NODE_DIR}/${user}.key
contexts:
- name: berth
  context: {cluster: berth, user: ${user}}
current-context: berth
`;
}

function kubeletConfig(o: KubeletNodeOptions): string {
  const taints = (o.taints ?? []).map((t) => {
    const [, key, value, effect] = TAINT.exec(t)!;
    return `  - {key: ${JSON.stringify(key)}, value: ${JSON.stringify(value ?? '')}, effect: ${effect}}`;
  });
  return `# Written by Berth's installer (kubelet node).
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${o.nodeIp}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${NODE_DIR}/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: ${NODE_DIR}/node.crt
tlsPrivateKeyFile: ${NODE_DIR}/node.key
cgroupDriver: cgroupfs
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
failSwapOn: false
nodeStatusUpdateFrequency: 2s
makeIPTablesUtilChains: false
serializeImagePulls: false
podCIDR: ${o.podCidr}
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
${taints.length ? `registerWithTaints:\n${taints.join('\n')}\n` : ''}`;
}

function kubeProxyConfig(o: KubeletNodeOptions): string {
  return `# Written by Berth's installer (kubelet node).
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: ${NODE_DIR}/kube-proxy.kubeconfig}
hostnameOverride: ${o.nodeName}
mode: iptables
clusterCIDR: ${o.clusterCidr}
bindAddress: ${o.nodeIp}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["127.0.0.0/8", "${o.nodeIp}/32"]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {minSyncPeriod: 250ms}
`;
}

function containerdConfig(o: KubeletNodeOptions): string {
  return `# Written by Berth's installer (kubelet node): a containerd of the kubelet's own, beside any other.
version = 2
root = "${STATE_DIR}/containerd"
state = "${RUN_DIR}/containerd"
[grpc]
  address = "${CONTAINERD_SOCK}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${JSON.stringify(o.pauseImageRef)}
  # Where the host lacks CAP_SYS_RESOURCE (containers, some VMs) runc cannot lower oom_score_adj.
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${NODE_DIR}/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${NODE_DIR}/certs.d"
`;
}

function cniConfig(o: KubeletNodeOptions): string {
  return `${JSON.stringify({
    cniVersion: '0.4.0', name: 'berth-kubelet',
    plugins: [{
      type: 'bridge', bridge: CNI_BRIDGE, isGateway: true, ipMasq: false, hairpinMode: true,
      ipam: { type: 'host-local', dataDir: `${STATE_DIR}/cni`, ranges: [[{ subnet: o.podCidr }]], routes: [{ dst: '0.0.0.0/0' }] },
    }],
  }, null, 2)}\n`;
}

function hostsToml(registry: string, mirror: string, auth: KubeletNodeOptions['registryAuth']): string {
  const header = auth
    ? `  [host.${JSON.stringify(mirror)}.header]\n    Authorization = ${JSON.stringify(`Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`)}\n`
    : '';
  return `# Written by Berth's installer: ${registry} is pulled from ${mirror} (plain HTTP).
server = ${JSON.stringify(`http://${registry}`)}
[host.${JSON.stringify(mirror)}]
  capabilities = ["pull", "resolve"]
${header}`;
}

/** The launcher: start|stop|status of containerd, kubelet and kube-proxy, each with a pid file and a log. */
export function launcherScript(o: KubeletNodeOptions): string {
  const kubelet = [HYPERKUBE, 'kubelet', `--config=${NODE_DIR}/kubelet.yaml`, `--kubeconfig=${NODE_DIR}/kubelet.kubeconfig`,
    '--container-runtime=remote', `--container-runtime-endpoint=unix://${CONTAINERD_SOCK}`, `--pod-infra-container-image=${o.pauseImageRef}`,
    `--hostname-override=${o.nodeName}`, `--node-ip=${o.nodeIp}`, `--root-dir=${STATE_DIR}/kubelet`,
    ...(Object.keys(o.labels ?? {}).length ? [`--node-labels=${Object.entries(o.labels!).map(([k, v]) => `${k}=${v}`).join(',')}`] : []),
  ].map(shq).join(' ');
  const proxy = [HYPERKUBE, 'kube-proxy', `--config=${NODE_DIR}/kube-proxy.yaml`].map(shq).join(' ');
  const containerd = ['containerd', '--config', `${NODE_DIR}/containerd.toml`].map(shq).join(' ');
  // Tagged, so the uninstall finds it without knowing the CIDRs.
  const masquerade = `-s ${o.podCidr} ! -d ${o.clusterCidr} -m comment --comment ${MASQUERADE_TAG} -j MASQUERADE`;
  return `#!/bin/sh
# Written by Berth's installer: runs this machine's Kubernetes node (containerd, kubelet, kube-proxy).
# Usage: berth-kubelet start|stop|status (all three run)|running (any runs)|stop-kubelet (containerd stays)
RUN=${RUN_DIR}; LOG=${LOG_DIR}
alive() { [ -s "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
launch() { # name command...
  n=$1; shift
  alive "$n" && return 0
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$RUN/$n.pid" "$@" >>"$LOG/$n.log" 2>&1 </dev/null &
  for i in $(seq 1 40); do [ -s "$RUN/$n.pid" ] && return 0; sleep 0.25; done
  echo "$n did not start; see $LOG/$n.log" >&2; return 1
}
halt() { # name
  alive "$1" || { rm -f "$RUN/$1.pid"; return 0; }
  p=$(cat "$RUN/$1.pid"); kill "$p"
  for i in $(seq 1 80); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$p" 2>/dev/null; rm -f "$RUN/$1.pid"
}
case "$1" in
start)
  mkdir -p "$RUN" "$LOG"
  sysctl -qw net.ipv4.ip_forward=1 2>/dev/null || true
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  # Pods reaching beyond the cluster's pods leave with the node's address.
  iptables -w -t nat -C POSTROUTING ${masquerade} 2>/dev/null || iptables -w -t nat -A POSTROUTING ${masquerade}
  launch containerd ${containerd} || exit 1
  for i in $(seq 1 60); do ctr -a ${CONTAINERD_SOCK} version >/dev/null 2>&1 && break; sleep 0.25; done
  ctr -a ${CONTAINERD_SOCK} -n k8s.io images ls -q | grep -qxF ${shq(o.pauseImageRef)} ||
    ctr -a ${CONTAINERD_SOCK} -n k8s.io images import ${PAUSE_TAR} >/dev/null || exit 1
  launch kubelet ${kubelet} || exit 1
  launch kube-proxy ${proxy} || exit 1 ;;
stop) halt kube-proxy; halt kubelet; halt containerd ;;
stop-kubelet) halt kube-proxy; halt kubelet ;;
status) alive containerd && alive kubelet && alive kube-proxy ;;
running) alive containerd || alive kubelet || alive kube-proxy ;;
*) echo "usage: $0 start|stop|stop-kubelet|status|running" >&2; exit 2 ;;
esac
`;
}

export function systemdUnit(): string {
  return `# Written by Berth's installer: this machine's Kubernetes node (containerd, kubelet, kube-proxy).
[Unit]
Description=Kubernetes node (kubelet, kube-proxy, containerd) joined by Berth
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${LAUNCHER} start
ExecStop=${LAUNCHER} stop
KillMode=none
Delegate=yes
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
`;
}

/** Every text file the node needs, with its mode (keys and kubeconfigs readable by root only). */
export function nodeFiles(o: KubeletNodeOptions): { path: string; mode: string; content: string }[] {
  const c = o.credentials;
  const files = [
    { path: `${NODE_DIR}/ca.crt`, mode: '644', content: c.ca },
    { path: `${NODE_DIR}/node.crt`, mode: '644', content: c.nodeCert },
    { path: `${NODE_DIR}/node.key`, mode: '600', content: c.nodeKey },
    { path: `${NODE_DIR}/proxy.crt`, mode: '644', content: c.proxyCert },
    { path: `${NODE_DIR}/proxy.key`, mode: '600', content: c.proxyKey },
    { path: `${NODE_DIR}/kubelet.kubeconfig`, mode: '600', content: kubeconfig(o, 'node') },
    { path: `${NODE_DIR}/kube-proxy.kubeconfig`, mode: '600', content: kubeconfig(o, 'proxy') },
    { path: `${NODE_DIR}/kubelet.yaml`, mode: '644', content: kubeletConfig(o) },
    { path: `${NODE_DIR}/kube-proxy.yaml`, mode: '644', content: kubeProxyConfig(o) },
    { path: `${NODE_DIR}/containerd.toml`, mode: '644', content: containerdConfig(o) },
    { path: `${NODE_DIR}/cni/10-berth-kubelet.conflist`, mode: '644', content: cniConfig(o) },
    { path: LAUNCHER, mode: '755', content: launcherScript(o) },
  ];
  for (const [registry, mirror] of Object.entries(o.registryMirrors ?? {})) {
    // With a credential the file is the registry's lock: root only.
    files.push({ path: `${NODE_DIR}/certs.d/${registry}/hosts.toml`, mode: o.registryAuth ? '600' : '644', content: hostsToml(registry, mirror, o.registryAuth) });
  }
  return files;
}
