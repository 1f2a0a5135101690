// /apps/:app/access: the app's collaborators (Heroku's access, access:add, access:remove).
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { BerthError, badRequest, notFound } from '../../shared/errors.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'access' | 'apps' | 'auth' | 'reviewApps'>;

export function accessRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/:app/access', (c) => {
    const app = s.apps.get(c.req.param('app'));
    return c.json(s.access.members(app.id));
  });

  // A review app's access is its parent's, always: it has no collaborators of its own to change.
  api.on(['POST', 'DELETE'], ['/:app/access', '/:app/access/:user'], async (c, next) => {
    const parent = s.reviewApps?.describe(s.apps.get(c.req.param('app'))).reviewOf?.app;
    if (parent) throw new BerthError(422, 'review_app', `${c.req.param('app')} is a review app: its access is ${parent}'s (berth access ${parent}).`);
    await next();
  });

  api.post('/:app/access', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const body = await jsonBody(c);
    if (typeof body.user !== 'string') throw badRequest('bad_request', 'Expected {"user": "NAME"}.');
    const user = s.auth.findUser(body.user);
    if (!user) throw notFound(`User "${body.user}" not found.`);
    s.access.addMember(app.id, user.id);
    c.set('auditDetail', `added ${user.name}`);
    return c.json(s.access.members(app.id), 201);
  });

  api.delete('/:app/access/:user', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const name = c.req.param('user');
    const user = s.auth.findUser(name);
    if (!user || !s.access.removeMember(app.id, user.id)) throw notFound(`"${name}" is not a collaborator on ${app.name}.`);
    c.set('auditDetail', `removed ${name}`);
    return c.json(s.access.members(app.id));
  });
  return api;
}
