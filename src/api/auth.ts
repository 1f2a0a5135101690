// Who is asking: a bearer token (CLI, scripts) or the web console's session cookie. Cookie requests
// that change state must echo the session's CSRF token in a header, which another site cannot read.
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AuthStore, User } from '../state/auth-store.ts';
import type { SessionsStore } from '../state/sessions-store.ts';
import { BerthError } from '../shared/errors.ts';

export const SESSION_COOKIE = 'berth_session';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export type ApiEnv = { Variables: { user: User; via: 'token' | 'session'; auditDetail?: string; auditApp?: string } };

export interface Caller { user: User; via: 'token' | 'session'; csrfOk: boolean }

/** The user behind a request, or undefined. `csrfOk` is false for a cookie request that changes state without the CSRF token. */
export function authenticate(c: Context, auth: AuthStore, sessions: SessionsStore): Caller | undefined {
  const header = c.req.header('authorization') ?? '';
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) {
    const user = auth.userForToken(bearer[1]);
    if (!user) throw new BerthError(401, 'unauthorized', 'Invalid API token.');
    return { user, via: 'token', csrfOk: true };
  }
  const sessionId = getCookie(c, SESSION_COOKIE);
  const session = sessionId ? sessions.find(sessionId) : undefined;
  if (!session) return undefined;
  const csrfOk = SAFE_METHODS.has(c.req.method) || c.req.header(CSRF_HEADER) === session.csrfToken;
  return { user: session.user, via: 'session', csrfOk };
}

export const csrfFailed = () => new BerthError(403, 'csrf_failed', `Missing or wrong ${CSRF_HEADER} header for a signed-in browser request.`);

export function requireUser(auth: AuthStore, sessions: SessionsStore): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const who = authenticate(c, auth, sessions);
    if (!who) {
      const hasHeader = c.req.header('authorization') !== undefined;
      throw new BerthError(401, 'unauthorized', hasHeader
        ? 'Malformed Authorization header: send "Authorization: Bearer TOKEN".'
        : 'Missing API token: send "Authorization: Bearer TOKEN" (berth login), or sign in to the web console.');
    }
    c.set('user', who.user);
    c.set('via', who.via);
    if (!who.csrfOk) throw csrfFailed(); // after setting the user, so the audit trail shows whose session it was
    await next();
  };
}

export function requireAdmin(c: Context<ApiEnv>): void {
  if (c.get('user').role !== 'admin') throw new BerthError(403, 'forbidden', 'Only admins can do this.');
}
