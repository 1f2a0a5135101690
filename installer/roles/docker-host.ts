// Role "docker": turns a fresh Debian 12 / Ubuntu 22.04+ machine into a Docker host Berth can run
// instances on. The Docker API is reached over SSH with Berth's own key (docker-modem runs
// `docker system dial-stdio` on the host); no TCP port is ever opened for it. The app ports Docker
// publishes there admit only Berth's router (tasks/app-port-firewall.ts).
import type { Task, TaskContext } from '../task.ts';
import { shellQuote } from '../ssh.ts';
import { packagesTask } from '../tasks/packages.ts';
import { appPortFirewallTask, FIREWALL_SCRIPT, type AppPortFirewallVars } from '../tasks/app-port-firewall.ts';

export interface DockerHostVars {
  /** host:port of Berth's registry as this host reaches it (plain HTTP: trusted as insecure). */
  registry: string;
  /** Berth's public key line (ssh-ed25519 AAAA... berth), authorized for the control channel. */
  berthPublicKey: string;
  /** Who may reach the published app ports: the router only. */
  firewall: AppPortFirewallVars;
}

const PACKAGES = ['docker.io', 'ca-certificates', 'iproute2', 'iptables'];
const DAEMON_JSON = '/etc/docker/daemon.json';
const DOCKERD_LOG = '/var/log/dockerd.log';
const ENGINE_START_WAIT_SEC = 60;

export function daemonConfig(registry: string): string {
  return `${JSON.stringify({
    'registry-mirrors': [`http://${registry}`],
    'insecure-registries': [registry],
    'log-driver': 'json-file',
    'log-opts': { 'max-size': '10m', 'max-file': '3' },
    // Containers keep running while dockerd restarts (upgrades, daemon.json changes).
    'live-restore': true,
  }, null, 2)}\n`;
}

const hasSystemd = async (ctx: TaskContext) => (await ctx.run('test -d /run/systemd/system', { allowFail: true })).code === 0;
const engineAnswers = async (ctx: TaskContext) => (await ctx.run('docker info --format "{{.ServerVersion}}"', { allowFail: true })).code === 0;

/**
 * Without systemd (containers, some minimal VMs) dockerd runs detached from the SSH session, after the app
 * port firewall (what the systemd drop-in does otherwise), so no published port is ever open to everyone.
 */
async function startEngine(ctx: TaskContext): Promise<void> {
  if (await hasSystemd(ctx)) {
    await ctx.run('systemctl enable --now docker');
  } else {
    // As ExecStartPre does: no dockerd while the firewall cannot be set (the command's output says why).
    await ctx.run(`if [ -x ${FIREWALL_SCRIPT} ]; then ${FIREWALL_SCRIPT} || exit 1; fi; setsid nohup dockerd >>${DOCKERD_LOG} 2>&1 </dev/null &`);
  }
  await ctx.run(`for i in $(seq ${ENGINE_START_WAIT_SEC * 2}); do docker info >/dev/null 2>&1 && exit 0; sleep 0.5; done; ` +
    `echo "dockerd did not answer within ${ENGINE_START_WAIT_SEC} s"; tail -20 ${DOCKERD_LOG} 2>/dev/null; exit 1`);
}

async function restartEngine(ctx: TaskContext): Promise<void> {
  if (await hasSystemd(ctx)) {
    await ctx.run('systemctl restart docker');
    return;
  }
  await ctx.run('pid=$(cat /var/run/docker.pid 2>/dev/null) && kill "$pid" && ' +
    'for i in $(seq 60); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.5; done; exit 1', { allowFail: true });
  await startEngine(ctx);
}

export function dockerHostTasks(vars: DockerHostVars): Task[] {
  const config = daemonConfig(vars.registry);
  const keyLine = vars.berthPublicKey.trim();
  return [
    packagesTask(PACKAGES),
    {
      name: `${DAEMON_JSON} (registry ${vars.registry}, log rotation, live-restore)`,
      hint: `Berth owns ${DAEMON_JSON} on its hosts; move other settings into dockerd flags or tell Berth's operator.`,
      async check(ctx) {
        const out = await ctx.run(`cat ${DAEMON_JSON}`, { allowFail: true });
        return out.code === 0 && out.stdout === config;
      },
      async apply(ctx) {
        await ctx.run(`mkdir -p /etc/docker && cat > ${DAEMON_JSON}.berth-new && mv ${DAEMON_JSON}.berth-new ${DAEMON_JSON}`, { input: config });
        // A running engine only reads the file when it starts.
        if (await engineAnswers(ctx)) await restartEngine(ctx);
      },
    },
    {
      name: 'Docker engine running and started at boot',
      hint: `dockerd did not start: see ${DOCKERD_LOG} (no systemd) or journalctl -u docker on the host.`,
      async check(ctx) {
        if (!(await engineAnswers(ctx))) return false;
        if (!(await hasSystemd(ctx))) return true;
        return (await ctx.run('systemctl is-enabled docker', { allowFail: true })).code === 0;
      },
      apply: startEngine,
    },
    appPortFirewallTask(vars.firewall),
    {
      name: "Berth's SSH key authorized (Docker API over SSH)",
      hint: "Berth reaches the Docker API only over SSH with its own key; the SSH user must be able to write ~/.ssh/authorized_keys.",
      async check(ctx) {
        return (await ctx.run(`grep -qxF ${shellQuote(keyLine)} ~/.ssh/authorized_keys`, { allowFail: true })).code === 0;
      },
      async apply(ctx) {
        await ctx.run('umask 077 && mkdir -p ~/.ssh && cat >> ~/.ssh/authorized_keys', { input: `${keyLine}\n` });
      },
    },
  ];
}
