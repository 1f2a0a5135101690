// git's smart HTTP protocol for app repositories: `git push paas main` lands here. Mount `git` at
// /git; serve `hook` on the hook socket (serveHookSocket), never on the API's port. git only prints
// plain text bodies (and only for info/refs), so every refusal here is a short readable sentence, never JSON.
import crypto from 'node:crypto';
import { clientAddress } from '../api/origin.ts';
import { Hono, type Context } from 'hono';
import type { AuthStore, User } from '../state/auth-store.ts';
import type { AuditStore } from '../state/audit-store.ts';
import type { TokenScope } from '../wire/types.ts';
import { gitServiceAllowed } from '../api/scopes.ts';
import { runHttpBackend } from './cgi.ts';
import { createHookEndpoint } from './hook-endpoint.ts';
import { HOOK_ENV } from './protocol.ts';
import { refusedPushResponse } from './push-refusal.ts';
import { Repos, gitFreeEnv, isPlainRepoName } from './repos.ts';
import type { PushHandler } from './types.ts';

export interface GitRoutesOptions {
  reposDir: string;
  /** The program hooks run, followed by `git-hook`: `[berth]`, or `[node, <hook entry>]` (hookCommand(), src/executable/self.ts). */
  hookCommand: string[];
  /** The unix socket hooks reach the hook endpoint on (serveHookSocket), e.g. <data dir>/run/git-hook.sock. */
  hookSocket: string;
  auth: AuthStore;
  /** Where refused tokens are recorded (rate-limited per address). */
  audit?: Pick<AuditStore, 'recordFailedAuth'>;
  appExists(name: string): boolean;
  /** Which ref deletions the pipeline decides (review branches); every other deletion is refused. */
  mayDelete?(app: string, ref: string): boolean;
  /** Access to the app's repository: push, and fetch/clone too (the source is the app's). */
  canPush(user: User, app: string): boolean;
  onPush: PushHandler;
  /** Caps every request body (a push's pack); larger pushes are refused and nothing is stored. */
  maxPushBytes: number;
  log: (line: string) => void;
}

export interface GitRoutes {
  git: Hono;      // mount at /git
  hook: Hono;     // serve with serveHookSocket(hook, hookSocket)
  repos: Repos;   // pathFor(app), and remove(app) when an app is destroyed
}

type Service = 'git-upload-pack' | 'git-receive-pack';
const SERVICES: readonly string[] = ['git-upload-pack', 'git-receive-pack'];

export function createGitRoutes(opts: GitRoutesOptions): GitRoutes {
  const repos = new Repos({ reposDir: opts.reposDir, hookCommand: opts.hookCommand });
  // Per process: a hook started by another (or an older) server cannot call in.
  const hookToken = crypto.randomBytes(32).toString('base64url');
  const git = new Hono();

  const serve = async (c: Context, repoSegment: string, service: string | undefined, pathInfo: (app: string) => string) => {
    const access = checkAccess(c, repoSegment, opts);
    if (access instanceof Response) return access;
    if (!service || !SERVICES.includes(service)) {
      return c.text('Berth only speaks git\'s smart HTTP protocol: use git 1.6.6 or newer.\n', 400);
    }
    if (!gitServiceAllowed(access.scope, service)) {
      return c.text(`This token's scope (${access.scope}) cannot push: use a deploy, full or admin token.\n`, 403);
    }
    await repos.open(access.app);
    const outcome = await runHttpBackend({
      env: cgiEnv(c, repos.reposDir, pathInfo(access.app), access, hookToken, opts.hookSocket),
      body: c.req.method === 'POST' ? c.req.raw.body : null,
      maxBodyBytes: opts.maxPushBytes,
      signal: c.req.raw.signal,
      log: opts.log,
    });
    if (outcome.kind === 'response') return outcome.response;
    opts.log(`git ${service} ${access.app} by ${access.user.name}: refused, larger than ${opts.maxPushBytes} bytes`);
    return tooLarge(c, service as Service, outcome.bodyStart, opts.maxPushBytes);
  };

  git.get('/:repo/info/refs', (c) => serve(c, c.req.param('repo'), c.req.query('service'), (app) => `/${app}.git/info/refs`));
  git.post('/:repo/:service', (c) => {
    const service = c.req.param('service');
    return serve(c, c.req.param('repo'), service, (app) => `/${app}.git/${service}`);
  });
  git.notFound((c) => c.text('Not a Berth git URL: use the one `berth apps:info APP` shows.\n', 404));
  git.onError((err, c) => {
    opts.log(`git ${c.req.method} ${c.req.path} failed: ${err.stack ?? err}`);
    return c.text(`Berth could not serve this git request: ${err.message}\n`, 500);
  });

  const hook = createHookEndpoint({ token: hookToken, repos, appExists: opts.appExists, mayDelete: opts.mayDelete, onPush: opts.onPush, log: opts.log });
  return { git, hook, repos };
}

