// The git command that fetches a connected repository's branch, hardened for a URL a member chose. Git
// dials only the addresses Berth checked (curl's resolve pin for HTTPS, ssh's HostName for SSH), follows no
// redirect, asks nobody for a password, reads no user or system git config, speaks only the URL's own
// protocol, never recurses into submodules and checks every object it receives. Pure: see repo-fetcher.ts.
import type { RepoUrl } from './repo-url.ts';

export interface FetchPlan {
  repo: RepoUrl;
  /** Addresses the outbound policy allowed for the repository's host, in the resolver's order. */
  addresses: string[];
  /** The app's bare repository, which receives the objects. */
  gitDir: string;
  branch: string;
  /** Where the fetched tip is kept (a private ref of the app's repository). */
  targetRef: string;
  /** HTTPS: "Authorization: Basic ..." from the token; passed through the environment, never argv. */
  authorization?: string;
  /** SSH: the deploy key and known_hosts files (mode 0600, in a private directory). */
  keyFile?: string;
  knownHostsFile?: string;
  /** HTTPS: the CA bundle to trust (the system's plus the operator's extra CAs); absent: git's default. */
  caFile?: string;
  /** A directory with nothing in it, as HOME: no ~/.gitconfig, ~/.ssh/config or credentials are read. */
  emptyHome: string;
  path: string;
}

export interface GitCommand { args: string[]; env: Record<string, string> }

export function fetchCommand(plan: FetchPlan): GitCommand {
  const { repo } = plan;
  const config: [string, string][] = [
    ['protocol.allow', 'never'],
    [`protocol.${repo.kind}.allow`, 'always'],
    ['http.followRedirects', 'false'],
    ['credential.helper', ''],
    ['core.askPass', ''],
    ['core.hooksPath', '/dev/null'],
    ['fetch.recurseSubmodules', 'false'],
    ['submodule.recurse', 'false'],
    ['transfer.fsckObjects', 'true'],
    // Always keep the pack as one file: the size cap (a file size limit) then bounds the whole fetch.
    ['fetch.unpackLimit', '1'],
    ['transfer.unpackLimit', '1'],
    // A server that trickles is given up on, besides the overall timeout.
    ['http.lowSpeedLimit', '1000'],
    ['http.lowSpeedTime', '30'],
  ];
  if (repo.kind === 'https') {
    config.push(['http.curloptResolve', `${repo.host}:${repo.port}:${plan.addresses.map(bracketed).join(',')}`]);
    if (plan.caFile) config.push(['http.sslCAInfo', plan.caFile]);
  }
  const args = [
    ...config.flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    'fetch', '--quiet', '--no-tags', '--no-recurse-submodules', '--no-write-fetch-head', '--force', '--end-of-options',
    repo.url, `+refs/heads/${plan.branch}:${plan.targetRef}`,
  ];
  const env: Record<string, string> = {
    PATH: plan.path,
    HOME: plan.emptyHome,
    LANG: 'C',
    GIT_DIR: plan.gitDir,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: repo.kind,
    GIT_PROTOCOL_FROM_USER: '0',
  };
  if (plan.authorization) {
    // Config from the environment: only this process and root can read it, unlike its command line.
    Object.assign(env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: plan.authorization });
  }
  if (repo.kind === 'ssh') env.GIT_SSH_COMMAND = sshCommand(repo.host, plan.addresses[0]!, plan.keyFile ?? '/dev/null', plan.knownHostsFile ?? '/dev/null');
  return { args, env };
}

/** HTTP Basic with the token as password, as GitHub, GitLab and Gitea take access tokens over HTTPS. */
export function basicAuthorization(user: string, token: string): string {
  return `Authorization: Basic ${Buffer.from(`${user}:${token}`, 'utf8').toString('base64')}`;
}

/**
 * ssh with nothing of the machine's: no config file, no agent, only the deploy key, only the checked
 * address (HostName), the host key kept under the repository's host name (first one seen is trusted,
 * a changed one refused), no prompts, no proxies or forwarding. git runs it through a shell: all quoted.
 */
export function sshCommand(host: string, address: string, keyFile: string, knownHostsFile: string): string {
  const options = [
    'BatchMode=yes', 'IdentitiesOnly=yes', `IdentityFile=${keyFile}`, 'IdentityAgent=none',
    `UserKnownHostsFile=${knownHostsFile}`, 'GlobalKnownHostsFile=/dev/null', 'StrictHostKeyChecking=accept-new',
    `HostKeyAlias=${host}`, `HostName=${address}`, 'CheckHostIP=no', 'ConnectTimeout=15', 'ServerAliveInterval=15',
    'ServerAliveCountMax=2', 'ProxyCommand=none', 'ProxyJump=none', 'PermitLocalCommand=no', 'ClearAllForwardings=yes',
    'UpdateHostKeys=no',
  ];
  return ['ssh', '-F', '/dev/null', ...options.flatMap((o) => ['-o', o])].map(shellQuote).join(' ');
}

const bracketed = (address: string) => (address.includes(':') ? `[${address}]` : address);
const shellQuote = (s: string): string => (/^[A-Za-z0-9_./=:@-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);
