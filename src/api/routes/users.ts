// /users (admins): the team. Creating a user hands out their first token, once.
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import { requireAdmin } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { checkOutlives } from './tokens.ts';
import { checkUserName } from '../../shared/validation.ts';
import { badRequest, conflict, notFound } from '../../shared/errors.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'auth' | 'sessions'>;

export function usersRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/me', (c) => {
    const user = c.get('user');
    return c.json({ name: user.name, role: user.role });
  });

  api.get('/', (c) => {
    requireAdmin(c);
    return c.json(s.auth.users().map((u) => ({ name: u.name, role: u.role, createdAt: u.createdAt })));
  });

  api.post('/', async (c) => {
    requireAdmin(c);
    const body = await jsonBody(c);
    const name = checkUserName(body.name);
    const role = body.role ?? 'member';
    if (role !== 'admin' && role !== 'member') throw badRequest('invalid_role', 'role must be "admin" or "member".');
    if (s.auth.findUser(name)) throw conflict(`User "${name}" already exists.`);
    const user = s.auth.createUser(name, role);
    const token = s.auth.issueToken(user.id, 'created by ' + c.get('user').name);
    c.set('auditDetail', `user ${name} (${role})`);
    return c.json({ name: user.name, role: user.role, token }, 201);
  });

  api.post('/:name/tokens', (c) => {
    const name = c.req.param('name');
    if (c.get('user').name !== name) requireAdmin(c);
    else checkOutlives(c, s, null); // a never-expiring token for yourself, from an expiring one: no
    const user = s.auth.findUser(name);
    if (!user) throw notFound(`User "${name}" not found.`);
    c.set('auditDetail', `new token for ${name}`);
    return c.json({ name, token: s.auth.issueToken(user.id, 'issued by ' + c.get('user').name) }, 201);
  });

  api.delete('/:name', (c) => {
    requireAdmin(c);
    const name = c.req.param('name');
    const user = s.auth.findUser(name);
    if (!user) throw notFound(`User "${name}" not found.`);
    if (user.id === c.get('user').id) throw badRequest('bad_request', 'You cannot remove yourself.');
    s.auth.deleteUser(user.id);
    c.set('auditDetail', `user ${name}`);
    return c.json({ deleted: name });
  });
  return api;
}
