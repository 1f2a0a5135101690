// `berth hosts:add --role k3s-server|k3s-agent`: the tasks that make a host a k3s node, and reading the
// join token and kubeconfig back from a server. Which install path is taken:
//   - no k3sBinary: the official installer from installScriptUrl (needs internet and systemd);
//   - k3sBinary + installScript: the binary is copied up, the official script runs with INSTALL_K3S_SKIP_DOWNLOAD;
//   - k3sBinary alone: the binary is copied up and Berth writes its own systemd unit (or, on a host without
//     systemd, a launcher started detached with a pid file).
// Every setting lives in /etc/rancher/k3s/config.yaml; a changed file restarts the service (see RESTART_MARKER).
import path from 'node:path';
import type { Task, TaskContext } from '../task.ts';
import { fileTask, localFileTask, remoteSha256, sha256 } from '../files.ts';
import { renderNodeConfig, renderRegistries, type K3sOptions, type K3sRole } from '../k3s/config.ts';
import {
  ADMIN_KUBECONFIG, AIRGAP_IMAGES_DIR, CONFIG_FILE, HAS_SYSTEMD, K3S_BIN, LAUNCHER, NODE_TOKEN_FILE, REGISTRIES_FILE,
  RESTART_MARKER, installScriptCommand, nodeReadyCommand, serviceActiveCommand, serviceName, serviceRestartCommand,
  shq, systemdUnit, launcherScript, unitPath, waitNodeReadyCommand, writeFileCommand,
} from '../k3s/commands.ts';

export type { K3sOptions } from '../k3s/config.ts';

const UPLOADED_SCRIPT = '/usr/local/lib/berth/k3s-install.sh';

export function k3sServerTasks(opts: K3sOptions = {}): Task[] {
  return k3sTasks('server', opts);
}

export function k3sAgentTasks(opts: K3sOptions): Task[] {
  if (!opts.serverUrl || !opts.token) throw new Error('a k3s agent needs the server URL and the join token (serverUrl, token)');
  return k3sTasks('agent', opts);
}

function k3sTasks(role: K3sRole, opts: K3sOptions): Task[] {
  const tasks: Task[] = [configTask(role, opts)];
  if (opts.registryMirror) {
    tasks.push(fileTask(`k3s registry mirror ${opts.registryMirror} (${REGISTRIES_FILE})`, REGISTRIES_FILE, '600',
      async () => renderRegistries(opts.registryMirror!, opts.registryAuth ?? null), { marker: RESTART_MARKER }));
  }
  if (opts.k3sBinary) {
    tasks.push(localFileTask(`k3s binary ${path.basename(opts.k3sBinary)} (${K3S_BIN})`, opts.k3sBinary, K3S_BIN, '755', { marker: RESTART_MARKER }));
  }
  if (opts.airgapImages) {
    const target = `${AIRGAP_IMAGES_DIR}/${path.basename(opts.airgapImages)}`;
    tasks.push(localFileTask(`k3s air-gap images (${target})`, opts.airgapImages, target, '644', { marker: RESTART_MARKER }));
  }
  if (!opts.k3sBinary) tasks.push(curlTask(), onlineInstallTask(role, opts));
  else if (opts.installScript) tasks.push(...airgappedScriptTasks(role, opts.installScript));
  else tasks.push(ownServiceTask(role));
  tasks.push(serviceTask(role), joinedTask(role, opts));
  return tasks;
}

// ------------------------------------------------------------------------------------------------------
// Files

function configTask(role: K3sRole, opts: K3sOptions): Task {
  return fileTask(`k3s ${role} config (${CONFIG_FILE})`, CONFIG_FILE, '600', async (ctx) => renderNodeConfig({
    role, opts, nodeName: await nodeName(ctx, opts), address: hostAddress(ctx.host),
  }), { marker: RESTART_MARKER, hint: 'extraArgs must be k3s flags of the form --flag=value or --flag' });
}

// ------------------------------------------------------------------------------------------------------
// Installing k3s

/** The official installer is fetched with curl, which minimal Debian installs lack. */
function curlTask(): Task {
  return {
    name: 'curl installed (fetches the official k3s installer)',
    hint: 'apt could not install curl: check that the host reaches its package mirror',
    async check(ctx) { return (await ctx.run('command -v curl', { allowFail: true })).code === 0; },
    async apply(ctx) {
      await ctx.run('DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl ca-certificates');
    },
  };
}

function onlineInstallTask(role: K3sRole, opts: K3sOptions): Task {
  return {
    name: `k3s ${role} installed${opts.version ? ` (${opts.version})` : ''} by the official installer`,
    hint: `the host downloads ${opts.installScriptUrl ?? 'https://get.k3s.io'} and k3s from GitHub: check its internet access, ` +
      'or copy a k3s binary up instead (k3sBinary) for an air-gapped install; the official installer needs systemd',
    async check(ctx) {
      if (!(await installedUnit(ctx, role))) return false;
      const version = await ctx.run(`${K3S_BIN} --version`, { allowFail: true });
      return version.code === 0 && (!opts.version || version.stdout.includes(opts.version));
    },
    async apply(ctx) {
      await ctx.run(installScriptCommand({ role, url: opts.installScriptUrl, version: opts.version }));
      await ctx.run(`touch ${shq(RESTART_MARKER)}`);
    },
  };
}

