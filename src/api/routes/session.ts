// /session: the web console signs in with an API token and gets an HttpOnly, SameSite=Strict cookie
// plus a CSRF token for its changes. Sign-in takes only JSON from Berth's own origin (no cross-site
// form can sign a browser in to an attacker's account). Sign out deletes the session server-side.
import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { ApiEnv } from '../auth.ts';
import { authenticate, csrfFailed, sameOrigin, SESSION_COOKIE, tokenRefused } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { clientAddress } from '../audit.ts';
import { isHttpsPublic } from '../origin.ts';
import { BerthError, badRequest } from '../../shared/errors.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'audit' | 'auth' | 'sessions' | 'view'>;

export function sessionRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.post('/', async (c) => {
    // A cross-site page can send a text/plain or form POST without asking first; JSON it cannot.
    const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') throw new BerthError(415, 'unsupported_media_type', 'Sign in with a JSON body: Content-Type: application/json.');
    if (sameOrigin(c, s.view.publicUrl) === false) throw new BerthError(403, 'cross_origin', 'Sign-in is accepted only from the Berth console itself.');
    const body = await jsonBody(c);
    if (typeof body.token !== 'string' || !body.token) throw badRequest('bad_request', 'Expected {"token": "berth_..."}.');
    const check = s.auth.checkToken(body.token.trim());
    if (!check.ok) {
      s.audit.recordFailedAuth({ ip: clientAddress(c), reason: check.reason, channel: 'console sign-in' });
      throw tokenRefused(check);
    }
    const user = check.user;
    const session = s.sessions.create(user.id, { id: check.tokenId, expiresAt: check.expiresAt });
    setCookie(c, SESSION_COOKIE, session.id, {
      httpOnly: true, sameSite: 'Strict', path: '/', expires: new Date(session.expiresAt),
      secure: isHttpsPublic(c, s.view.publicUrl),
    });
    s.audit.record({ actor: user.name, action: 'sign-in', ip: clientAddress(c), status: 200 });
    return c.json({ user: { name: user.name, role: user.role }, csrfToken: session.csrfToken });
  });

  api.get('/', (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    const session = id ? s.sessions.find(id) : undefined;
    if (!session) throw new BerthError(401, 'unauthorized', 'Not signed in.');
    return c.json({ user: { name: session.user.name, role: session.user.role }, csrfToken: session.csrfToken });
  });

  api.delete('/', (c) => {
    const who = authenticate(c, s.auth, s.sessions);
    if (who && !who.csrfOk) throw csrfFailed(); // another site must not be able to sign you out
    const id = getCookie(c, SESSION_COOKIE);
    if (id) s.sessions.delete(id);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    if (who) s.audit.record({ actor: who.user.name, action: 'sign-out', ip: clientAddress(c), status: 200 });
    return c.json({ signedOut: true });
  });
  return api;
}
