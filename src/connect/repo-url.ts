// Which repository URLs apps:connect accepts. The URL is a member's input that makes Berth run git and
// reach out over the network, so only three shapes pass: https://host/path, ssh://[user@]host[:port]/path
// and scp-like user@host:path. Never file://, ext::, plain http, local paths, anything git could read as
// an option, or credentials inside the URL (a token goes in separately and is stored sealed). Pure.
import net from 'node:net';
import { badRequest } from '../shared/errors.ts';

export type RepoUrl =
  | { kind: 'https'; url: string; host: string; port: number }
  | { kind: 'ssh'; url: string; user: string; host: string; port: number };

const MAX_URL = 1000;
/** Printable ASCII without spaces: no control characters, nothing a shell or git config could split on. */
const PRINTABLE = /^[\x21-\x7e]+$/;
const HOSTNAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)*$/i;
const SSH_USER = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;
/** user@host:path, git's scp-like syntax (no slash before the colon); host may be [IPv6]. */
const SCP_LIKE = /^([^@/:]+)@(\[[0-9a-fA-F:.]+\]|[^@/:[\]]+):(.+)$/;
const SHAPES = 'https://HOST/PATH, ssh://[USER@]HOST[:PORT]/PATH or USER@HOST:PATH';

/** The repository URL as Berth will use it, or a 400 that says why (without echoing a credential). */
export function parseRepoUrl(raw: unknown): RepoUrl {
  if (typeof raw !== 'string' || raw === '') throw invalid(`Expected "repo": a repository URL (${SHAPES}).`);
  if (raw.length > MAX_URL) throw invalid(`The repository URL is longer than ${MAX_URL} characters.`);
  if (!PRINTABLE.test(raw)) throw invalid('The repository URL holds spaces or control characters.');
  if (raw.startsWith('-')) throw invalid('The repository URL starts with "-" (git would read it as an option).');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === 'https') return parseHttps(raw);
  if (scheme === 'ssh') return parseSsh(raw);
  if (scheme !== undefined) throw invalid(`${scheme}:// repositories are not accepted: use ${SHAPES}.`);
  const scp = SCP_LIKE.exec(raw);
  if (scp) return parseScpLike(raw, scp[1]!, scp[2]!, scp[3]!);
  throw invalid(`Not a repository URL Berth fetches from (local paths, ext:: and transport helpers are refused): use ${SHAPES}.`);
}

function parseHttps(raw: string): RepoUrl {
  const url = parseUrl(raw);
  if (url.username || url.password) {
    throw invalid('The repository URL holds credentials: leave them out and give the access token with --token-from-stdin (it is stored encrypted).');
  }
  const host = checkedHost(url.hostname);
  if (url.search || url.hash) throw invalid('The repository URL has a query or fragment: use the plain clone URL.');
  if (url.pathname.length < 2) throw invalid('The repository URL has no path to a repository.');
  return { kind: 'https', url: url.href, host, port: Number(url.port) || 443 };
}

function parseSsh(raw: string): RepoUrl {
  const url = parseUrl(raw);
  if (url.password) throw invalid('The repository URL holds a password: SSH repositories use the deploy key Berth generates.');
  const user = url.username ? checkedUser(decodeURIComponent(url.username)) : 'git';
  const host = checkedHost(url.hostname);
  if (url.search || url.hash) throw invalid('The repository URL has a query or fragment: use the plain clone URL.');
  const path = url.pathname;
  if (path.length < 2 || path.startsWith('/-')) throw invalid('The repository URL has no usable path to a repository.');
  const port = Number(url.port) || 22;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return { kind: 'ssh', url: `ssh://${user}@${hostPart}${port === 22 ? '' : `:${port}`}${path}`, user, host, port };
}

function parseScpLike(raw: string, user: string, hostPart: string, path: string): RepoUrl {
  const host = checkedHost(hostPart);
  if (path.startsWith('-')) throw invalid('The repository path starts with "-" (ssh would read it as an option).');
  return { kind: 'ssh', url: raw, user: checkedUser(user), host, port: 22 };
}

function parseUrl(raw: string): URL {
  try { return new URL(raw); } catch { throw invalid(`The repository URL does not parse: use ${SHAPES}.`); }
}

/** A DNS name or an IP address (brackets stripped); nothing else reaches git or ssh as a host. */
function checkedHost(hostname: string): string {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(host)) return host;
  if (!HOSTNAME.test(host) || host.length > 253) throw invalid('The repository URL has no valid host name.');
  return host.toLowerCase();
}

function checkedUser(user: string): string {
  if (!SSH_USER.test(user)) throw invalid('The SSH user name in the repository URL is not a plain name (letters, digits, . _ -).');
  return user;
}

const BRANCH = /^[A-Za-z0-9._/-]{1,200}$/;

/** A branch name git accepts and nothing else: no option, no ref expression, no path tricks. */
export function parseBranch(raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') return 'main';
  const ok = typeof raw === 'string' && BRANCH.test(raw) && !raw.startsWith('-') && !raw.startsWith('/') && !raw.endsWith('/')
    && !raw.endsWith('.') && !raw.endsWith('.lock') && !raw.includes('..') && !raw.includes('//') && !raw.split('/').some((p) => p.startsWith('.'));
  if (!ok) throw invalid('"branch" must be a plain branch name (letters, digits, . _ - /), e.g. main.');
  return raw;
}

const invalid = (message: string) => badRequest('invalid_repo', message);
