// /audit: the trail, newest first. Admins see everything; members see their apps' events and their own.
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { badRequest } from '../../shared/errors.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'access' | 'apps' | 'audit'>;

const MAX_LIMIT = 1000;

export function auditRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  api.get('/', (c) => {
    const user = c.get('user');
    const limit = Number(c.req.query('limit') ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw badRequest('bad_request', `limit must be 1-${MAX_LIMIT}.`);
    const before = c.req.query('before') ? Number(c.req.query('before')) : undefined;
    const app = c.req.query('app') || undefined;
    if (app && !s.access.canSee(user, app)) return c.json([]);
    const visibleApps = user.role === 'admin' ? 'all' as const : s.apps.list().map((a) => a.name).filter((n) => s.access.canSee(user, n));
    const actor = c.req.query('user') || undefined;
    const rows = s.audit.list({ app, actor, limit, before, visibleApps, viewer: user.name });
    return c.json(rows);
  });
  return api;
}
