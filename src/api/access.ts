// Per-app access for every /apps/:app route: an app a user may not see answers exactly like a
// missing one, so names of other teams' apps do not leak.
import type { MiddlewareHandler } from 'hono';
import type { ApiEnv } from './auth.ts';
import type { AccessStore } from '../state/access-store.ts';
import { notFound } from '../shared/errors.ts';

export function requireAppAccess(access: AccessStore): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const app = c.req.param('app');
    if (app && !access.canSee(c.get('user'), app)) throw notFound(`App "${app}" not found.`);
    await next();
  };
}