interface Access { app: string; user: User; scope: TokenScope }

/** Who is asking for which app: 401 (git asks for credentials again), 404, 403, or access. */
function checkAccess(c: Context, repoSegment: string, opts: GitRoutesOptions): Access | Response {
  const token = basicPassword(c.req.header('authorization'));
  const check = token ? opts.auth.checkToken(token) : undefined;
  if (!check?.ok) {
    if (check) opts.audit?.recordFailedAuth({ ip: remoteAddress(c) || null, reason: check.reason, channel: 'git' });
    c.header('WWW-Authenticate', 'Basic realm="Berth"');
    const why = !check ? 'Berth needs your API token as the password (any user name).'
      : check.reason === 'token_expired' ? 'Your Berth API token has expired (token_expired).' : 'Invalid Berth API token (unknown or revoked).';
    return c.text(`${why} Log in again with: berth login\n`, 401);
  }
  const { user, scope } = check;
  const app = repoSegment.endsWith('.git') ? repoSegment.slice(0, -'.git'.length) : repoSegment;
  // A name that is not even plain is not echoed back: it is not an app, whatever it is.
  if (!isPlainRepoName(app)) return c.text('No such app: Berth git URLs look like /git/APP.git.\n', 404);
  if (!opts.appExists(app)) return c.text(`App "${app}" not found. Create it with: berth apps:create ${app}\n`, 404);
  if (!opts.canPush(user, app)) return c.text(`You (${user.name}) do not have access to app "${app}".\n`, 403);
  return { app, user, scope };
}

function basicPassword(header: string | undefined): string | null {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : null;
}

function cgiEnv(c: Context, reposDir: string, pathInfo: string, access: Access, hookToken: string, hookSocket: string): Record<string, string> {
  const optional = (name: string, value: string | undefined) => (value ? { [name]: value } : {});
  return {
    ...gitFreeEnv(),
    GIT_PROJECT_ROOT: reposDir,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: pathInfo,
    REQUEST_METHOD: c.req.method,
    QUERY_STRING: new URL(c.req.url).search.slice(1),
    ...optional('CONTENT_TYPE', c.req.header('content-type')),
    ...optional('CONTENT_LENGTH', c.req.header('content-length')),
    ...optional('HTTP_CONTENT_ENCODING', c.req.header('content-encoding')),   // git gzips large fetch requests
    ...optional('HTTP_GIT_PROTOCOL', c.req.header('git-protocol')),           // protocol v2 for fetch/clone
    REMOTE_USER: access.user.name,
    REMOTE_ADDR: remoteAddress(c),
    [HOOK_ENV.socket]: hookSocket,
    [HOOK_ENV.token]: hookToken,
    [HOOK_ENV.app]: access.app,
    [HOOK_ENV.user]: access.user.name,
  };
}

/** The pusher's address, behind Caddy too. */
function remoteAddress(c: Context): string {
  return clientAddress(c) ?? '';
}

/** A push gets its refusal in git's protocol (git prints it); anything else a plain 413. */
function tooLarge(c: Context, service: Service, bodyStart: Buffer, max: number): Response {
  const limit = `larger than the ${formatBytes(max)} this Berth server accepts`;
  if (service === 'git-upload-pack') return c.text(`This fetch request is ${limit}.\n`, 413);
  const message = `Push refused: it is ${limit}.`;
  const hint = 'Remove large files from the pushed history, or ask your Berth admin to raise the limit.';
  return refusedPushResponse(bodyStart, [message, hint], 'push too large') ?? c.text(`${message}\n`, 413);
}

const formatBytes = (n: number): string => (n >= 1024 * 1024 ? `${+(n / 1024 / 1024).toFixed(1)} MiB` : `${+(n / 1024).toFixed(1)} KiB`);
