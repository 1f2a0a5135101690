// A Docker host publishes app instances on its own address, at ports in BERTH_PORT_RANGE; only Berth's router
// should reach them (or anyone could skip its TLS, maintenance pages and access logs). iptables rules in a
// chain of Berth's own, BERTH-APPS, jumped to first from DOCKER-USER (the chain Docker leaves to the admin and
// evaluates for forwarded traffic to published ports, and keeps as it is across dockerd restarts), let the
// router open connections to those ports and drop everyone else's. Replies and established connections
// are never matched (--ctdir ORIGINAL), nor are the containers' own outgoing connections (--ctstate DNAT:
// only connections Docker's port publishing rewrote). A reboot empties iptables, so a script holding the
// rules runs before dockerd starts: a systemd drop-in for docker.service, or Berth's launcher without systemd.
import net from 'node:net';
import type { Task, TaskContext } from '../task.ts';

export interface AppPortFirewallVars {
  /** The published app ports (BERTH_PORT_RANGE). */
  portRange: [number, number];
  /** IPv4 addresses the router connects from; empty: the address the host sees Berth's SSH come from. */
  routers: string[];
}

export const CHAIN = 'BERTH-APPS';
export const FIREWALL_SCRIPT = '/usr/local/sbin/berth-app-firewall';
export const SYSTEMD_DROP_IN = '/etc/systemd/system/docker.service.d/berth-app-firewall.conf';
const JUMP = `-A DOCKER-USER -j ${CHAIN}`;

/** The chain's rules as `iptables -S` prints them (so the check compares text, exactly). */
export function chainRules(routers: string[], [lo, hi]: [number, number]): string[] {
  const toApps = `-m conntrack --ctstate DNAT --ctorigdstport ${lo}:${hi} --ctdir ORIGINAL`;
  return [
    ...routers.map((address) => `-A ${CHAIN} -s ${address}/32 ${toApps} -j RETURN`),
    `-A ${CHAIN} ${toApps} -j DROP`,
  ];
}

/** The script that (re)writes the chain in one iptables-restore commit and puts its jump first in DOCKER-USER. */
export function firewallScript(routers: string[], portRange: [number, number]): string {
  return `#!/bin/sh
# Written by Berth (berth hosts:add): only Berth's router (${routers.join(', ')}) may open connections to the app
# ports Docker publishes here (${portRange.join('-')}). Runs before dockerd starts and whenever hosts:add changes it.
set -e
iptables-restore -w --noflush <<'RULES'
*filter
:${CHAIN} - [0:0]
${chainRules(routers, portRange).join('\n')}
COMMIT
RULES
iptables -w -N DOCKER-USER 2>/dev/null || true
jumps() { iptables -w -S DOCKER-USER | grep -cxF -- '${JUMP}' || true; }
if [ "$(iptables -w -S DOCKER-USER | sed -n 2p)" != '${JUMP}' ]; then iptables -w -I DOCKER-USER 1 -j ${CHAIN}; fi
# Jumps further down (an older order) are redundant: the last one goes until only the first is left.
while [ "$(jumps)" -gt 1 ]; do
  iptables -w -D DOCKER-USER "$(iptables -w -L DOCKER-USER --line-numbers | awk '$2 == "${CHAIN}" { n = $1 } END { print n }')"
done
`;
}

export const systemdDropIn = `# Written by Berth: Docker's published app ports admit only Berth's router, from boot on.
[Service]
ExecStartPre=${FIREWALL_SCRIPT}
`;

/** "203.0.113.7 51234 22" ($SSH_CLIENT on the host) → 203.0.113.7. */
export function sshClientAddress(sshClient: string): string | null {
  const address = sshClient.trim().split(/\s+/)[0] ?? '';
  return net.isIPv4(address) ? address : null;
}

/** True when DOCKER-USER jumps to Berth's chain first, and only once. */
export function jumpsFirst(dockerUserListing: string): boolean {
  const rules = dockerUserListing.split('\n').filter((line) => line.startsWith('-A '));
  return rules[0] === JUMP && rules.filter((line) => line === JUMP).length === 1;
}

const hasSystemd = async (ctx: TaskContext) => (await ctx.run('test -d /run/systemd/system', { allowFail: true })).code === 0;
const fileIs = async (ctx: TaskContext, file: string, text: string) => {
  const out = await ctx.run(`cat ${file}`, { allowFail: true });
  return out.code === 0 && out.stdout === text;
};

async function routerAddresses(ctx: TaskContext, explicit: string[]): Promise<string[]> {
  if (explicit.length) return explicit;
  const seen = (await ctx.run('printf "%s" "$SSH_CLIENT"')).stdout;
  const address = sshClientAddress(seen);
  if (!address) {
    throw new Error(`the host sees Berth's SSH connection come from "${seen.trim().split(/\s+/)[0] ?? ''}", not an IPv4 address: ` +
      'set BERTH_ROUTER_ADDRESS to the IPv4 address(es) the router reaches the host from');
  }
  return [address];
}

export function appPortFirewallTask(vars: AppPortFirewallVars): Task {
  const [lo, hi] = vars.portRange;
  let routers = vars.routers;
  const wanted = () => ({ script: firewallScript(routers, vars.portRange), rules: [`-N ${CHAIN}`, ...chainRules(routers, vars.portRange)].join('\n') });
  return {
    // Read after the check, so the line names the address it found.
    get name() {
      return `app ports ${lo}-${hi} admit only the router (${routers.length ? routers.join(', ') : 'the address Berth connects from'})`;
    },
    hint: 'iptables (with the conntrack match) must work on the host; if the router reaches it from another address than Berth\'s SSH, set BERTH_ROUTER_ADDRESS.',
    async check(ctx) {
      routers = await routerAddresses(ctx, vars.routers);
      const { script, rules } = wanted();
      if (!(await fileIs(ctx, FIREWALL_SCRIPT, script))) return false;
      if (await hasSystemd(ctx) && !(await fileIs(ctx, SYSTEMD_DROP_IN, systemdDropIn))) return false;
      const chain = await ctx.run(`iptables -w -S ${CHAIN}`, { allowFail: true });
      if (chain.code !== 0 || chain.stdout.trim() !== rules) return false;
      const dockerUser = await ctx.run('iptables -w -S DOCKER-USER', { allowFail: true });
      return dockerUser.code === 0 && jumpsFirst(dockerUser.stdout);
    },
    async apply(ctx) {
      await ctx.run(`cat > ${FIREWALL_SCRIPT}.berth-new && chmod 755 ${FIREWALL_SCRIPT}.berth-new && mv ${FIREWALL_SCRIPT}.berth-new ${FIREWALL_SCRIPT}`,
        { input: wanted().script });
      if (await hasSystemd(ctx)) {
        await ctx.run(`mkdir -p ${SYSTEMD_DROP_IN.replace(/\/[^/]+$/, '')} && cat > ${SYSTEMD_DROP_IN} && systemctl daemon-reload`, { input: systemdDropIn });
      }
      await ctx.run(FIREWALL_SCRIPT);
    },
  };
}