/** The official script, copied up and run air-gapped: it adds kubectl/crictl links, the unit and the uninstaller. */
function airgappedScriptTasks(role: K3sRole, script: string): Task[] {
  return [
    localFileTask(`k3s install script (${UPLOADED_SCRIPT})`, script, UPLOADED_SCRIPT, '755', { marker: RESTART_MARKER }),
    {
      name: `k3s ${role} installed by the official installer (air-gapped)`,
      hint: 'the official install script needs systemd or openrc; without either, leave installScript out',
      check: (ctx) => installedUnit(ctx, role),
      async apply(ctx) {
        await ctx.run(installScriptCommand({ role, localPath: UPLOADED_SCRIPT }));
        await ctx.run(`touch ${shq(RESTART_MARKER)}`);
      },
    },
  ];
}

async function installedUnit(ctx: TaskContext, role: K3sRole): Promise<boolean> {
  return (await ctx.run(`test -f ${unitPath(role)} || test -f /etc/init.d/${serviceName(role)}`, { allowFail: true })).code === 0;
}

async function hasSystemd(ctx: TaskContext): Promise<boolean> {
  return (await ctx.run(HAS_SYSTEMD, { allowFail: true })).code === 0;
}

/** Berth's own service definition: a systemd unit, or the launcher where there is no systemd. */
function ownServiceTask(role: K3sRole): Task {
  const definition = async (ctx: TaskContext) => (await hasSystemd(ctx))
    ? { file: unitPath(role), mode: '644', content: systemdUnit(role) }
    : { file: LAUNCHER, mode: '755', content: launcherScript(role) };
  return {
    name: `k3s ${role} service definition (no install script: Berth's own)`,
    async check(ctx) {
      const { file, content } = await definition(ctx);
      return await remoteSha256(ctx, file) === sha256(content);
    },
    async apply(ctx) {
      const { file, mode, content } = await definition(ctx);
      await ctx.run(writeFileCommand(file, mode), { input: content });
    },
  };
}

// ------------------------------------------------------------------------------------------------------
// Running and joined

function serviceTask(role: K3sRole): Task {
  return {
    name: `k3s ${role} service ${serviceName(role)} running with the current files`,
    hint: `see \`journalctl -u ${serviceName(role)}\` (or /var/log/${serviceName(role)}.log without systemd) on the host`,
    async check(ctx) {
      const systemd = await hasSystemd(ctx);
      const active = await ctx.run(serviceActiveCommand(role, systemd), { allowFail: true });
      const stale = await ctx.run(`test -e ${shq(RESTART_MARKER)}`, { allowFail: true });
      return active.code === 0 && stale.code !== 0;
    },
    async apply(ctx) {
      await ctx.run(serviceRestartCommand(role, await hasSystemd(ctx)));
    },
  };
}

function joinedTask(role: K3sRole, opts: K3sOptions): Task {
  return {
    name: `k3s node ${opts.nodeName ?? '(hostname)'} joined and Ready`,
    hint: role === 'agent'
      ? `check that the host reaches ${opts.serverUrl} (TCP 6443) and that the token is the server's current one`
      : 'the server did not become Ready: see its log',
    async check(ctx) {
      const ready = await ctx.run(nodeReadyCommand(role, await nodeName(ctx, opts)), { allowFail: true });
      return ready.stdout.trim() === 'True';
    },
    async apply(ctx) {
      await ctx.run(waitNodeReadyCommand(role, await nodeName(ctx, opts), opts.joinTimeoutSeconds ?? 180));
    },
  };
}

// ------------------------------------------------------------------------------------------------------
// Host facts

const hostnames = new WeakMap<TaskContext, Promise<string>>();

/** k3s's own default node name is the hostname, lower-cased. */
async function nodeName(ctx: TaskContext, opts: K3sOptions): Promise<string> {
  if (opts.nodeName) return opts.nodeName;
  let name = hostnames.get(ctx);
  if (!name) {
    name = ctx.run('hostname').then((r) => r.stdout.trim().toLowerCase());
    hostnames.set(ctx, name);
  }
  return name;
}

/** ctx.host may be user@host or host:port; URLs and certificates need the bare address. */
export function hostAddress(host: string): string {
  const bare = host.slice(host.lastIndexOf('@') + 1);
  const bracketed = /^\[(.*)\](?::\d+)?$/.exec(bare);
  if (bracketed) return bracketed[1];
  return /^[^:]+:\d+$/.test(bare) ? bare.slice(0, bare.lastIndexOf(':')) : bare;
}

function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export interface K3sJoinInfo {
  /** What agents and Berth connect to: https://ADDRESS:6443. */
  serverUrl: string;
  /** The agents' join token (K3S_TOKEN). */
  token: string;
  /** The admin kubeconfig, pointing at serverUrl instead of 127.0.0.1. */
  kubeconfig: string;
}

/** Reads the join token and the admin kubeconfig from a server the tasks above set up. */
export async function readK3sJoinInfo(ctx: TaskContext, address = hostAddress(ctx.host)): Promise<K3sJoinInfo> {
  const serverUrl = `https://${urlHost(address)}:6443`;
  const token = (await ctx.run(`cat ${NODE_TOKEN_FILE}`)).stdout.trim();
  const local = (await ctx.run(`cat ${ADMIN_KUBECONFIG}`)).stdout;
  if (!token) throw new Error(`${NODE_TOKEN_FILE} on ${ctx.host} is empty: is the k3s server running?`);
  const kubeconfig = local.replace(/server:\s*https:\/\/(127\.0\.0\.1|localhost|\[::1\]):6443/g, `server: ${serverUrl}`);
  if (!kubeconfig.includes(serverUrl)) throw new Error(`${ADMIN_KUBECONFIG} on ${ctx.host} has no server: https://127.0.0.1:6443 line to rewrite`);
  return { serverUrl, token, kubeconfig };
}
