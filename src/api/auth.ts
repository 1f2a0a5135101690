// Bearer-token auth for every API route but health.
import type { MiddlewareHandler } from 'hono';
import type { AuthStore, User } from '../state/auth-store.ts';
import { BerthError } from '../shared/errors.ts';

export type ApiEnv = { Variables: { user: User } };

export function requireToken(auth: AuthStore): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new BerthError(401, 'unauthorized', 'Missing API token: send "Authorization: Bearer TOKEN" (berth login).');
    const user = auth.userForToken(match[1]);
    if (!user) throw new BerthError(401, 'unauthorized', 'Invalid API token.');
    c.set('user', user);
    await next();
  };
}
