// What each token scope may do, decided here once for the API (src/api/auth.ts), git (src/git/receiver.ts)
// and the terminal (a GET under the API). docs/security.md explains the choices.
//   read:   GET only, minus secrets: config values, the terminal, tokens
//   deploy: read, plus pushing with git and deploy, rollback, scale/resize and restart
//   full:   everything the user may do, except admin-only operations
//   admin:  everything (only admins hold it; requireAdmin asks for it)
import type { TokenScope } from '../wire/types.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** Reads that reveal secrets or open a shell: not for read or deploy tokens. */
const SECRET_READS: RegExp[] = [
  /^\/apps\/[^/]+\/config\/?$/,
  /^\/apps\/[^/]+\/ps\/[^/]+\/terminal\/?$/,
  /^\/apps\/[^/]+\/run\/?$/, // `berth run`: a shell with the app's config
  /^\/apps\/[^/]+\/addons\/[^/]+(\/connect)?\/?$/, // addons:info (a URL with its password) and addons:connect
  /^\/tokens(\/|$)/,
];

/** The changes a deploy token exists for. */
const DEPLOY_ACTIONS: [method: string, path: RegExp][] = [
  ['POST', /^\/apps\/[^/]+\/deploys\/?$/],
  ['POST', /^\/apps\/[^/]+\/rollback\/?$/],
  ['PATCH', /^\/apps\/[^/]+\/formation\/?$/],
  ['POST', /^\/apps\/[^/]+\/ps\/restart\/?$/],
  ['POST', /^\/apps\/[^/]+\/canary\/(promote|abort)\/?$/],
];

/** `path` is the route under /api/v1, e.g. "/apps/shop/config". */
export function scopeAllows(scope: TokenScope, method: string, path: string): boolean {
  if (scope === 'full' || scope === 'admin') return true;
  if (SAFE_METHODS.has(method)) return !SECRET_READS.some((re) => re.test(path));
  return scope === 'deploy' && DEPLOY_ACTIONS.some(([m, re]) => m === method && re.test(path));
}

/** git: every scope may fetch an app's source it can see; pushing takes deploy or more. */
export function gitServiceAllowed(scope: TokenScope, service: string): boolean {
  return service !== 'git-receive-pack' || scope !== 'read';
}
