// Who is asking: a bearer token (CLI, scripts) or the web console's session cookie. Cookie requests
// that change state must echo the session's CSRF token in a header, which another site cannot read.
// The token's scope (src/api/scopes.ts) is enforced here, for every route at once.
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AuthStore, TokenCheck, User } from '../state/auth-store.ts';
import type { SessionsStore } from '../state/sessions-store.ts';
import type { AuditStore } from '../state/audit-store.ts';
import type { TokenScope } from '../wire/types.ts';
import { BerthError } from '../shared/errors.ts';
import { scopeAllows } from './scopes.ts';
import { clientAddress } from './audit.ts';

export const SESSION_COOKIE = 'berth_session';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** How the caller proved who they are, kept so a long-lived connection (the terminal) can ask again. */
export type Credential = { kind: 'token'; tokenId: number } | { kind: 'session'; id: string };

export type ApiEnv = {
  Variables: {
    user: User; via: 'token' | 'session'; scope: TokenScope; credential: Credential;
    requestId?: string; auditDetail?: string; auditApp?: string;
  };
};

export interface Caller { user: User; via: 'token' | 'session'; scope: TokenScope; credential: Credential; csrfOk: boolean }

/** The 401 for a token that opens nothing: `token_expired` or `unauthorized`, as the check said. */
export function tokenRefused(check: Extract<TokenCheck, { ok: false }>): BerthError {
  return check.reason === 'token_expired'
    ? new BerthError(401, 'token_expired', 'This API token has expired: create a new one (berth tokens:create) and log in again.')
    : new BerthError(401, 'unauthorized', 'Invalid API token (unknown or revoked).');
}

/** The user behind a request, or undefined. `csrfOk` is false for a cookie request that changes state without the CSRF token. */
export function authenticate(c: Context, auth: AuthStore, sessions: SessionsStore, audit?: AuditStore): Caller | undefined {
  const header = c.req.header('authorization') ?? '';
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) {
    const check = auth.checkToken(bearer[1]);
    if (!check.ok) {
      audit?.recordFailedAuth({ ip: clientAddress(c), reason: check.reason, channel: `${c.req.method} ${c.req.path}` });
      throw tokenRefused(check);
    }
    return { user: check.user, via: 'token', scope: check.scope, credential: { kind: 'token', tokenId: check.tokenId }, csrfOk: true };
  }
  const sessionId = getCookie(c, SESSION_COOKIE);
  const session = sessionId ? sessions.find(sessionId) : undefined;
  if (!session) return undefined;
  const csrfOk = SAFE_METHODS.has(c.req.method) || c.req.header(CSRF_HEADER) === session.csrfToken;
  return { user: session.user, via: 'session', scope: session.scope, credential: { kind: 'session', id: sessionId! }, csrfOk };
}

/** The same caller, asked again later: still valid (fresh user and role), or the 401 to end with. */
export function recheckCaller(credential: Credential, auth: AuthStore, sessions: SessionsStore): { user: User; scope: TokenScope } | BerthError {
  if (credential.kind === 'token') {
    const check = auth.checkTokenId(credential.tokenId);
    return check.ok ? { user: check.user, scope: check.scope } : tokenRefused(check);
  }
  const session = sessions.find(credential.id);
  return session ? { user: session.user, scope: session.scope } : new BerthError(401, 'unauthorized', 'The session ended (signed out, expired, or its token was revoked).');
}

export const csrfFailed = () => new BerthError(403, 'csrf_failed', `Missing or wrong ${CSRF_HEADER} header for a signed-in browser request.`);

/**
 * Whether a browser request comes from Berth's own pages: its Origin is the request's Host, or
 * BERTH_PUBLIC_URL's origin. null when there is no Origin header (not a browser's cross-site request).
 */
export function sameOrigin(c: Context, publicUrl: string | null): boolean | null {
  const origin = c.req.header('origin');
  if (origin === undefined) return null;
  let parsed: URL;
  try { parsed = new URL(origin); } catch { return false; }
  if (parsed.host === c.req.header('host')) return true;
  try { return publicUrl !== null && new URL(publicUrl).origin === parsed.origin; } catch { return false; }
}

export function requireUser(auth: AuthStore, sessions: SessionsStore, audit?: AuditStore): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const who = authenticate(c, auth, sessions, audit);
    if (!who) {
      const hasHeader = c.req.header('authorization') !== undefined;
      throw new BerthError(401, 'unauthorized', hasHeader
        ? 'Malformed Authorization header: send "Authorization: Bearer TOKEN".'
        : 'Missing API token: send "Authorization: Bearer TOKEN" (berth login), or sign in to the web console.');
    }
    c.set('user', who.user);
    c.set('via', who.via);
    c.set('scope', who.scope);
    c.set('credential', who.credential);
    if (!who.csrfOk) throw csrfFailed(); // after setting the user, so the audit trail shows whose session it was
    const route = c.req.path.replace(/^\/api\/v1/, '') || '/';
    if (!scopeAllows(who.scope, c.req.method, route)) {
      throw new BerthError(403, 'insufficient_scope', `This token's scope (${who.scope}) does not allow ${c.req.method} ${route}.`);
    }
    await next();
  };
}

/** Admin-only operations need an admin user and a token (or session) with the admin scope. */
export function requireAdmin(c: Context<ApiEnv>): void {
  if (c.get('user').role !== 'admin') throw new BerthError(403, 'forbidden', 'Only admins can do this.');
  if (c.get('scope') !== 'admin') throw new BerthError(403, 'insufficient_scope', 'Only admins can do this, with an admin-scoped token (berth tokens:create --scope admin).');
}
