// What a k3s node is told, as file contents: /etc/rancher/k3s/config.yaml (every setting, so the service's
// command line stays a constant `k3s server` / `k3s agent` and a changed setting is a changed file) and
// /etc/rancher/k3s/registries.yaml (images come through Berth's registry).

export type K3sRole = 'server' | 'agent';

export interface K3sOptions {
  /** Local path of a k3s binary to copy up (air-gapped installs); without it the official installer downloads k3s. */
  k3sBinary?: string;
  /** Local copy of the official install script (get.k3s.io), run with INSTALL_K3S_SKIP_DOWNLOAD=true when k3sBinary is given.
   *  Without it an air-gapped install gets Berth's own minimal service definition instead. */
  installScript?: string;
  /** Where the official install script is fetched from when the host has internet. */
  installScriptUrl?: string;
  /** k3s release to install online (INSTALL_K3S_VERSION, e.g. v1.31.4+k3s1); also checked on later runs. */
  version?: string;
  /** Local path of k3s-airgap-images-ARCH.tar(.zst): the system images (pause, coredns...) for hosts without a registry. */
  airgapImages?: string;
  /** Agents: the server's URL (https://SERVER:6443), k3s's K3S_URL. */
  serverUrl?: string;
  /** Agents: the server's join token, k3s's K3S_TOKEN. */
  token?: string;
  /** Kubernetes node name; the host's hostname when not given. */
  nodeName?: string;
  /** Berth's registry (host:port, or a URL): mirror for docker.io and for the registry's own name. */
  registryMirror?: string;
  /** Berth's credential for that registry, once it requires one (it listens beyond loopback). */
  registryAuth?: { username: string; password: string } | null;
  /** More k3s flags, each `--flag=value` or `--flag` (e.g. `--disable=traefik`); they go to config.yaml. */
  extraArgs?: string[];
  /** How long the node gets to join and become Ready (default 180 s). */
  joinTimeoutSeconds?: number;
}

type YamlValue = string | boolean | string[];

/** Turns `--flag=value` / `--flag value` / `--flag` into config.yaml keys; a flag given twice becomes a list. */
export function argsToConfig(args: string[]): Map<string, YamlValue> {
  const config = new Map<string, YamlValue>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const m = /^--([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new Error(`k3s extra argument ${JSON.stringify(arg)} is not of the form --flag=value or --flag`);
    let value: string | boolean = m[2] ?? true;
    if (m[2] === undefined && i + 1 < args.length && !args[i + 1].startsWith('--')) value = args[++i];
    addValue(config, m[1], value);
  }
  return config;
}

function addValue(config: Map<string, YamlValue>, key: string, value: string | boolean): void {
  const previous = config.get(key);
  if (previous === undefined) config.set(key, value);
  else if (typeof value === 'boolean' || typeof previous === 'boolean') config.set(key, value);
  else config.set(key, [...(Array.isArray(previous) ? previous : [previous]), value]);
}

// JSON strings are valid YAML double-quoted scalars, so every value is written that way: no YAML
// special cases (yes/no, octal-looking numbers, colons) can change what k3s reads.
function renderYaml(config: Map<string, YamlValue>): string {
  const lines: string[] = [];
  for (const [key, value] of config) {
    if (Array.isArray(value)) lines.push(`${key}:`, ...value.map((v) => `  - ${JSON.stringify(v)}`));
    else lines.push(`${key}: ${typeof value === 'boolean' ? String(value) : JSON.stringify(value)}`);
  }
  return lines.join('\n');
}

const HEADER = '# Written by Berth\'s installer (berth hosts:add); a later run puts back what it wrote.\n';

export interface NodeConfigInput {
  role: K3sRole;
  nodeName: string;
  /** The address Berth and the agents reach the server at: added to the API certificate's names. */
  address: string;
  opts: K3sOptions;
}

export function renderNodeConfig({ role, nodeName, address, opts }: NodeConfigInput): string {
  const config = new Map<string, YamlValue>();
  config.set('node-name', nodeName);
  if (role === 'agent') {
    if (!opts.serverUrl || !opts.token) throw new Error('a k3s agent needs the server URL and the join token (serverUrl, token)');
    config.set('server', opts.serverUrl);
    config.set('token', opts.token);
  } else {
    config.set('tls-san', [address]);
    // Only root reads the admin kubeconfig; Berth fetches it over SSH as root.
    config.set('write-kubeconfig-mode', '0600');
  }
  for (const [key, value] of argsToConfig(opts.extraArgs ?? [])) {
    for (const v of Array.isArray(value) ? value : [value]) addValue(config, key, v);
  }
  return `${HEADER}${renderYaml(config)}\n`;
}

/** A registry address as k3s wants an endpoint: a URL; plain host:port means HTTP, like Docker's insecure registry. */
export function registryEndpoint(registry: string): { name: string; url: string } {
  const url = /^https?:\/\//.test(registry) ? registry.replace(/\/+$/, '') : `http://${registry}`;
  return { name: new URL(url).host, url };
}

export function renderRegistries(registry: string, auth: { username: string; password: string } | null = null): string {
  const { name, url } = registryEndpoint(registry);
  const mirror = (key: string) => [`  ${JSON.stringify(key)}:`, '    endpoint:', `      - ${JSON.stringify(url)}`];
  // The file is written 0600: the credential is the registry's only lock.
  const configs = auth ? ['configs:', `  ${JSON.stringify(name)}:`, '    auth:',
    `      username: ${JSON.stringify(auth.username)}`, `      password: ${JSON.stringify(auth.password)}`] : [];
  return `${HEADER}${['mirrors:', ...mirror('docker.io'), ...mirror(name), ...configs].join('\n')}\n`;
}
